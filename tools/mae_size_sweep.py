"""One MAE pretraining run for the size-scaling sweep of benchmarks/mae.md (2026-11-25).

  KERAS_BACKEND=jax taskset -c 1 python tools/mae_size_sweep.py NAME WIDTH:DEPTH:HEADS [flags]

Pretrains one encoder (MLP 4x width) at the study's shapes (16 x 64 x 64 clips, tubelets
(2, 8, 8)) on the study's 256 pretraining scenes (seeds 0..255) with the study's batch order
(`VideoBatches`), then scores the held-out loss on the study's 32 evaluation scenes (seeds
2,000,000..2,000,031) with fixed masks (mask seed 777), the same for every run. Clips are
cached as .npy in --out; one JSON line per run is appended to --out/results.jsonl.
"""
import argparse
import json
import os
import time

import numpy as np


def parse_args():
    parser = argparse.ArgumentParser(description="One MAE run of the size-scaling sweep.")
    parser.add_argument("name", help="the run's name in results.jsonl")
    parser.add_argument("size", help="encoder WIDTH:DEPTH:HEADS (MLP 4x width)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps (default: pretrain's)")
    parser.add_argument("--dw", type=int, default=64, help="decoder width")
    parser.add_argument("--dd", type=int, default=2, help="decoder depth")
    parser.add_argument("--dh", type=int, default=4, help="decoder heads")
    parser.add_argument("--decoder", default="standard", help="standard, masked or cross")
    parser.add_argument("--tr", type=float, default=None, help="decoder target ratio")
    parser.add_argument("--mask", type=float, default=0.75)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ts", type=float, default=1.0, help="scene texture_scale")
    parser.add_argument("--clips", type=int, default=256, help="pretraining scenes")
    parser.add_argument("--raw", action="store_true", help="raw-pixel targets (no norm-pix loss)")
    parser.add_argument("--save", default=None, help="save the encoder as a preset folder here")
    parser.add_argument("--out", default="/tmp/mae_scaling")
    return parser.parse_args()


def cached_videos(args, tag, seeds):
    """Procedural clips of `seeds`, generated once and kept as .npy in args.out."""
    from keras4ds_apps.study.clips import generate_clips

    path = os.path.join(args.out, f"clips_{tag}_ts{args.ts}.npy")
    if not os.path.exists(path):
        options = {} if args.ts == 1.0 else {"texture_scale": args.ts}
        np.save(path, generate_clips(seeds, 16, 64, 1, desc="scenes",
                                     scene_options=options)["video"].astype("float32"))
    return np.load(path)


def main(args):
    import keras

    from keras4ds.mae import MaskedAutoencoder, pretrain
    from keras4ds.mae.evaluate import heldout_loss
    from keras4ds.models import FourDSEncoder
    from keras4ds_apps.study.runner import VideoBatches

    os.makedirs(args.out, exist_ok=True)
    train = cached_videos(args, f"train{args.clips}", range(args.clips))
    held_out = cached_videos(args, "held32", range(2_000_000, 2_000_032))
    width, depth, heads = (int(n) for n in args.size.split(":"))
    keras.utils.set_random_seed(args.seed)
    encoder = FourDSEncoder(width, depth, 4 * width, heads, num_frames=16, image_size=(64, 64),
                            patch_size=(2, 8, 8))
    mae = MaskedAutoencoder(encoder, decoder=args.decoder, target_ratio=args.tr,
                            mask_ratio=args.mask, decoder_width=args.dw, decoder_depth=args.dd,
                            decoder_heads=args.dh, norm_pix_loss=not args.raw, seed=args.seed)
    start = time.time()
    history = pretrain(encoder, VideoBatches(train, args.batch, args.seed), args.steps, mae=mae,
                       learning_rate=args.lr, warmup_steps=args.warmup, verbose=0)
    seconds = time.time() - start
    loss, baseline = heldout_loss(mae, held_out)
    if args.save:
        from keras4ds.checkpoints import save_preset
        save_preset(encoder, args.save)
    row = {**{k: v for k, v in vars(args).items() if k not in ("out", "save")},
           "params": encoder.count_params(), "heldout": round(loss, 4), "base": round(baseline, 4),
           "sec": round(seconds, 1), "load": os.getloadavg()[0],
           "last20": round(float(np.mean(history["loss"][-20:])), 4)}
    print(json.dumps(row))
    with open(os.path.join(args.out, "results.jsonl"), "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(parse_args())
