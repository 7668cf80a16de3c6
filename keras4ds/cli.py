"""`keras4ds` command line: convert official checkpoints, run depth on a video, the study."""
import argparse
import os
import sys


def _load_model(weights):
    """An official `.npz` file or a preset folder -> Keras model."""
    import keras4ds

    if os.path.isdir(weights):
        return keras4ds.load_preset(weights)
    return keras4ds.load_official(weights)


def convert(args):
    """Official `.npz` -> Keras preset folder (`config.json` + `model.weights.h5`)."""
    import keras4ds

    model = keras4ds.load_official(args.input)
    out = keras4ds.save_preset(model, args.output)
    print(f"wrote {type(model).__name__} ({model.count_params():,} parameters) to {out}")


def _atomic_path(path):
    root, ext = os.path.splitext(path)
    return f"{root}.tmp-{os.getpid()}{ext}"


def depth(args):
    """Depth for the first T frames of a video: MP4 (RGB | depth) + PNG + optional .npy."""
    import numpy as np
    from keras import ops

    from keras4ds.data.video_io import load_clip, write_video
    from keras4ds.data.visualize import colorize_depth
    from keras4ds.models import DepthModel

    model = _load_model(args.weights)
    if not isinstance(model, DepthModel):
        raise SystemExit(f"{args.weights} holds a {type(model).__name__}, not a depth model")
    frames, height, width, _ = model.encoder.input_video_shape
    clip = load_clip(args.video, num_frames=frames, height=height, width=width,
                     stride=args.stride, start=args.start)
    predicted = ops.convert_to_numpy(model.predict_on_batch(clip[None]))[0]
    rgb = (clip * 255).round().astype(np.uint8)
    panel = np.concatenate([rgb, colorize_depth(predicted)], axis=2)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    staged = _atomic_path(args.out)
    write_video(staged, panel, fps=args.fps)
    os.replace(staged, args.out)
    png = os.path.splitext(args.out)[0] + ".png"
    from PIL import Image

    Image.fromarray(panel[len(panel) // 2]).save(_atomic_path(png))
    os.replace(_atomic_path(png), png)
    if args.npy:
        staged = _atomic_path(args.npy)
        np.save(staged, predicted)
        os.replace(staged, args.npy)
    print(f"depth {predicted.shape} in [{predicted.min():.3g}, {predicted.max():.3g}] "
          f"-> {args.out}, {png}" + (f", {args.npy}" if args.npy else ""))


def study(argv):
    from keras4ds.study import main as study_main

    return study_main(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["study"]:
        return study(argv[1:])
    parser = argparse.ArgumentParser(prog="keras4ds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("convert", help="official .npz -> Keras preset folder")
    p.add_argument("input", help="official 4DS .npz (backbone or depth file)")
    p.add_argument("output", help="preset folder to write")
    p.set_defaults(run=convert)
    p = commands.add_parser("depth", help="depth maps for a video")
    p.add_argument("video", help="mp4/avi/mkv/webm/gif file")
    p.add_argument("--weights", required=True, help="depth .npz or preset folder")
    p.add_argument("--out", required=True, help="output .mp4 (RGB | depth side by side)")
    p.add_argument("--npy", help="also save the raw depth (T, H, W, 1) here")
    p.add_argument("--stride", type=int, default=1, help="frame stride")
    p.add_argument("--start", default="start", help="first frame index, 'start' or 'center'")
    p.add_argument("--fps", type=float, default=8.0)
    p.set_defaults(run=depth)
    commands.add_parser("study", help="the miniature 4DS study (see `keras4ds study --help`)")
    args = parser.parse_args(argv)
    if isinstance(getattr(args, "start", None), str) and args.start.isdigit():
        args.start = int(args.start)
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
