"""Run a study: clips, encoders, MAE pretraining, frozen probes, report and plots.

Every finished stage (pretraining of a size, a probe of init x size x task) is saved in the
output folder and skipped when the study is run again, so an interrupted run resumes
where it stopped. Pretraining itself also resumes from its newest checkpoint.
"""
from __future__ import annotations

import os
import platform
import shutil
import time

import keras
import numpy as np
from tqdm.auto import tqdm

from keras4ds.models import count_parameters
from keras4ds.models.step_losses import StepLosses
from keras4ds.readouts.batches import clip_count
from keras4ds.utils import write_text
from keras4ds_apps.distribute import fresh_keras_session
from keras4ds_apps.study import clips as clip_sets
from keras4ds_apps.study import encoders, examples, feature_probes, plots
from keras4ds_apps.study.report import render_markdown, summarise
from keras4ds_apps.study.store import StudyFolder, read_json, write_json, write_npz

INITS = ("random", "mae")


def size_parameters(budget, size) -> int:
    """Encoder parameter count of `size` at the study's input shape."""
    return count_parameters(**size.encoder_kwargs(), num_frames=budget.num_frames,
                            image_size=(budget.image_size, budget.image_size),
                            patch_size=budget.patch_size)


def _check_budget(folder: StudyFolder, budget, data) -> None:
    """Refuse to mix results of different budgets, or of different or changed real data
    (its sources' file fingerprints are saved with the budget), in one folder."""
    path = folder.budget()
    expected = {**budget.to_json(), "data": data.fingerprint()} if data else budget.to_json()
    if os.path.exists(path):
        saved = read_json(path)
        if saved != expected and saved != _jsonable(expected):
            raise ValueError(f"{folder.root} holds a study with another budget or other data "
                             f"({path}); use a new --out folder or the same settings and "
                             f"unchanged data")
    else:
        write_json(path, expected)


def _jsonable(data):
    import json
    return json.loads(json.dumps(data))


class VideoBatches:
    """Endless deterministic 1-tuples `(video (B, T, H, W, 3),)` of `videos` (new permutation
    per epoch); batch k is always the same, so resumed pretraining replays the same data.
    Each iteration starts again from batch 0, so a tf.distribute strategy (which reads the
    data once before training) and the run itself see the same batches."""

    def __init__(self, videos, batch_size: int, seed: int):
        if len(videos) // batch_size < 1:
            raise ValueError(f"need at least batch_size={batch_size} pretraining clips, "
                             f"got {len(videos)}")
        self.videos, self.batch_size, self.seed = videos, batch_size, seed

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        per_epoch = len(self.videos) // self.batch_size
        while True:
            order = rng.permutation(len(self.videos))
            for k in range(per_epoch):
                yield (self.videos[np.sort(order[k * self.batch_size:(k + 1) * self.batch_size])],)


