"""Command-line runner behind `recipes/probe_*.py`: encoder + data -> train_probe -> files.

Writes `<out>/<task>_metrics.json` (probe and baseline metrics, loss history, settings),
`<out>/<task>_readout.keras` (the trained readout, its encoder inside: `load_readout`),
`<out>/<task>_loss.png` and pictures (`<task>_example<i>.png/.mp4`, or
`pose_trajectories.png/.mp4`). `--eval-only --readout FILE` scores a saved readout on the
same clips instead of training one.
"""
import argparse
import json
import os

import numpy as np

from keras4ds.utils import write_json
from keras4ds_apps.backend import add_backend_argument, select_backend
from keras4ds_apps.distribute import add_distribution_arguments, distribution_scope
from keras4ds_apps.encoders import file_encoder, random_encoder

TRAINING_DEFAULTS = {"steps": 300, "batch_size": 16, "learning_rate": 1e-3}
# The template points head matches every pixel window of every frame (about 0.35 s per
# clip of 32 queries on one CPU core) and trains 6 numbers: few, small steps.
TEMPLATE_POINTS_DEFAULTS = {"steps": 60, "batch_size": 4, "learning_rate": 3e-2}


def probe_arguments(task, args):
    """The probe arguments: the feature-only head of `task` (`FEATURE_ONLY_HEADS`) updated
    with --probe-kwargs."""
    from keras4ds_apps.study.budgets import FEATURE_ONLY_HEADS
    return {**FEATURE_ONLY_HEADS[task], **json.loads(args.probe_kwargs)}


def training_settings(task, args):
    """steps, batch_size, learning_rate: as given, else the defaults of the task's head."""
    template = task == "points" and probe_arguments(task, args).get("head") == "template"
    defaults = TEMPLATE_POINTS_DEFAULTS if template else TRAINING_DEFAULTS
    return {k: defaults[k] if getattr(args, k) is None else getattr(args, k) for k in defaults}


def parser(task):
    p = argparse.ArgumentParser(description=f"Train and score a {task} readout on a 4DS encoder.")
    enc = p.add_argument_group("encoder (default: a random-init tiny encoder)")
    enc.add_argument("--size", help="preset size: ti s m b l ... (random init)")
    enc.add_argument("--official", help="official 4DS backbone .npz")
    enc.add_argument("--preset", help="keras4ds preset folder (e.g. an MAE checkpoint saved "
                                      "with keras4ds.save_preset)")
    enc.add_argument("--width", type=int, default=64)
    enc.add_argument("--depth", type=int, default=4)
    enc.add_argument("--heads", type=int, default=4)
    enc.add_argument("--patch-size", type=int, nargs=3, metavar=("T", "H", "W"),
                     help="tubelet size of a random-init encoder (default: 2 16 16)")
    data = p.add_argument_group("data (default: procedural scenes)")
    data.add_argument("--data", metavar="FORMAT:PATH",
                      help="training clips from real data (at most --train-clips): "
                           "tapvid:PKL|GLOB|DIR (points), scannet:DIR (depth, pose), "
                           "re10k:DIR (pose), videofolder:DIR (classify); see "
                           "keras4ds.data.task_clips")
    data.add_argument("--eval-data", metavar="FORMAT:PATH",
                      help="evaluation clips from real data (at most --eval-clips), a "
                           "source other than --data (default: procedural scenes)")
    data.add_argument("--train-clips", type=int, default=128)
    data.add_argument("--eval-clips", type=int, default=32)
    data.add_argument("--frames", type=int, default=16)
    data.add_argument("--image-size", type=int, default=64)
    data.add_argument("--scene-options", default="{}",
                      help="JSON dict of generate_clip options, e.g. '{\"num_objects\": 3}'")
    train = p.add_argument_group("training")
    head_defaults = "; the template points head: 60, 4, 3e-2"
    train.add_argument("--steps", type=int, help=f"default 300{head_defaults}")
    train.add_argument("--batch-size", type=int, help=f"default 16{head_defaults}")
    train.add_argument("--learning-rate", type=float, help=f"default 1e-3{head_defaults}")
    train.add_argument("--finetune", action="store_true", help="train the encoder too")
    train.add_argument("--encoder-learning-rate", type=float, default=1e-3,
                       help="encoder's learning rate with --finetune")
    train.add_argument("--feature-cache", metavar="DIR",
                       help="frozen encoder only: the clips' features are computed once into DIR "
                            "and read back by later runs (keyed by the encoder's weights, the "
                            "clips and the readout index)")
    train.add_argument("--test-clips", type=int, metavar="N",
                       help="classify: eval clips get N * --frames frames and are also scored by "
                            "the mean softmax over N evenly spaced windows (multi_clip_metrics)")
    train.add_argument("--readout-index", type=int, nargs="*", default=None,
                       help="hidden state(s) read; several are concatenated (default: official 0.95)")
    train.add_argument("--num-params", type=int, default=128)
    train.add_argument("--num-heads", type=int, default=4)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--probe-kwargs", default="{}",
                       help="JSON dict of probe arguments over the task's feature-only "
                            "head, e.g. '{\"decoding_patch_size\": [2, 16, 16]}' for depth, "
                            "'{\"head\": \"template\"}' for the template points yardstick")
    p.add_argument("--eval-only", action="store_true",
                   help="score the readout of --readout instead of training one")
    p.add_argument("--readout", metavar="FILE",
                   help="with --eval-only: a <task>_readout.keras file a recipe wrote")
    add_backend_argument(p)
    p.add_argument("--out", default=f"out/probe_{task}")
    add_distribution_arguments(p)
    return p


