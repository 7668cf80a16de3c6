"""Per-device memory plan for MAE pretraining, from shapes alone (allocates nothing).

  python tools/plan.py --size 22b --mesh 16x16 --batch 2048
  python tools/plan.py --size b --mesh 1x1 --batch 8

Prints parameter counts and per-device GiB of float32 parameters, gradients, AdamW
moments and activations (bfloat16 by default) without and with remat of encoder blocks.
Weights are sharded by keras4ds.distribution's LayoutMap rules over the "model" axis.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from memory_plan import plan

GIB = 2 ** 30


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", required=True)
    p.add_argument("--mesh", default="1x1", help="BATCHxMODEL device mesh, e.g. 16x16")
    p.add_argument("--batch", type=int, required=True, help="global batch (clips)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--mask-ratio", type=float, default=0.95)
    p.add_argument("--decoder", choices=("standard", "masked", "cross"), default="standard")
    p.add_argument("--decoder-width", type=int, default=None,
                   help="default 512, or 64 x heads when the heads are raised to the model axis")
    p.add_argument("--decoder-depth", type=int, default=4)
    p.add_argument("--decoder-heads", type=int, default=None,
                   help="default 8, or the model axis size when 8 heads cannot be split over it")
    p.add_argument("--activations", choices=("bfloat16", "float32"), default="bfloat16")
    args = p.parse_args(argv)
    try:
        mesh = tuple(int(x) for x in args.mesh.lower().split("x"))
        assert len(mesh) == 2
    except (ValueError, AssertionError):
        raise SystemExit(f"--mesh must look like 16x16 (batch x model), got {args.mesh!r}")
    if args.decoder_heads is None:
        args.decoder_heads = 8 if 8 % mesh[1] == 0 else mesh[1]
        if args.decoder_heads != 8:
            args.decoder_width = args.decoder_width or 64 * args.decoder_heads
            print(f"the default 8-head decoder cannot be split over a model axis of {mesh[1]}: "
                  f"planning a {args.decoder_heads}-head, width-{args.decoder_width} decoder")
    args.decoder_width = args.decoder_width or 512
    try:
        r = plan(args.size, mesh, args.batch, args.frames, args.image_size, mask_ratio=args.mask_ratio,
                 decoder=args.decoder, decoder_width=args.decoder_width, decoder_depth=args.decoder_depth,
                 decoder_heads=args.decoder_heads,
                 activation_bytes=2 if args.activations == "bfloat16" else 4)
    except ValueError as error:
        raise SystemExit(f"cannot plan this configuration: {error}")
    print(f"4DS-{args.size}: encoder {r['encoder_parameters']:,} parameters, {args.decoder} decoder "
          f"{r['decoder_parameters']:,}; {r['tokens']} tokens, {r['visible']} visible, "
          f"{r['targets']} decoded; mesh {mesh[0]}x{mesh[1]}, {r['per_device_batch']} clips per device")
    rows = [("parameters (float32)", r["parameters"]), ("gradients (float32)", r["gradients"]),
            ("AdamW moments (float32)", r["optimizer"]),
            (f"activations ({args.activations}), no remat", r["activations"]),
            (f"activations ({args.activations}), remat encoder blocks", r["activations_remat"])]
    for name, value in rows:
        print(f"  {name:<45} {value / GIB:9.2f} GiB per device")
    state = r["parameters"] + r["gradients"] + r["optimizer"]
    print(f"  {'total, no remat':<45} {(state + r['activations']) / GIB:9.2f} GiB per device")
    print(f"  {'total, remat':<45} {(state + r['activations_remat']) / GIB:9.2f} GiB per device")


if __name__ == "__main__":
    main()
