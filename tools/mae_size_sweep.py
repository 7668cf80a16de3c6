"""One MAE pretraining run for the size-scaling sweep of benchmarks/mae.md (2026-11-25).

  KERAS_BACKEND=jax taskset -c 1 python tools/mae_size_sweep.py NAME WIDTH:DEPTH:HEADS [flags]

Pretrains one encoder (MLP 4x width) at the study's shapes (16 x 64 x 64 clips, tubelets
(2, 8, 8)) on the study's 256 pretraining scenes (seeds 0..255) with the study's batch order
(`video_batches`), then scores the held-out loss on the study's 32 evaluation scenes (seeds
2,000,000..2,000,031) with fixed masks (mask seed 777), the same for every run. Clips are
cached as .npy in --out; one JSON line per run is appended to --out/results.jsonl.
"""
import argparse, json, os, sys, time
import numpy as np
p = argparse.ArgumentParser()
p.add_argument("name"); p.add_argument("size")
p.add_argument("--steps", type=int, default=300); p.add_argument("--batch", type=int, default=8)
p.add_argument("--lr", type=float, default=1e-3); p.add_argument("--warmup", type=int, default=None)
p.add_argument("--dw", type=int, default=64); p.add_argument("--dd", type=int, default=2); p.add_argument("--dh", type=int, default=4)
p.add_argument("--mask", type=float, default=0.75); p.add_argument("--seed", type=int, default=0)
p.add_argument("--ts", type=float, default=1.0); p.add_argument("--clips", type=int, default=256)
p.add_argument("--decoder", default="standard"); p.add_argument("--tr", type=float, default=None)
p.add_argument("--out", default="/tmp/mae_scaling")
p.add_argument("--raw", action="store_true"); p.add_argument("--save", default=None)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
from keras4ds.mae.benchmark import _videos, heldout_loss
from keras4ds.study.runner import video_batches
def cached(tag, seeds):
    f = os.path.join(a.out, f"clips_{tag}_ts{a.ts}.npy")
    if not os.path.exists(f):
        opts = {} if a.ts == 1.0 else {"texture_scale": a.ts}
        np.save(f, _videos(seeds, 16, 64, **opts))
    return np.load(f)
train = cached(f"train{a.clips}", range(a.clips))
held = cached("held32", range(2_000_000, 2_000_032))
import keras
from keras4ds.mae import MaskedAutoencoder, pretrain
from keras4ds.models import FourDSEncoder
w, d, h = (int(x) for x in a.size.split(":"))
keras.utils.set_random_seed(a.seed)
enc = FourDSEncoder(w, d, 4 * w, h, num_frames=16, image_size=(64, 64), patch_size=(2, 8, 8))
mae = MaskedAutoencoder(enc, decoder=a.decoder, target_ratio=a.tr, mask_ratio=a.mask, decoder_width=a.dw, decoder_depth=a.dd,
                        decoder_heads=a.dh, norm_pix_loss=not a.raw, seed=a.seed)
t0 = time.time()
hist = pretrain(enc, video_batches(train, a.batch, a.seed), a.steps, mae=mae, learning_rate=a.lr,
                warmup_steps=a.warmup, verbose=0)
sec = time.time() - t0
loss, base = heldout_loss(mae, held)
if a.save:
    from keras4ds.checkpoints import save_preset
    save_preset(enc, a.save)
r = dict(name=a.name, size=a.size, steps=a.steps, batch=a.batch, lr=a.lr, warmup=a.warmup, dw=a.dw,
         dd=a.dd, decoder=a.decoder, tr=a.tr, mask=a.mask, seed=a.seed, ts=a.ts, clips=a.clips, params=enc.count_params(),
         heldout=round(loss, 4), base=round(base, 4), sec=round(sec, 1), load=os.getloadavg()[0],
         last20=round(float(np.mean(hist["loss"][-20:])), 4))
print(json.dumps(r))
with open(os.path.join(a.out, "results.jsonl"), "a") as f:
    f.write(json.dumps(r) + "\n")
