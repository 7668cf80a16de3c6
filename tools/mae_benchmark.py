"""MAE benchmarks behind `benchmarks/mae.md`.

  python tools/mae_benchmark.py convergence --out DIR [--sizes 32:2:2,64:2:4,128:2:4]
      pretrains MAEs at the study's default shapes (16 x 64 x 64 procedural clips, 96
      training scenes, tubelets (2, 8, 8)), one per encoder size, plots the per-step losses
      (DIR/mae_loss.png) and compares each held-out loss with the predict-the-mean baseline
      (DIR/convergence.json). Flags change one setting at a time for ablations.
  python tools/mae_benchmark.py compare --runs DIR1 DIR2 ... --out curves.png
      the training-loss curves of several convergence runs in one plot, labelled by
      decoder, learning rate, seed and held-out loss.
  python tools/mae_benchmark.py steptime --size ti --frames 16 --image-size 224
      jitted train-step time and XLA temporary memory per decoder vs the full-token
      encoder forward (JAX backend).
"""
import argparse
import json
import os
import time

import numpy as np

from keras4ds.mae.evaluate import heldout_loss
from keras4ds.utils import write_json, write_staged

# Held-out scenes: the study's evaluation seeds, never used for pretraining.
HELDOUT_FIRST_SEED = 2_000_000


def _videos(seeds, frames, size, **scene):
    """`(n, T, H, W, 3)` float32 procedural clips (`scene`: `generate_clip` options)."""
    from tqdm.auto import tqdm

    from keras4ds.data.synthetic import generate_clip

    return np.stack([generate_clip(s, frames, size, size, num_tracks=1, **scene)["video"]
                     for s in tqdm(seeds, desc="scenes", leave=False)]).astype("float32")