def load_encoder(args):
    """The encoder the arguments name, sized for the clips."""
    if args.patch_size and (args.official or args.preset):
        raise ValueError("--patch-size sets a random-init encoder; a loaded encoder keeps its own")
    if args.official or args.preset:
        return file_encoder(args.official or args.preset, args.frames, args.image_size)
    if args.size:
        return random_encoder(args.frames, args.image_size, args.size, patch_size=args.patch_size)
    return random_encoder(args.frames, args.image_size, width=args.width, depth=args.depth,
                          num_heads=args.heads, patch_size=args.patch_size)


def make_clips(args, task, start, count, spec=None, frames=None):
    """`count` procedural clips of seeds start.., or with `spec` ('FORMAT:PATH') at most
    `count` real clips from it; `frames` frames each (default --frames)."""
    frames = frames or args.frames
    if spec:
        from keras4ds.data.task_clips import read_task_clips
        clips = read_task_clips(task, spec, frames, args.image_size, count)
        if len(clips) < count:
            print(f"{spec}: {len(clips)} {task} clips, fewer than the {count} asked for")
        return clips
    from keras4ds.data.procedural_clips import procedural_clips

    return procedural_clips(range(start, start + count), frames, args.image_size,
                            json.loads(args.scene_options), motion_labels=task == "classify",
                            desc=f"scenes {start}..{start + count - 1}")


def main(task, argv=None):
    args = parser(task).parse_args(argv)
    select_backend(args.backend)
    if args.eval_only != bool(args.readout):
        raise ValueError("--eval-only and --readout FILE go together")
    training = training_settings(task, args)
    try:
        scope = distribution_scope(args.distribution, args.mesh, training["batch_size"])
    except ValueError as error:
        raise SystemExit(str(error)) from None
    os.makedirs(args.out, exist_ok=True)
    with scope:
        return _run(task, args, training)


def _run(task, args, training):
    """Build (or load), train and score the readout, and write its files (inside the
    distribution's scope)."""
    import keras

    from keras4ds.readouts import load_readout, save_readout, train_probe
    from keras4ds_apps import pictures

    keras.utils.set_random_seed(args.seed)  # a random-init encoder is the same every run
    readout = load_readout(args.readout, task) if args.readout else None
    encoder = readout.encoder if readout else load_encoder(args)
    if args.data and args.eval_data:
        from keras4ds.data.task_clips import parse_spec
        if parse_spec(args.data) == parse_spec(args.eval_data):
            raise ValueError(f"--data {args.data} and --eval-data {args.eval_data} name the "
                             "same source: evaluation clips must be held out from training")
    train_clips = make_clips(args, task, 0, args.train_clips, args.data)
    eval_frames = args.frames * args.test_clips if task == "classify" and args.test_clips else None
    eval_clips = make_clips(args, task, 100_000, args.eval_clips, args.eval_data, eval_frames)
    if readout:
        training["steps"] = 0
    result = train_probe(task, encoder, train_clips, eval_clips, **training,
                         frozen=not args.finetune, seed=args.seed,
                         readout_index=args.readout_index or None, num_params=args.num_params,
                         num_heads=args.num_heads, encoder_learning_rate=args.encoder_learning_rate,
                         probe_kwargs=probe_arguments(task, args),
                         feature_cache=args.feature_cache, test_clips=args.test_clips,
                         verbose=1, return_probe=True, eval_loss=True, readout=readout)
    inputs, targets, predictions = (result.pop(k) for k in ("eval_inputs", "eval_targets", "predictions"))
    probe = result.pop("probe")
    if not readout:
        save_readout(probe, os.path.join(args.out, f"{task}_readout.keras"))
    result.pop("multi_clip_scores", None)
    result.update(backend=keras.backend.backend(), settings={**vars(args), **training},
                  encoder={"width": encoder.width, "depth": encoder.depth,
                           "init": ("readout" if readout else "official" if args.official
                                    else "preset" if args.preset else "random")})
    write_json(os.path.join(args.out, f"{task}_metrics.json"), result, default=float)
    if not readout:
        pictures.loss_curve(os.path.join(args.out, f"{task}_loss.png"), result["loss_steps"],
                            result["loss_history"], f"{task} probe")
    if task == "pose":
        pictures.pose_trajectories(os.path.join(args.out, "pose_trajectories.png"),
                                   np.asarray(predictions["pose"]), targets["pose"])
    elif task != "classify":
        pictures.save_comparison(args.out, task, inputs, targets, predictions)
    print(json.dumps({"metrics": result["metrics"], "baseline": result["baseline"],
                      **{k: result[k] for k in ("multi_clip_metrics",) if k in result},
                      "eval_loss": result["eval_loss"], "train_seconds": result["train_seconds"]},
                     indent=1, default=float))
    return result
