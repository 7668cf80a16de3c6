#!/usr/bin/env python
"""Write a folder of videos as sharded TFRecords of JPEG-encoded frames.

    python tools/write_tfrecords.py VIDEO_DIR OUT_PREFIX --shards 8 --size 224x224

writes OUT_PREFIX-00000-of-00008.tfrecord ... and OUT_PREFIX.json (counts, skipped
files), each shard atomically (temporary name, renamed when all succeeded), with a
progress bar. Read back with ``keras4ds.data.tfrecords.tfrecord_dataset(OUT_PREFIX)``.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from keras4ds.data import pipelines, tfrecords  # noqa: E402


def _size(text):
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("size must be HxW, e.g. 224x224")
    return h, w


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("videos", help="folder of videos (searched recursively)")
    p.add_argument("prefix", help="output path prefix of the shards")
    p.add_argument("--shards", type=int, default=1, help="number of shards (default 1)")
    p.add_argument("--size", type=_size, default=None,
                   help="resize frames to HxW when writing (Lanczos, as the official demo)")
    p.add_argument("--mode", choices=["resize", "crop"], default="resize",
                   help="resize straight to HxW, or resize then centre crop")
    p.add_argument("--max-frames", type=int, default=None, help="keep only the first frames")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality (default 95)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="parallel decoders (default: all cores)")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first bad file instead of skipping it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)

    files = pipelines.list_videos(args.videos)
    if not files:
        p.error(f"no video files under {args.videos}")
    manifest = tfrecords.write_tfrecords(
        files, args.prefix, args.shards, root=args.videos, size=args.size, mode=args.mode,
        max_frames=args.max_frames, quality=args.quality, workers=args.workers,
        skip_bad_files=not args.strict, progress=not args.no_progress)
    print(f"wrote {manifest['num_examples']} videos ({manifest['num_frames']} frames) "
          f"to {args.shards} shard(s) at {args.prefix}-*")
    if manifest["skipped"]:
        print(f"skipped {len(manifest['skipped'])} bad file(s):", file=sys.stderr)
        for msg in manifest["skipped"].values():
            print(f"  {msg}", file=sys.stderr)
    return 0 if manifest["num_examples"] else 1


if __name__ == "__main__":
    sys.exit(main())