def _batches(videos, batch, seed):
    """Endless `(video (B, T, H, W, 3),)` batches, a new permutation of `videos` per epoch."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(videos))
        for k in range(len(videos) // batch):
            yield (videos[np.sort(order[k * batch:(k + 1) * batch])],)


def convergence(out, steps=200, sizes=((32, 2, 2), (64, 2, 4), (128, 2, 4)), frames=16,
                size=64, patch=(2, 8, 8), clips=96, heldout=16, mask_ratio=0.75, batch=8,
                lr=1e-3, decoder="standard", decoder_width=64, decoder_depth=2,
                decoder_heads=4, target_ratio=None, norm_pix_loss=True, texture_scale=1.0,
                seed=0):
    """Pretrain one MAE per encoder size `(width, depth, heads)` on `clips` scenes
    (`texture_scale`: the generator's option, for training and held-out clips); return
    per-size results (held-out loss, baseline, seconds, loss history)."""
    import keras

    from keras4ds.mae import MaskedAutoencoder, pretrain
    from keras4ds.models import FourDSEncoder

    train = _videos(range(clips), frames, size, texture_scale=texture_scale)
    held = _videos(range(HELDOUT_FIRST_SEED, HELDOUT_FIRST_SEED + heldout), frames, size,
                   texture_scale=texture_scale)
    config = dict(frames=frames, size=size, patch=list(patch), clips=clips, steps=steps,
                  mask_ratio=mask_ratio, batch=batch, lr=lr, decoder=decoder,
                  decoder_width=decoder_width, decoder_depth=decoder_depth,
                  decoder_heads=decoder_heads, target_ratio=target_ratio, seed=seed,
                  norm_pix_loss=norm_pix_loss, texture_scale=texture_scale,
                  backend=keras.backend.backend())
    runs = []
    for index, (width, depth, heads) in enumerate(sizes):
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed + index)
        encoder = FourDSEncoder(width, depth, 4 * width, heads, num_frames=frames,
                                image_size=(size, size), patch_size=patch)
        mae = MaskedAutoencoder(encoder, decoder=decoder, mask_ratio=mask_ratio,
                                decoder_width=decoder_width, decoder_depth=decoder_depth,
                                decoder_heads=decoder_heads, target_ratio=target_ratio,
                                norm_pix_loss=norm_pix_loss, seed=seed + index)
        start = time.time()
        history = pretrain(encoder, _batches(train, batch, seed + index), steps, mae=mae,
                           learning_rate=lr, verbose=2)
        seconds = time.time() - start
        loss, baseline = heldout_loss(mae, held)
        runs.append({"width": width, "depth": depth, "heads": heads,
                     "encoder_parameters": encoder.count_params(),
                     "train_seconds": round(seconds, 1), "load_average": os.getloadavg()[0],
                     "heldout_loss": loss, "predict_mean_baseline": baseline,
                     "below_baseline": 1 - loss / baseline, "first_loss": history["loss"][0],
                     "last_20_mean_loss": float(np.mean(history["loss"][-20:])),
                     "history": history})
        if index == len(sizes) - 1:
            from keras4ds.mae.visualize import draw_reconstruction

            draw_reconstruction(mae, held[:1], out)
    _plot(runs, os.path.join(out, "mae_loss.png"))
    result = {"config": config, "runs": runs}
    write_json(os.path.join(out, "convergence.json"), result, indent=None)
    return result


def compare(folders, path):
    """One plot of the runs of several `convergence` outputs (`folders`), each labelled by
    its decoder, learning rate and seed with its held-out loss; returns the labels."""
    runs, labels = [], []
    for folder in folders:
        with open(os.path.join(folder, "convergence.json")) as f:
            result = json.load(f)
        c = result["config"]
        ratio = c["target_ratio"] or 1.0
        for run in result["runs"]:
            runs.append(run)
            labels.append(f"{c['decoder']} {c['decoder_width']}/{c['decoder_depth']}, "
                          f"{ratio:.0%} of targets, lr {c['lr']:g}, seed {c['seed']}: held out "
                          f"{run['heldout_loss']:.4f}")
    _plot(runs, path, labels)
    return labels


def _plot(runs, path, labels=None):
    """Per-step training loss (20-step mean) of each run and its held-out baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for index, run in enumerate(runs):
        loss = np.asarray(run["history"]["loss"])
        window = min(20, len(loss))
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        label = (labels[index] if labels else
                 f"width {run['width']}, depth {run['depth']}: held out {run['heldout_loss']:.3f}")
        line, = ax.plot(run["history"]["step"][window - 1:], smooth, label=label)
        ax.plot(run["history"]["step"], loss, alpha=0.2, color=line.get_color())
    ax.axhline(runs[-1]["predict_mean_baseline"], color="k", ls="--",
               label="predict-the-mean baseline (held out)")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE, normalised pixels of masked tubelets")
    ax.legend(fontsize=8)
    fig.tight_layout()
    write_staged(path, lambda staged: fig.savefig(staged, dpi=100))


def stateless_train_step(mae):
    """A pure JAX train step of a compiled `mae` (optimizer built), for `jax.jit`:
    `(trainable, non_trainable, optimizer_vars, video) -> (loss, trainable,
    non_trainable, optimizer_vars)`, the lists in Keras' variable order."""
    import jax
    import keras

    def step(trainable, non_trainable, opt_vars, x):
        def loss_fn(trainable):
            (pred, target), nt = mae.stateless_call(trainable, non_trainable, x)
            return keras.ops.mean((pred - target) ** 2), nt
        (loss, nt), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
        trainable, opt_vars = mae.optimizer.stateless_apply(opt_vars, grads, trainable)
        return loss, trainable, nt, opt_vars

    return step


def steptime(size, frames, image_size, batch, repeats=5, decoders=("standard", "masked", "cross")):
    """Seconds per jitted train step and XLA temp bytes (JAX) for each decoder, and for the
    full-token encoder forward."""
    import jax

    from keras4ds.mae import MaskedAutoencoder, make_optimizer
    from keras4ds.models import FourDSEncoder

    video = np.random.default_rng(0).random((batch, frames, image_size, image_size, 3)).astype("float32")
    rows = []
    encoder = FourDSEncoder.from_size(size, num_frames=frames, image_size=(image_size, image_size))

    def forward(params, x):
        values, _ = encoder.stateless_call(params, [], x)
        return values

    weights = [v.value for v in encoder.trainable_variables]
    rows.append(("encoder forward, all tokens",) + _time(jax.jit(forward), weights, video, repeats))
    for kind in decoders:
        mae = MaskedAutoencoder(encoder, decoder=kind, mask_ratio=0.95)
        mae.compile(optimizer=make_optimizer(1e-4, 100))
        mae.optimizer.build(mae.trainable_variables)
        trainable = [v.value for v in mae.trainable_variables]
        non_trainable = [v.value for v in mae.non_trainable_variables]
        opt_vars = [v.value for v in mae.optimizer.variables]

        step = stateless_train_step(mae)
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


def _sizes(text):
    """'32:2:2,64:2:4' -> ((32, 2, 2), (64, 2, 4)): encoder width:depth:heads per size."""
    try:
        sizes = tuple(tuple(int(n) for n in item.split(":")) for item in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected width:depth:heads[,...], got {text!r}") from None
    if any(len(s) != 3 for s in sizes):
        raise argparse.ArgumentTypeError(f"expected width:depth:heads[,...], got {text!r}")
    return sizes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("convergence", "steptime", "compare"))
    parser.add_argument("--out", default=".", help="a folder; compare: the PNG to write")
    parser.add_argument("--runs", nargs="+", help="compare: convergence output folders")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--sizes", type=_sizes, default=((32, 2, 2), (64, 2, 4), (128, 2, 4)),
                        help="convergence: encoder width:depth:heads, comma-separated")
    parser.add_argument("--mask-ratio", type=float, default=0.75)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--pretrain-batch", type=int, default=8)
    parser.add_argument("--decoder", default="standard")
    parser.add_argument("--decoder-width", type=int, default=64)
    parser.add_argument("--decoder-depth", type=int, default=2)
    parser.add_argument("--decoder-heads", type=int, default=4)
    parser.add_argument("--target-ratio", type=float, default=None,
                        help="fraction of the masked tokens decoded (default: the decoder's)")
    parser.add_argument("--clips", type=int, default=96, help="convergence: training scenes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--raw-pixels", action="store_true", help="un-normalised targets")
    parser.add_argument("--texture-scale", type=float, default=1.0,
                        help="scene texture frequency multiplier (generate_clip option)")
    parser.add_argument("--size", default="ti")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    if args.mode == "compare":
        for label in compare(args.runs, args.out):
            print(label)
        return
    os.makedirs(args.out, exist_ok=True)
    if args.mode == "convergence":
        result = convergence(args.out, args.steps, args.sizes, mask_ratio=args.mask_ratio,
                             lr=args.lr, batch=args.pretrain_batch, decoder=args.decoder,
                             decoder_width=args.decoder_width, decoder_depth=args.decoder_depth,
                             decoder_heads=args.decoder_heads, target_ratio=args.target_ratio,
                             clips=args.clips, seed=args.seed, norm_pix_loss=not args.raw_pixels,
                             texture_scale=args.texture_scale)
        for run in result["runs"]:
            print(json.dumps({k: v for k, v in run.items() if k != "history"}))
    else:
        for name, seconds, temp in steptime(args.size, args.frames, args.image_size, args.batch):
            print(f"| {args.size} | {name} | {seconds * 1000:.0f} ms | {temp / 2**20:.0f} MiB |")


if __name__ == "__main__":
    main()