def _pretrain_stage(folder, budget, size, index, videos, heldout_videos, progress) -> dict:
    """MAE-pretrain one size from its random init; save the encoder, the training loss and
    the held-out loss on `heldout_videos` (the evaluation scenes, fixed masks)."""
    result_path = folder.pretrain_result(size.name)
    if os.path.exists(result_path):
        progress["skipped"] += 1
        return read_json(result_path)
    from keras4ds.checkpoints import save_preset
    from keras4ds.mae import MaskedAutoencoder, heldout_loss, pretrain

    # Fresh Keras names (the optimizer's variable paths, e.g. "adam_w/iteration", are
    # checked on restore and must not depend on what ran earlier in this process).
    fresh_keras_session()
    encoder = encoders.initial_encoder(folder, budget, size, index)
    start = time.time()
    checkpoints = folder.pretrain_checkpoints(size.name)
    every = max(1, budget.pretrain_steps // 4)
    recorder = _LossRecorder(folder.path("pretrain", f"{size.name}_partial_loss.json"),
                             _resume_step(checkpoints), budget.pretrain_steps, every,
                             f"MAE {size.name}")
    mae = MaskedAutoencoder(encoder, decoder=budget.decoder, mask_ratio=budget.mask_ratio,
                            seed=budget.seed + index, decoder_width=budget.decoder_width,
                            decoder_depth=budget.decoder_depth, decoder_heads=budget.decoder_heads,
                            norm_pix_loss=budget.mae_targets == "normalized")
    pretrain(
        encoder, VideoBatches(videos, budget.pretrain_batch, budget.seed + index),
        budget.pretrain_steps, mae=mae, learning_rate=budget.pretrain_learning_rate,
        checkpoint_dir=checkpoints, checkpoint_every=every, resume=True,
        data_settings={"clips": len(videos), "order_seed": budget.seed + index,
                       "scene_options": budget.scene_options},
        callbacks=[recorder], verbose=0)
    losses = recorder.history()
    heldout, mean_baseline = heldout_loss(mae, heldout_videos)
    save_preset(encoder, folder.encoder("mae", size.name))
    head = max(1, len(losses) // 20)
    first, last = float(np.mean(losses[:head])), float(np.mean(losses[-head:]))
    result = {"loss": losses, "first_loss": first, "last_loss": last,
              "loss_drop": (first - last) / first if first > 0 else None,
              "heldout_loss": heldout, "heldout_mean_baseline": mean_baseline,
              "seconds": time.time() - start}
    write_json(result_path, result)
    progress["run"] += 1
    return result


class _LossRecorder(StepLosses):
    """Keeps every step's loss in `path` (JSON, step -> loss), rewritten every `every`
    steps, so the loss curve survives an interruption of pretraining."""

    def __init__(self, path: str, start_step: int, steps: int, every: int, desc: str):
        super().__init__(start_step)
        self.path, self.every = path, every
        self.bar = tqdm(total=steps, initial=start_step, desc=desc, unit="step", leave=False)
        earlier = read_json(path) if os.path.exists(path) else {}
        # Steps after the checkpoint that resumes are replayed, so they are dropped.
        self.by_step = {k: v for k, v in earlier.items() if int(k) <= start_step}

    def on_step(self, step, loss):
        self.by_step[str(step)] = loss
        self.bar.update()
        self.bar.set_postfix_str(f"loss {loss:.3f}")
        if (step - self.start_step) % self.every == 0:
            write_json(self.path, self.by_step)

    def on_train_end(self, logs=None):
        self.bar.close()

    def history(self) -> list[float]:
        losses = [self.by_step[k] for k in sorted(self.by_step, key=int)]
        if not losses or not np.all(np.isfinite(losses)):
            raise FloatingPointError(f"MAE pretraining gave a non-finite or empty loss "
                                     f"history (last: {losses[-5:]})")
        return [float(v) for v in losses]


def _resume_step(checkpoint_dir: str) -> int:
    """Newest complete pretraining checkpoint step in `checkpoint_dir`, or 0."""
    if not os.path.isdir(checkpoint_dir):
        return 0
    from keras4ds.mae.checkpoint import TrainingCheckpointer

    checkpointer = TrainingCheckpointer(checkpoint_dir)
    step = checkpointer.latest_step()
    checkpointer.close()
    return step or 0


def _probe_stage(folder, budget, init, size, task, train, evaluation, progress,
                 feature_cache=None) -> dict:
    """Train and evaluate one readout (frozen, or fine-tuned with the budget's
    `fine_tune`); save its metrics with their bootstrap spreads and, for the largest
    pretrained encoder, its predictions on two held-out clips (for the example figures)."""
    result_path = folder.probe_result(init, size.name, task)
    if os.path.exists(result_path):
        progress["skipped"] += 1
        return read_json(result_path)
    from keras4ds.readouts import train_probe

    fresh_keras_session()
    encoder = encoders.load_encoder(folder, init, size)
    keep_examples = init == "mae" and size == budget.sizes[-1] and task in examples.FIGURES
    start = time.time()
    out = train_probe(task, encoder, train, evaluation, **budget.probe_training(task),
                      frozen=not budget.fine_tune, seed=budget.seed,
                      encoder_learning_rate=budget.encoder_learning_rate,
                      num_params=budget.probe_width,
                      readout_index=budget.readout_index(size.depth),
                      probe_kwargs=budget.probe_kwargs(task),
                      return_probe=keep_examples, bootstrap=budget.bootstrap,
                      feature_cache=feature_cache)
    if keep_examples:
        write_npz(folder.probe_examples(init, size.name, task),
                  examples.example_arrays(task, out["eval_inputs"], out["eval_targets"],
                                          out["predictions"]))
    result = {"metrics": out["metrics"], "trivial": out["baseline"], "spread": out["spread"],
              "trivial_spread": out["baseline_spread"],
              "hand_made_paths": out["hand_made_paths"], "frozen": out["frozen"],
              "loss": out["loss_history"], "loss_steps": out["loss_steps"],
              "seconds": time.time() - start}
    write_json(result_path, result)
    progress["run"] += 1
    return result


# Probe-training scenes the closed-form feature probes fit on (the first of the set).
FEATURE_PROBE_CLIPS = 64


def _feature_probe_stage(folder, budget, init, size, train, evaluation, feature_cache) -> dict:
    """Closed-form feature probes (`feature_probes`) of one encoder's readout features:
    `{target: held-out R^2, "matching": correspondence accuracy}`, saved and reused. With
    `feature_cache` the features of all the probe-training and eval clips go there, for
    the probes to read back."""
    path = folder.path("feature_probes", f"{init}_{size.name}.json")
    if os.path.exists(path):
        return read_json(path)
    from keras4ds.readouts import cache_features, compute_features

    fresh_keras_session()
    encoder = encoders.load_encoder(folder, init, size)
    index = budget.readout_index(size.depth)
    fit = {k: v[:FEATURE_PROBE_CLIPS] for k, v in train.items()}
    if feature_cache is None:
        features = [compute_features(encoder, clips["video"], index) for clips in (fit, evaluation)]
    else:
        features = [cache_features(feature_cache, encoder, train["video"], index)[:FEATURE_PROBE_CLIPS],
                    cache_features(feature_cache, encoder, evaluation["video"], index)]
    targets = [feature_probes.token_targets(clips, encoder.grid, encoder.patch_size)
               for clips in (fit, evaluation)]
    result = feature_probes.feature_probe_r2(features[0], targets[0], features[1], targets[1])
    result["matching"] = feature_probes.correspondence_accuracy(features[1], evaluation,
                                                                encoder.grid, encoder.patch_size)
    write_json(path, result)
    return result


def _probe_clip_sets(folder, budget, data) -> tuple[dict, dict]:
    """Per task, the probe-training and evaluation clip lists: real where `data` names a
    source, else the procedural sets (made only when a task needs them)."""
    train, evaluation = {}, {}
    for task in budget.tasks:
        if task in data.probe:
            train[task] = clip_sets.load_or_read(
                folder.clips(f"probe_train_{task}"), task, data.probe[task],
                budget.probe_train_clips, budget)
            evaluation[task] = clip_sets.load_or_read(
                folder.clips(f"eval_{task}"), task, data.evaluation[task], budget.eval_clips,
                budget)
        elif task == "classify":
            train[task] = clip_sets.load_or_generate(
                folder.clips("probe_train_classify"), "probe_train", budget.probe_train_clips,
                budget, motion_labels=True)
            evaluation[task] = clip_sets.load_or_generate(
                folder.clips("eval_classify"), "eval", budget.eval_clips, budget,
                motion_labels=True)
        else:
            if "procedural" not in train:
                train["procedural"] = clip_sets.load_or_generate(
                    folder.clips("probe_train"), "probe_train", budget.probe_train_clips, budget)
                evaluation["procedural"] = clip_sets.load_or_generate(
                    folder.clips("eval"), "eval", budget.eval_clips, budget)
            train[task], evaluation[task] = train["procedural"], evaluation["procedural"]
    return train, evaluation


def _data_summary(data, pretrain_videos, train, evaluation) -> dict:
    """What real data the study read: sources and clip counts (for results and report)."""
    return {"pretrain": data.pretrain and {"source": os.path.abspath(data.pretrain),
                                           "clips": len(pretrain_videos)},
            "probes": {task: {"train": spec, "train_clips": clip_count(train[task]),
                              "eval": data.evaluation[task],
                              "eval_clips": clip_count(evaluation[task])}
                       for task, spec in data.probe.items()}}


def distribution_label() -> str:
    """How this process distributes the study: a Keras distribution (JAX), a tf.distribute
    strategy, or "none"."""
    current = keras.distribution.distribution()
    if current is not None:
        mesh = current.device_mesh
        return (f"{type(current).__name__} on a {'x'.join(map(str, mesh.shape))} mesh "
                f"({', '.join(mesh.axis_names)})")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        if tf.distribute.has_strategy():
            strategy = tf.distribute.get_strategy()
            return f"{type(strategy).__name__} over {strategy.num_replicas_in_sync} replicas"
    return "none"


def run_study(out_dir: str, budget, budget_name: str = "custom", data=None) -> dict:
    """Run (or resume) the study in `out_dir`, on procedural scenes or on the real data of
    `data` (a `clips.StudyData`); return the results written to `results.json` next to
    `report.md` and the PNG plots."""
    start = time.time()
    data = data or clip_sets.StudyData()
    unknown = sorted(set(data.probe) - set(budget.tasks))
    if unknown:
        raise ValueError(f"probe data for {unknown}, tasks the study does not run "
                         f"({list(budget.tasks)})")
    folder = StudyFolder(out_dir)
    os.makedirs(folder.root, exist_ok=True)
    _check_budget(folder, budget, data)
    progress = {"run": 0, "skipped": 0}

    if data.pretrain:
        pretrain_videos = clip_sets.load_or_decode(folder.clips("pretrain"), data.pretrain,
                                                   budget.pretrain_clips, budget)
    else:
        pretrain_videos = clip_sets.load_or_generate(folder.clips("pretrain"), "pretrain",
                                                     budget.pretrain_clips, budget,
                                                     keys=("video",))["video"]
    train, evaluation = _probe_clip_sets(folder, budget, data)
    heldout_videos = clip_sets.load_or_generate(folder.clips("eval"), "eval", budget.eval_clips,
                                                budget)["video"]

    num_stages = len(budget.sizes) * (1 + len(INITS) * len(budget.tasks))
    bar = tqdm(total=num_stages, desc="study stages", unit="stage")
    pretrain_results, probes = {}, {task: {} for task in budget.tasks}
    feature_probe_results = {}
    for index, size in enumerate(budget.sizes):
        bar.set_postfix_str(f"pretrain {size.name}")
        pretrain_results[size.name] = _pretrain_stage(folder, budget, size, index,
                                                      pretrain_videos, heldout_videos, progress)
        bar.update()
        for init in INITS:
            # Frozen features computed once per encoder for all its tasks, then dropped.
            cache = None if budget.fine_tune else folder.path("features", f"{init}_{size.name}")
            if "procedural" in train:
                feature_probe_results.setdefault(size.name, {})[init] = _feature_probe_stage(
                    folder, budget, init, size, train["procedural"],
                    evaluation["procedural"], cache)
            for task in budget.tasks:
                bar.set_postfix_str(f"probe {task} on {init} {size.name}")
                entry = probes[task].setdefault(size.name, {})
                entry[init] = _probe_stage(folder, budget, init, size, task, train[task],
                                           evaluation[task], progress, cache)
                bar.update()
            if cache:
                shutil.rmtree(cache, ignore_errors=True)
    bar.close()

    results = {
        "budget_name": budget_name,
        "budget": _jsonable(budget.to_json()),
        "backend": keras.backend.backend(),
        "distribution": distribution_label(),
        "machine": f"{platform.machine()} with {os.cpu_count()} CPU cores visible",
        "sizes": [{"name": s.name, **s.encoder_kwargs(),
                   "parameters": size_parameters(budget, s)} for s in budget.sizes],
        "pretrain": pretrain_results,
        "probes": probes,
        "feature_probes": feature_probe_results,
        "timing": {"total_seconds": time.time() - start, "stages_run": progress["run"],
                   "stages_skipped": progress["skipped"],
                   "stage_seconds": sum(p["seconds"] for p in pretrain_results.values()) + sum(
                       e["seconds"] for task in probes.values() for size in task.values()
                       for e in size.values()),
                   "load_average": os.getloadavg()[0]},
    }
    if data:
        results["data"] = _data_summary(data, pretrain_videos, train, evaluation)
    summarise(results)
    plots.write_all(folder, results)
    results["timing"]["total_seconds"] = time.time() - start
    runs_path = folder.path("runs.json")
    runs = read_json(runs_path) if os.path.exists(runs_path) else []
    runs.append({"seconds": results["timing"]["total_seconds"], "stages_run": progress["run"],
                 "load_average": results["timing"]["load_average"]})
    write_json(runs_path, runs)
    results["runs"] = runs
    write_json(folder.path("results.json"), results)
    write_text(folder.path("report.md"), render_markdown(results))
    return results
