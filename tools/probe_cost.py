"""What a study probe costs: features once per encoder, then train steps per task head.

    KERAS_BACKEND=jax python tools/probe_cost.py --out benchmarks/probe_cost.md

For the largest encoder of a study budget (default: `default`'s w128:128:4:4 on 16 x 64 x 64
scenes, random init: the cost does not depend on the weights), each task's study head is
trained by `keras4ds.readouts.train_probe` exactly as the study trains it (its
`probe_kwargs`, width, batch and learning rate), frozen and fine-tuned. The frozen path
computes the encoder features of the train and eval clips once (`features s/clip`), then
trains the head on them (`frozen steps/s`); fine-tuning runs the encoder in every step
(`fine-tuned steps/s`). A step's time is the median over one fit's steps after the first
(which compiles); `study frozen train s` is the study's steps at that rate.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from keras4ds.utils import write_text  # noqa: E402


def measure(budget, size, task, clips, steps, frozen):
    """Seconds of features per clip and the median seconds of a train step after the first
    (`train_probe`'s "step_seconds", timed inside one fit) of one probe."""
    import keras

    from keras4ds.readouts import train_probe
    from keras4ds.readouts.features import compute_features
    from keras4ds_apps.study.encoders import build_encoder
    keras.backend.clear_session()
    encoder = build_encoder(budget, size, 0)
    kwargs = dict(**budget.probe_training(task), frozen=frozen, seed=0,
                  num_params=budget.probe_width, readout_index=budget.readout_index(size.depth),
                  probe_kwargs=budget.probe_kwargs(task),
                  encoder_learning_rate=budget.encoder_learning_rate)
    kwargs["batch_size"] = min(kwargs["batch_size"], len(clips["video"]))
    index = budget.readout_index(size.depth)
    compute_features(encoder, clips["video"][:kwargs["batch_size"]], index)  # compile once
    start = time.perf_counter()
    compute_features(encoder, clips["video"], index)
    features = (time.perf_counter() - start) / len(clips["video"])
    trained = train_probe(task, encoder, clips, clips, **{**kwargs, "steps": steps + 1})
    return {"features_s_per_clip": features, "step_s": trained["step_seconds"],
            "batch": kwargs["batch_size"], "steps": budget.probe_training(task)["steps"]}


def markdown(rows, budget_name, size, command, load):
    import keras
    lines = ["# Probe cost", "", "```bash", command, "```", "",
             f"Backend {keras.backend.backend()}; budget `{budget_name}`, encoder {size.name} "
             f"({size.width} wide, {size.depth} blocks), one process on this machine; load average (1 min) "
             f"{load[0]:.2f} at the start and {load[1]:.2f} at the end.", "",
             "| task | features s/clip | frozen steps/s | fine-tuned steps/s | fine-tuned / "
             "frozen step | study steps | study frozen train s | batch |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for task, r in rows.items():
        frozen, tuned = r["frozen"], r["fine_tuned"]
        lines.append(f"| {task} | {frozen['features_s_per_clip']:.4f} | "
                     f"{1 / frozen['step_s']:.1f} | {1 / tuned['step_s']:.1f} | "
                     f"{tuned['step_s'] / frozen['step_s']:.1f}x | {frozen['steps']} | "
                     f"{frozen['steps'] * frozen['step_s']:.1f} | {frozen['batch']} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    from keras4ds_apps.study.budgets import BUDGETS, TASKS
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", default="default", choices=sorted(BUDGETS))
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--clips", type=int, default=32, help="train (and eval) scenes")
    p.add_argument("--steps", type=int, default=20, help="timed train steps per probe")
    p.add_argument("--out", help="write the markdown table here")
    args = p.parse_args(argv)
    if args.clips < 2 or args.steps < 1:
        p.error("--clips must be >= 2 and --steps >= 1")
    from tqdm import tqdm

    from keras4ds_apps.study.clips import generate_clips
    budget = BUDGETS[args.budget]
    size, load = budget.sizes[-1], [os.getloadavg()[0]]
    rows = {}
    for task in tqdm(args.tasks, desc="probe cost", unit="task"):
        clips = generate_clips(range(args.clips), budget.num_frames, budget.image_size,
                               budget.num_tracks, scene_options=budget.scene_options,
                               motion_labels=task == "classify")
        rows[task] = {name: measure(budget, size, task, clips, args.steps, frozen)
                      for name, frozen in (("frozen", True), ("fine_tuned", False))}
    load.append(os.getloadavg()[0])
    import keras
    command = f"KERAS_BACKEND={keras.backend.backend()} python tools/probe_cost.py" + "".join(
        f" {a}" for a in (sys.argv[1:] if argv is None else argv))
    text = markdown(rows, args.budget, size, command, load)
    if args.out:
        write_text(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
