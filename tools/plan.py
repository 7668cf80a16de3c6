"""Per-device memory plan for MAE pretraining, from shapes alone (allocates nothing).

  python tools/plan.py --size 22b --mesh 16x16 --batch 2048
  python tools/plan.py --size b --mesh 1x1 --batch 8
  python tools/plan.py --size 22b --mesh 32x8 --batch 256 --remat --activations float32 --compile

Prints parameter counts and per-device GiB of float32 parameters, gradients, AdamW
moments and activations (bfloat16 by default) without and with remat of encoder blocks.
Weights are sharded by keras4ds.distribution's LayoutMap rules over the "model" axis.
With --compile, the real train step is also lowered and compiled by XLA on B x M fake CPU
devices with abstract weights (`compiled_step.py`; nothing is allocated, 1-3 min and a few
GB for 22b on 256 devices): XLA's argument / output / temp / total bytes per device next
to the plan's, and the collectives by the mesh axes they span. The compiled step uses
mixed bfloat16 when --activations is bfloat16, remat when --remat is given. Compare the
two in float32 (`--activations float32`): XLA's CPU compiler keeps a mixed-bfloat16 step's
activations in float32 around its bfloat16 matmuls, which an accelerator does not. XLA's CPU
scheduler also recomputes every rematerialised block early, so a CPU compile shows no
saving from --remat (benchmarks/scale.md).

  python tools/plan.py --size 22b --mesh 32x8 --batch 2048 --remat --compile --tpu v5p:8x8x4

With --tpu TOPOLOGY the step is compiled instead by the TPU compiler for the chips of that
TPU slice (B x M of them), on this machine: no TPU is needed, only the libtpu wheel
(`pip install "jax[tpu]"`). Its figures are what a TPU would hold, in bfloat16 too.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

GIB = 2 ** 30


def _fake_devices(count):
    """Ask XLA for `count` CPU devices and the memory-minimising CPU schedule (before JAX
    starts; a JAX already started with another count is an error naming it)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        flags += f" --xla_force_host_platform_device_count={count}"
    if "concurrency_optimized_scheduler" not in flags:
        flags += " --xla_cpu_enable_concurrency_optimized_scheduler=false"
    os.environ["XLA_FLAGS"] = flags.strip()
    os.environ["KERAS_BACKEND"] = "jax"


