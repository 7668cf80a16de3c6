"""`keras4ds study` / `recipes/study.py`: the miniature 4DS study from the command line."""
from __future__ import annotations

import argparse
import json
import os

from keras4ds_apps.backend import add_backend_argument, select_backend
from keras4ds_apps.distribute import add_distribution_arguments, distribution_scope
from keras4ds_apps.paths import check_output_path
from keras4ds_apps.study.budgets import BUDGETS, TASKS, EncoderSize

_OVERRIDES = {
    "pretrain_steps": int, "pretrain_batch": int, "pretrain_clips": int,
    "pretrain_learning_rate": float, "mask_ratio": float, "probe_steps": int,
    "probe_batch": int, "probe_train_clips": int, "eval_clips": int,
    "probe_learning_rate": float, "num_frames": int, "image_size": int, "num_tracks": int,
    "seed": int, "decoder_width": int, "decoder_depth": int, "decoder_heads": int,
    "probe_width": int, "readout": str, "decoder": str, "encoder_learning_rate": float,
    "bootstrap": int, "mae_targets": str,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras4ds study",
        description="Miniature 4DS study: MAE-pretrain encoders of several sizes, train "
                    "depth/pose/points/boxes readouts (and motion classification) that read "
                    "only their features, on them and on their random initialisation, "
                    "evaluate on held-out procedural scenes (or real data: see below) with "
                    "bootstrap spreads, and write report.md, results.json and PNG plots. "
                    "Rerun with the same --out to resume after an interruption.")
    parser.add_argument("--out", default="study_out", help="output folder (default: %(default)s)")
    parser.add_argument("--budget", default="default", choices=sorted(BUDGETS),
                        help="preset budget; 'default' took 15 min on 2 CPU "
                             "cores (default: %(default)s)")
    parser.add_argument("--sizes", nargs="+", metavar="NAME:WIDTH:DEPTH:HEADS",
                        help="encoder sizes instead of the budget's, smallest first, "
                             "e.g. w64:64:2:4 w128:128:4:4")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, help="subset of the tasks")
    parser.add_argument("--patch-size", nargs=3, type=int, metavar=("T", "H", "W"))
    parser.add_argument("--fine-tune", action="store_true",
                        help="train encoder + head (at --encoder-learning-rate) instead of a "
                             "head on the frozen encoder")
    add_backend_argument(parser)
    add_distribution_arguments(parser)
    parser.add_argument("--scene", nargs="+", metavar="KEY=VALUE",
                        help="generate_clip options of every scene, e.g. texture_scale=0.5 "
                             "(values read as JSON when they parse, else as strings)")
    data = parser.add_argument_group(
        "real data (default: procedural scenes for everything)",
        "A task given --probe-data trains its readouts on those clips (at most "
        "--probe-train-clips) and is scored on the held-out clips of its --eval-data (at most "
        "--eval-clips), which must be another source. Formats: tapvid:PKL|GLOB|DIR (points), "
        "scannet:DIR (depth, pose), re10k:DIR (pose); boxes have no reader. Sources are "
        "fingerprinted (file names, sizes, times): resuming with changed data is refused.")
    data.add_argument("--probe-data", action="append", metavar="TASK=FORMAT:PATH",
                      help="probe-training clips of a task (repeatable)")
    data.add_argument("--eval-data", action="append", metavar="TASK=FORMAT:PATH",
                      help="held-out evaluation clips of a task (repeatable; needed for "
                           "every --probe-data task)")
    data.add_argument("--pretrain-data", metavar="DIR",
                      help="folder of videos for MAE pretraining (--pretrain-clips clips "
                           "read as by recipes/pretrain_mae.py --data folder:DIR)")
    for name, kind in _OVERRIDES.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, metavar=kind.__name__.upper())
    return parser


def _task_sources(items, flag) -> dict:
    """['points=tapvid:a.pkl'] -> {'points': 'tapvid:a.pkl'}."""
    sources = {}
    for item in items or ():
        task, sep, spec = item.partition("=")
        if not sep or task not in TASKS:
            raise SystemExit(f"{flag} takes TASK=FORMAT:PATH with TASK one of {TASKS}, "
                             f"got {item!r}")
        if task in sources:
            raise SystemExit(f"{flag} names {task} twice")
        sources[task] = spec
    return sources


def data_from_args(args):
    """The `StudyData` of the command line (empty without data flags)."""
    from keras4ds_apps.study.clips import StudyData

    try:
        return StudyData(_task_sources(args.probe_data, "--probe-data"),
                         _task_sources(args.eval_data, "--eval-data"), args.pretrain_data)
    except ValueError as error:
        raise SystemExit(str(error)) from None


def _scene_options(items) -> dict:
    """['texture_scale=0.5', 'texture=flat'] -> {'texture_scale': 0.5, 'texture': 'flat'}."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--scene takes KEY=VALUE pairs, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def budget_from_args(args):
    """The preset budget of `args.budget` with the command line's overrides."""
    budget = BUDGETS[args.budget]
    changes = {name: getattr(args, name) for name in _OVERRIDES if getattr(args, name) is not None}
    if args.sizes:
        sizes = tuple(EncoderSize.parse(s) for s in args.sizes)
        if len({s.name for s in sizes}) != len(sizes):
            raise SystemExit(f"size names must be unique, got {args.sizes}")
        changes["sizes"] = sizes
    if args.tasks:
        changes["tasks"] = tuple(args.tasks)
    if args.scene:
        changes["scene_options"] = {**budget.scene_options, **_scene_options(args.scene)}
    if args.patch_size:
        changes["patch_size"] = tuple(args.patch_size)
    if args.fine_tune:
        changes["fine_tune"] = True
    return budget.replace(**changes)


def study_distribution(args, budget):
    """The scope every stage runs in under `--distribution`; refuses a pretraining or probe
    batch that does not split over its replicas, before any work."""
    try:
        for batch in dict.fromkeys((budget.pretrain_batch, budget.probe_batch)):
            scope = distribution_scope(args.distribution, args.mesh, batch)
    except (ValueError, NotImplementedError) as error:
        raise SystemExit(str(error).replace("--batch", "a study batch of")) from None
    return scope


def main(argv=None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run or resume the study, print the summary."""
    args = build_parser().parse_args(argv)
    try:
        check_output_path(args.out, folder=True)
    except OSError as error:
        raise SystemExit(f"--out: {error}") from None
    select_backend(args.backend)
    try:
        budget = budget_from_args(args)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    if len(budget.sizes) < 2:
        raise SystemExit("a study needs at least two encoder sizes")
    data = data_from_args(args)
    scope = study_distribution(args, budget)
    from keras4ds_apps.study.runner import run_study

    with scope:
        results = run_study(args.out, budget, budget_name=args.budget, data=data)
    out = os.path.abspath(args.out)
    print(f"study finished in {results['timing']['total_seconds'] / 60:.1f} min: "
          f"{out}/report.md, {out}/results.json, {out}/scaling.png")
    for task, s in results["summary"].items():
        print(f"  {task:8s} beyond the spread: pretrained beats random at the largest size: "
              f"{s['pretrained_beats_random_at_largest']}, largest beats smallest: "
              f"{s['largest_beats_smallest']}, beats trivial: {s['largest_beats_trivial']}")
    return 0
