"""Run a study: clips, encoders, MAE pretraining, frozen probes, report and plots.

Every finished stage (pretraining of a size, a probe of init x size x task) is saved in the
output folder and skipped when the study is run again, so an interrupted run resumes
where it stopped. Pretraining itself also resumes from its newest checkpoint.
"""
from __future__ import annotations

import os
import platform
import time

import keras
import numpy as np
from tqdm.auto import tqdm

from keras4ds.models import count_parameters
from keras4ds.study import clips as clip_sets
from keras4ds.study import encoders, plots
from keras4ds.study.report import render_markdown, summarise
from keras4ds.study.store import StudyFolder, read_json, write_json, write_npz

INITS = ("random", "mae")


def size_parameters(budget, size) -> int:
    """Encoder parameter count of `size` at the study's input shape."""
    return count_parameters(**size.encoder_kwargs(), num_frames=budget.num_frames,
                            image_size=(budget.image_size, budget.image_size),
                            patch_size=budget.patch_size)


def _check_budget(folder: StudyFolder, budget) -> None:
    """Refuse to mix results of different budgets in one folder."""
    path = folder.budget()
    if os.path.exists(path):
        saved = read_json(path)
        if saved != budget.to_json() and saved != _jsonable(budget.to_json()):
            raise ValueError(f"{folder.root} holds a study with another budget "
                             f"({path}); use a new --out folder or the same settings")
    else:
        write_json(path, budget.to_json())


def _jsonable(data):
    import json
    return json.loads(json.dumps(data))


def _pretrain_stage(folder, budget, size, index, videos, progress) -> dict:
    """MAE-pretrain one size from its random init; save the encoder and the loss."""
    result_path = folder.pretrain_result(size.name)
    if os.path.exists(result_path):
        progress["skipped"] += 1
        return read_json(result_path)
    from keras4ds.mae import pretrain

    encoder = encoders.initial_encoder(folder, budget, size, index)
    start = time.time()
    history = pretrain(encoder, videos, steps=budget.pretrain_steps,
                       batch_size=budget.pretrain_batch,
                       learning_rate=budget.pretrain_learning_rate,
                       mask_ratio=budget.mask_ratio, seed=budget.seed + index,
                       checkpoint_dir=folder.pretrain_checkpoints(size.name), resume=True)
    losses = [float(v) for v in np.asarray(history, np.float64).reshape(-1)]
    if not losses or not np.all(np.isfinite(losses)):
        raise FloatingPointError(f"MAE pretraining of {size.name} gave a non-finite or empty "
                                 f"loss history: {losses[-5:]}")
    from keras4ds.checkpoints import save_preset
    save_preset(encoder, folder.encoder("mae", size.name))
    head = max(1, len(losses) // 20)
    first, last = float(np.mean(losses[:head])), float(np.mean(losses[-head:]))
    result = {"loss": losses, "first_loss": first, "last_loss": last,
              "loss_drop": (first - last) / first if first > 0 else None,
              "seconds": time.time() - start}
    write_json(result_path, result)
    progress["run"] += 1
    return result


def _probe_stage(folder, budget, init, size, task, train, evaluation, progress) -> dict:
    """Train and evaluate one frozen readout; save its metrics and a few predictions."""
    result_path = folder.probe_result(init, size.name, task)
    if os.path.exists(result_path):
        progress["skipped"] += 1
        return read_json(result_path)
    from keras4ds.readouts import train_probe

    encoder = encoders.load_encoder(folder, init, size)
    start = time.time()
    out = train_probe(task, encoder, train, evaluation, steps=budget.probe_steps,
                      batch_size=budget.probe_batch, learning_rate=budget.probe_learning_rate,
                      frozen=True, seed=budget.seed)
    result = {"metrics": dict(out["metrics"]), "trivial": dict(out["baseline"]),
              "loss": [float(v) for v in np.asarray(out["loss_history"]).reshape(-1)],
              "seconds": time.time() - start}
    if out.get("predictions") is not None:
        write_npz(folder.probe_examples(init, size.name, task),
                  {k: np.asarray(v)[:4] for k, v in out["predictions"].items()})
    write_json(result_path, result)
    progress["run"] += 1
    return result


def run_study(out_dir: str, budget, budget_name: str = "custom") -> dict:
    """Run (or resume) the study in `out_dir`; return the results written to
    `results.json` next to `report.md` and the PNG plots."""
    start = time.time()
    folder = StudyFolder(out_dir)
    os.makedirs(folder.root, exist_ok=True)
    _check_budget(folder, budget)
    progress = {"run": 0, "skipped": 0}

    pretrain_clips = clip_sets.load_or_generate(folder.clips("pretrain"), "pretrain",
                                                budget.pretrain_clips, budget)
    train = clip_sets.load_or_generate(folder.clips("probe_train"), "probe_train",
                                       budget.probe_train_clips, budget)
    evaluation = clip_sets.load_or_generate(folder.clips("eval"), "eval",
                                            budget.eval_clips, budget)

    num_stages = len(budget.sizes) * (1 + len(INITS) * len(budget.tasks))
    bar = tqdm(total=num_stages, desc="study stages", unit="stage")
    pretrain_results, probes = {}, {task: {} for task in budget.tasks}
    for index, size in enumerate(budget.sizes):
        bar.set_postfix_str(f"pretrain {size.name}")
        pretrain_results[size.name] = _pretrain_stage(folder, budget, size, index,
                                                      pretrain_clips["video"], progress)
        bar.update()
        for task in budget.tasks:
            for init in INITS:
                bar.set_postfix_str(f"probe {task} on {init} {size.name}")
                entry = probes[task].setdefault(size.name, {})
                entry[init] = _probe_stage(folder, budget, init, size, task, train,
                                           evaluation, progress)
                bar.update()
    bar.close()

    results = {
        "budget_name": budget_name,
        "budget": _jsonable(budget.to_json()),
        "backend": keras.backend.backend(),
        "machine": f"{platform.machine()} with {os.cpu_count()} CPU cores visible",
        "sizes": [{"name": s.name, **s.encoder_kwargs(),
                   "parameters": size_parameters(budget, s)} for s in budget.sizes],
        "pretrain": pretrain_results,
        "probes": probes,
        "timing": {"total_seconds": time.time() - start, "stages_run": progress["run"],
                   "stages_skipped": progress["skipped"]},
    }
    summarise(results)
    plots.write_all(folder, results, evaluation)
    results["timing"]["total_seconds"] = time.time() - start
    write_json(folder.path("results.json"), results)
    staged = folder.path(f"report.md.tmp-{os.getpid()}")
    with open(staged, "w") as f:
        f.write(render_markdown(results))
    os.replace(staged, folder.path("report.md"))
    return results
