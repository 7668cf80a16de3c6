"""MAE benchmarks behind `benchmarks/mae.md`.

  python -m keras4ds.mae.benchmark convergence --out DIR [--steps 600]
      trains a small MAE on procedural scenes, plots the per-step loss (DIR/mae_loss.png)
      and compares the held-out loss with the predict-the-mean baseline.
  python -m keras4ds.mae.benchmark steptime --size ti --frames 16 --image-size 224
      jitted train-step time and XLA temporary memory per decoder vs the full-token
      encoder forward (JAX backend).
"""
import argparse
import json
import os
import time

import numpy as np


def _heldout_videos(count, frames, size, first_seed=10_000_000):
    from keras4ds.data.synthetic import generate_clip

    return np.stack([generate_clip(first_seed + i, frames, size, size, num_tracks=1)["video"]
                     for i in range(count)]).astype("float32")


def convergence(out, steps, width=128, depth=4, frames=8, size=32, patch=(2, 8, 8),
                mask_ratio=0.9, batch=8, lr=1e-3, seed=0):
    import keras
    import tensorflow as tf
    from keras import ops

    from keras4ds.data.synthetic_tf import synthetic_dataset
    from keras4ds.mae import MaskedAutoencoder, pretrain
    from keras4ds.models import FourDSEncoder

    keras.utils.set_random_seed(seed)
    encoder = FourDSEncoder(width, depth, 4 * width, 4, num_frames=frames, image_size=(size, size),
                            patch_size=patch)
    mae = MaskedAutoencoder(encoder, mask_ratio=mask_ratio, decoder_width=64, decoder_depth=2,
                            decoder_heads=4, seed=seed)
    ds = synthetic_dataset(range(steps * batch), frames, size, size, num_tracks=1)
    ds = ds.map(lambda e: e["video"]).batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    start = time.time()
    history = pretrain(encoder, ds, steps, mae=mae, learning_rate=lr, verbose=2)
    seconds = time.time() - start
    held = _heldout_videos(32, frames, size)
    masks = mae.sample_mask(len(held), seed=777)
    losses, baseline_sq, targets_all = [], [], []
    for i in range(0, len(held), 8):
        prediction, target = mae({"video": held[i:i + 8], "mask": masks[i:i + 8]})
        prediction, target = ops.convert_to_numpy(prediction), ops.convert_to_numpy(target)
        losses.append(np.mean((prediction - target) ** 2))
        targets_all.append(target)
    targets_all = np.concatenate(targets_all)
    baseline = float(np.mean((targets_all - targets_all.mean(axis=(0, 1))) ** 2))
    result = {"steps": steps, "train_seconds": round(seconds, 1), "heldout_loss": float(np.mean(losses)),
              "predict_mean_baseline": baseline, "first_loss": history["loss"][0],
              "last_100_mean_loss": float(np.mean(history["loss"][-100:])),
              "encoder_parameters": encoder.count_params(), "config": dict(
                  width=width, depth=depth, frames=frames, size=size, patch=list(patch),
                  mask_ratio=mask_ratio, batch=batch, lr=lr, backend=keras.backend.backend())}
    _plot(history, baseline, os.path.join(out, "mae_loss.png"))
    from keras4ds.mae.visualize import draw_reconstruction

    draw_reconstruction(mae, held[:1], out)
    return result


def _plot(history, baseline, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loss = np.asarray(history["loss"])
    smooth = np.convolve(loss, np.ones(20) / 20, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history["step"], loss, alpha=0.3, label="loss per step")
    ax.plot(history["step"][19:], smooth, label="20-step mean")
    ax.axhline(baseline, color="k", ls="--", label="predict-the-mean baseline (held out)")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE, normalised pixels of masked tubelets")
    ax.legend()
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)


def steptime(size, frames, image_size, batch, repeats=5, decoders=("standard", "masked", "cross")):
    """Seconds per jitted train step and XLA temp bytes (JAX) for each decoder, and for the
    full-token encoder forward."""
    import jax
    import keras

    from keras4ds.mae import MaskedAutoencoder, make_optimizer
    from keras4ds.models import FourDSEncoder

    video = np.random.default_rng(0).random((batch, frames, image_size, image_size, 3)).astype("float32")
    rows = []
    encoder = FourDSEncoder.from_size(size, num_frames=frames, image_size=(image_size, image_size))

    def forward(params, x):
        values, _ = encoder.stateless_call(params, [], x)
        return values

    rows.append(("encoder forward, all tokens",) + _time(jax.jit(forward), [v.value for v in encoder.trainable_variables], video, repeats))
    for kind in decoders:
        mae = MaskedAutoencoder(encoder, decoder=kind, mask_ratio=0.95)
        mae.compile(optimizer=make_optimizer(1e-4, 100))
        mae.optimizer.build(mae.trainable_variables)
        trainable = [v.value for v in mae.trainable_variables]
        non_trainable = [v.value for v in mae.non_trainable_variables]
        opt_vars = [v.value for v in mae.optimizer.variables]

        def step(trainable, non_trainable, opt_vars, x, mae=mae):
            def loss_fn(trainable):
                (pred, target), nt = mae.stateless_call(trainable, non_trainable, x)
                return keras.ops.mean((pred - target) ** 2), nt
            (loss, nt), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
            trainable, opt_vars = mae.optimizer.stateless_apply(opt_vars, grads, trainable)
            return loss, trainable, nt, opt_vars

        args = (trainable, non_trainable, opt_vars)
        rows.append((f"MAE train step, {kind} decoder ({mae.num_targets} targets)",)
                    + _time(jax.jit(step), args, video, repeats, unpack=True))
    return rows


def _time(fn, params, video, repeats, unpack=False):
    call = (lambda: fn(*params, video)) if unpack else (lambda: fn(params, video))
    lowered = fn.lower(*params, video) if unpack else fn.lower(params, video)
    memory = lowered.compile().memory_analysis()
    import jax

    jax.block_until_ready(call())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    return float(np.median(times)), int(memory.temp_size_in_bytes)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("convergence", "steptime"))
    parser.add_argument("--out", default=".")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--size", default="ti")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.mode == "convergence":
        print(json.dumps(convergence(args.out, args.steps), indent=1))
    else:
        for name, seconds, temp in steptime(args.size, args.frames, args.image_size, args.batch):
            print(f"| {args.size} | {name} | {seconds * 1000:.0f} ms | {temp / 2**20:.0f} MiB |")


if __name__ == "__main__":
    main()
