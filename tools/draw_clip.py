#!/usr/bin/env python
"""Draw a procedural 4D clip as an MP4 and a PNG contact sheet, labels overlaid.

    python tools/draw_clip.py --seed 0 --size 64x64 --frames 16 --out out/clip0

writes out/clip0.mp4 (the video beside its depth, point tracks with trails: filled dots
visible, hollow circles occluded; object boxes) and out/clip0.png (all frames tiled).
Scene options of keras4ds.data.synthetic.generate_clip can be passed as --option k=v
(values parsed as Python literals: --option camera_motion='"orbit+shake"').
"""
import argparse
import ast
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from PIL import Image  # noqa: E402

from keras4ds.data import synthetic, video_io, visualize  # noqa: E402


def _size(text):
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("size must be HxW, e.g. 64x64")
    return h, w


def _option(text):
    key, _, value = text.partition("=")
    if not _:
        raise argparse.ArgumentTypeError("options are key=value")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=_size, default=(64, 64), help="HxW (default 64x64)")
    p.add_argument("--scale", type=int, default=None,
                   help="integer upscaling for drawing (default: to about 256 px high)")
    p.add_argument("--tracks", type=int, default=48, help="tracks to draw (default 48)")
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--cols", type=int, default=4, help="contact sheet columns")
    p.add_argument("--no-depth", action="store_true", help="do not show the depth panel")
    p.add_argument("--option", type=_option, action="append", default=[],
                   help="generate_clip option key=value (repeatable)")
    p.add_argument("--out", default="out/clip", help="output path without extension")
    args = p.parse_args(argv)

    h, w = args.size
    clip = synthetic.generate_clip(args.seed, args.frames, h, w, **dict(args.option))
    scale = args.scale or max(1, round(256 / h))
    frames = visualize.draw_clip(clip, scale=scale, max_tracks=args.tracks,
                                 show_depth=not args.no_depth)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    video_io.write_video(args.out + ".mp4", frames, fps=args.fps)
    Image.fromarray(visualize.contact_sheet(frames, cols=args.cols)).save(args.out + ".png")
    print(f"wrote {args.out}.mp4 and {args.out}.png "
          f"({args.frames} frames, {clip['visible'].mean():.0%} of track points visible)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
