"""MAE train-step cost per decoder configuration vs the full-token encoder forward (JAX).

  python tools/decoder_cost.py --size ti --image-size 112 --batch 2

Each decoder is KIND:WIDTH:DEPTH:HEADS:TARGET_RATIO (repeat --decoder; the default list is
the current default and cheaper candidates). Prints one markdown row per case: median time
of a jitted step (forward, backward, AdamW), its XLA temp memory, and the time as a
multiple of the full-token encoder forward. Records the machine load next to the times.
"""
import argparse
import os
import sys
import time

os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

DEFAULT_DECODERS = ("standard:512:4:8:1.0", "masked:512:4:8:0.5", "cross:512:4:8:1.0",
                    "standard:256:2:8:1.0", "masked:256:2:8:0.25", "cross:256:2:8:1.0")


def timed(fn, args, repeats):
    """(median seconds per call, XLA temp bytes) of a jitted `fn(*args)`."""
    import jax
    import numpy as np

    compiled = fn.lower(*args).compile()
    jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times)), int(compiled.memory_analysis().temp_size_in_bytes)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="ti")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--image-size", type=int, default=112)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--mask-ratio", type=float, default=0.95)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--decoder", action="append", help="KIND:WIDTH:DEPTH:HEADS:TARGET_RATIO")
    p.add_argument("--remat", action="store_true", help="rematerialise the encoder blocks")
    args = p.parse_args(argv)
    import jax
    import numpy as np
    from mae_benchmark import stateless_train_step
    from tqdm import tqdm

    from keras4ds.mae import MaskedAutoencoder, make_optimizer
    from keras4ds.models import FourDSEncoder

    encoder = FourDSEncoder.from_size(args.size, num_frames=args.frames,
                                      image_size=(args.image_size,) * 2, remat=args.remat)
    video = np.random.default_rng(0).random((args.batch, *encoder.input_video_shape)).astype("float32")

    def forward(params, x):
        return encoder.stateless_call(params, [], x)[0]

    rows = []
    base, base_temp = timed(jax.jit(forward), ([v.value for v in encoder.trainable_variables], video),
                            args.repeats)
    rows.append(("encoder forward, all tokens", "", base, base_temp, os.getloadavg()[0]))
    for spec in tqdm(args.decoder or DEFAULT_DECODERS, desc="decoders"):
        kind, width, depth, heads, ratio = spec.split(":")
        mae = MaskedAutoencoder(encoder, decoder=kind, mask_ratio=args.mask_ratio,
                                decoder_width=int(width), decoder_depth=int(depth),
                                decoder_heads=int(heads), target_ratio=float(ratio))
        mae.compile(optimizer=make_optimizer(1e-4, 100))
        mae.optimizer.build(mae.trainable_variables)

        step = stateless_train_step(mae)
        state = ([v.value for v in mae.trainable_variables], [v.value for v in mae.non_trainable_variables],
                 [v.value for v in mae.optimizer.variables], video)
        seconds, temp = timed(jax.jit(step), state, args.repeats)
        rows.append((f"train step, {kind} {width}/{depth}/{heads}", str(mae.num_targets), seconds, temp,
                     os.getloadavg()[0]))
    print(f"{args.size}, {args.frames}x{args.image_size}x{args.image_size}, batch {args.batch}, "
          f"{encoder.num_tokens} tokens, mask {args.mask_ratio}, encoder remat {args.remat}")
    print("| size | what (decoder width/depth/heads) | targets | time | x full forward | XLA temp | load |")
    print("|---|---|---|---|---|---|---|")
    for name, targets, seconds, temp, load in rows:
        print(f"| {args.size} | {name} | {targets} | {seconds * 1000:.0f} ms | {seconds / base:.1f} "
              f"| {temp / 2**20:.0f} MiB | {load:.1f} |")


if __name__ == "__main__":
    main()
