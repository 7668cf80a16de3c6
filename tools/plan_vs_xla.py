"""tools/plan.py's activation estimate vs XLA's memory analysis of the real compiled step.

  python tools/plan_vs_xla.py                       # the table in benchmarks/mae.md
  python tools/plan_vs_xla.py --config ti:112:2:0.95 --config s:224:1:0.5

Each --config is SIZE:IMAGE_SIZE:BATCH:MASK_RATIO (16 frames, standard decoder 512/4/8,
mesh 1x1, float32). For each, with and without remat of the encoder blocks, the MAE
loss+gradient step is compiled by JAX on CPU on abstract inputs and its XLA temp bytes
(activations kept for the backward pass + scratch) are compared with
`memory_plan.plan(...)` activations at 4 bytes per value. Runs on the JAX backend
with XLA's memory-minimising CPU scheduler (see tools/compiled_memory.py).
"""
import argparse
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
if "--default-cpu-scheduler" not in sys.argv:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_cpu_enable_concurrency_optimized_scheduler=false").strip()

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

MIB = 2 ** 20
DEFAULT_CONFIGS = ("ti:112:2:0.95", "ti:224:1:0.95", "s:112:2:0.95", "s:224:1:0.95",
                   "ti:112:2:0.5", "s:112:1:0.5")


def measure(size, image_size, batch, mask_ratio, remat, frames=16):
    """(plan activation bytes, XLA temp bytes) for one configuration."""
    import keras
    from compiled_memory import gradient_step_memory
    from memory_plan import plan

    from keras4ds.mae import MaskedAutoencoder
    from keras4ds.models import FourDSEncoder

    keras.backend.clear_session()
    encoder = FourDSEncoder.from_size(size, num_frames=frames, image_size=(image_size,) * 2, remat=remat)
    mae = MaskedAutoencoder(encoder, mask_ratio=mask_ratio)
    estimate = plan(size, (1, 1), batch, frames, image_size, mask_ratio=mask_ratio, activation_bytes=4)
    return estimate["activations_remat" if remat else "activations"], gradient_step_memory(mae, batch)["temp"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", action="append", help="SIZE:IMAGE_SIZE:BATCH:MASK_RATIO (repeatable)")
    p.add_argument("--default-cpu-scheduler", action="store_true",
                   help="keep XLA's concurrency-optimised CPU scheduler (hides remat's saving)")
    args = p.parse_args(argv)
    from tqdm import tqdm

    rows = []
    configs = args.config or DEFAULT_CONFIGS
    for config in tqdm(configs, desc="compiling"):
        try:
            size, image_size, batch, mask_ratio = config.split(":")
            image_size, batch, mask_ratio = int(image_size), int(batch), float(mask_ratio)
        except ValueError:
            raise SystemExit(f"--config must look like ti:112:2:0.95, got {config!r}")
        for remat in (False, True):
            estimate, temp = measure(size, image_size, batch, mask_ratio, remat)
            rows.append((size, image_size, batch, mask_ratio, remat, estimate, temp))
    print("| size | 16 x HxW | batch | mask ratio | remat | plan activations | XLA temp | XLA / plan |")
    print("|---|---|---|---|---|---|---|---|")
    for size, image_size, batch, mask_ratio, remat, estimate, temp in rows:
        print(f"| {size} | 16 x {image_size}x{image_size} | {batch} | {mask_ratio} "
              f"| {'yes' if remat else 'no'} "
              f"| {estimate / MIB:.1f} MiB | {temp / MIB:.1f} MiB | {temp / estimate:.2f} |")


if __name__ == "__main__":
    main()