def compiled_rows(args, mesh, r):
    """Compile the step; print and return XLA's figures against the plan's."""
    from compiled_step import compile_train_step, tpu_devices

    try:
        devices = tpu_devices(args.tpu) if args.tpu else None
        xla = compile_train_step(args.size, mesh, args.batch, args.frames, args.image_size,
                                 args.mask_ratio, args.decoder, args.decoder_width,
                                 args.decoder_depth, args.decoder_heads, remat=args.remat,
                                 mixed_bfloat16=args.activations == "bfloat16", devices=devices,
                                 bfloat16_parameters=args.parameters == "bfloat16")
    except (RuntimeError, ValueError) as error:
        raise SystemExit(f"--compile failed: {error}")
    planned = r["total_remat" if args.remat else "total"]
    target = f"TPU {args.tpu} chips" if args.tpu else "fake CPU devices"
    print(f"XLA, compiled for {mesh[0] * mesh[1]} {target} in {xla['compile_seconds']:.0f} s "
          f"({'remat' if args.remat else 'no remat'}):")
    for name in ("argument", "output", "alias", "temp", "total"):
        print(f"  {name:<45} {xla[name] / GIB:9.2f} GiB per device")
    print(f"  {'plan total':<45} {planned / GIB:9.2f} GiB per device "
          f"(XLA / plan {xla['total'] / planned:.3f})")
    for op, by_axes in sorted(xla["collectives"].items()):
        print(f"  {op:<20} " + ", ".join(f"{n} over {axes}" for axes, n in sorted(by_axes.items())))
    return {**xla, "plan_total": planned, "target": target}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", required=True)
    p.add_argument("--mesh", default="1x1", help="BATCHxMODEL device mesh, e.g. 16x16")
    p.add_argument("--batch", type=int, required=True, help="global batch (clips)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--mask-ratio", type=float, default=0.95)
    p.add_argument("--decoder", choices=("standard", "masked", "cross"), default="standard")
    p.add_argument("--decoder-width", type=int, default=None, help="default 512")
    p.add_argument("--decoder-depth", type=int, default=4)
    p.add_argument("--decoder-heads", type=int, default=None,
                   help="default 8, or the fewest more that the model axis splits (as "
                        "MaskedAutoencoder builds)")
    p.add_argument("--activations", choices=("bfloat16", "float32"), default="bfloat16")
    p.add_argument("--parameters", choices=("float32", "bfloat16"), default="float32",
                   help="parameter dtype (bfloat16: FourDSEncoder(dtype='bfloat16'); its "
                        "gradients and AdamW moments follow)")
    p.add_argument("--remat", action="store_true", help="with --compile: remat encoder blocks")
    p.add_argument("--compile", action="store_true",
                   help="also compile the real train step on B x M fake devices (JAX)")
    p.add_argument("--tpu", metavar="TOPOLOGY",
                   help="with --compile: compile for the B x M chips of this TPU slice "
                        "(e.g. v5p:8x8x4) with the TPU compiler, on this machine, no TPU "
                        "needed (libtpu: pip install 'jax[tpu]')")
    p.add_argument("--compiler", choices=("cpu", "tpu"), default=None,
                   help="whose way of keeping the step to plan (memory_plan.plan): XLA's CPU "
                        "or TPU compiler (default: tpu with --tpu, else cpu)")
    p.add_argument("--json", help="also write the figures (bytes) to this JSON file")
    args = p.parse_args(argv)
    try:
        mesh = tuple(int(x) for x in args.mesh.lower().split("x"))
        assert len(mesh) == 2
    except (ValueError, AssertionError):
        raise SystemExit(f"--mesh must look like 16x16 (batch x model), got {args.mesh!r}")
    args.decoder_width = args.decoder_width or 512
    args.compiler = args.compiler or ("tpu" if args.tpu else "cpu")
    if args.compile and (args.compiler == "tpu") != bool(args.tpu):
        raise SystemExit(f"--compiler {args.compiler} plans for another compiler than --compile "
                         f"runs ({'TPU' if args.tpu else 'CPU'}): drop --compiler")
    if args.tpu and not args.compile:
        raise SystemExit("--tpu TOPOLOGY names what --compile compiles for; add --compile")
    if args.tpu:
        os.environ["KERAS_BACKEND"] = "jax"
    elif args.compile:  # before Keras (and so JAX) is imported
        _fake_devices(mesh[0] * mesh[1])
    if args.decoder_heads is None:  # what MaskedAutoencoder builds on this mesh
        from keras4ds.distribution.layouts import fitting_heads

        args.decoder_heads = fitting_heads(args.decoder_width, 8, mesh[1])
        if args.decoder_heads != 8:
            print(f"8 decoder heads cannot be split over a model axis of {mesh[1]}: "
                  f"MaskedAutoencoder builds (and this plans) {args.decoder_heads} heads of "
                  f"width {args.decoder_width // args.decoder_heads}")
    from memory_plan import plan

    try:
        r = plan(args.size, mesh, args.batch, args.frames, args.image_size, mask_ratio=args.mask_ratio,
                 decoder=args.decoder, decoder_width=args.decoder_width, decoder_depth=args.decoder_depth,
                 decoder_heads=args.decoder_heads,
                 activation_bytes=2 if args.activations == "bfloat16" else 4,
                 parameter_bytes=2 if args.parameters == "bfloat16" else 4, compiler=args.compiler)
    except ValueError as error:
        raise SystemExit(f"cannot plan this configuration: {error}")
    print(f"4DS-{args.size}: encoder {r['encoder_parameters']:,} parameters, {args.decoder} decoder "
          f"{r['decoder_parameters']:,}; {r['tokens']} tokens, {r['visible']} visible, "
          f"{r['targets']} decoded; mesh {mesh[0]}x{mesh[1]}, {r['per_device_batch']} clips per device")
    kind = args.parameters
    rows = [(f"parameters ({kind})", r["parameters"]), (f"gradients ({kind})", r["gradients"]),
            (f"AdamW moments ({kind})", r["optimizer"]),
            (f"activations ({args.activations}), no remat", r["activations"]),
            (f"activations ({args.activations}), remat encoder blocks", r["activations_remat"])]
    for name, value in rows:
        print(f"  {name:<45} {value / GIB:9.2f} GiB per device")
    rule = ("parameters + moments + clips + the larger of activations and gradients"
            if args.compiler == "tpu" else "the sum of the four")
    print(f"  {'total, no remat':<45} {r['total'] / GIB:9.2f} GiB per device ({args.compiler}: {rule})")
    print(f"  {'total, remat':<45} {r['total_remat'] / GIB:9.2f} GiB per device")
    if args.compile:
        r = {"plan": r, "xla": compiled_rows(args, mesh, r)}
    if args.json:
        from keras4ds.utils import write_json

        write_json(args.json, r)
    return r


if __name__ == "__main__":
    main()
