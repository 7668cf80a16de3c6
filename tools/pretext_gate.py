"""Gate an MAE pretext before any readout is trained: does it make features carry 4D content?

  KERAS_BACKEND=jax python tools/pretext_gate.py --size w64:64:3:4 --steps 600 \
      --mask-ratio 0.9 --tube-masking --scene motion_scale=3 --out gate.json

Pretrains one encoder size on the study's procedural pretraining scenes (its seeds and
`generate_clip` options, `--scene KEY=VALUE`), with the given mask ratio, masking (random
or tube: the same spatial positions hidden in every frame, so a hidden tubelet cannot be
copied from the same place at another time), targets (per-tubelet normalised pixels, or
raw ones with `--raw-pixels`) and decoder. Then, for the pretrained encoder
and its random initialisation (the same weights it started from), every hidden state
h_0..h_L is ridge-probed (the study's closed-form `feature_probes.ridge_r2`, fit on the
first `--fit-clips` probe-training scenes, scored on `--eval-clips` held-out ones) for each
token's log depth, objectness, speed and signed velocity (dx, dy, pixels per frame), and
scored for label-free matching across frames (`feature_probes.correspondence_accuracy`).
Prints the held-out MAE loss and a markdown table of R^2; writes both to --out (JSON).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

TARGETS = ("log_depth", "objectness", "motion", "dx", "dy")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="w64:64:3:4", help="NAME:WIDTH:DEPTH:HEADS")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--mask-ratio", type=float, default=0.75)
    parser.add_argument("--tube-masking", action="store_true")
    parser.add_argument("--raw-pixels", action="store_true",
                        help="raw-pixel targets instead of per-tubelet normalised ones")
    parser.add_argument("--decoder", default="cross", choices=("standard", "masked", "cross"))
    parser.add_argument("--decoder-width", type=int, default=64)
    parser.add_argument("--decoder-depth", type=int, default=2)
    parser.add_argument("--pretrain-clips", type=int, default=512)
    parser.add_argument("--fit-clips", type=int, default=64)
    parser.add_argument("--eval-clips", type=int, default=128)
    parser.add_argument("--scene", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None, help="JSON output path")
    return parser.parse_args(argv)


def token_targets(clips, encoder):
    """The study's per-token targets plus the signed velocity, `{name: (B, N)}`."""
    from keras4ds_apps.study import feature_probes

    targets = feature_probes.token_targets(clips, encoder.grid, encoder.patch_size)
    velocity = feature_probes.token_velocity(clips, encoder.grid, encoder.patch_size)
    return {**targets, "dx": velocity[..., 0], "dy": velocity[..., 1]}


def layer_r2(encoder, fit, held_out, fit_targets, held_targets):
    """`{"h0": {target: R^2}, ...}` for every hidden state of `encoder`."""
    import numpy as np

    from keras4ds.readouts import compute_features
    from keras4ds_apps.study.feature_probes import correspondence_accuracy, ridge_r2

    def flat(x):
        return x.reshape(-1, encoder.width).astype(np.float64)

    rows = {}
    for layer in range(encoder.depth + 1):
        a, b = (compute_features(encoder, clips["video"], layer) for clips in (fit, held_out))
        rows[f"h{layer}"] = {name: ridge_r2(flat(a), fit_targets[name].reshape(-1), flat(b),
                                            held_targets[name].reshape(-1))
                             for name in TARGETS}
        rows[f"h{layer}"]["matching"] = correspondence_accuracy(b, held_out, encoder.grid,
                                                                encoder.patch_size)
    return rows


def pixel_matching(clips, encoder):
    """`correspondence_accuracy` of the raw tubelet pixels: the matching yardstick."""
    from keras import ops

    from keras4ds.models.patches import patchify
    from keras4ds_apps.study.feature_probes import correspondence_accuracy

    patches = ops.convert_to_numpy(patchify(clips["video"], encoder.patch_size))
    patches = patches.reshape(len(clips["video"]), encoder.num_tokens, -1)
    return correspondence_accuracy(patches, clips, encoder.grid, encoder.patch_size)


def main(argv=None):
    args = parse_args(argv)
    from keras4ds.mae import MaskedAutoencoder, heldout_loss, pretrain
    from keras4ds_apps.study import clips as clip_sets
    from keras4ds_apps.study import encoders
    from keras4ds_apps.study.budgets import BUDGETS, EncoderSize
    from keras4ds_apps.study.main import _scene_options
    from keras4ds_apps.study.runner import VideoBatches

    scene = _scene_options(args.scene)
    budget = BUDGETS["default"].replace(scene_options=scene)
    size = EncoderSize.parse(args.size)

    def scenes(split, count, keys=None):
        clips = clip_sets.generate_clips(clip_sets.split_seeds(split, count), budget.num_frames,
                                         budget.image_size, budget.num_tracks,
                                         desc=f"{split} scenes", scene_options=scene)
        return clips if keys is None else {k: clips[k] for k in keys}

    videos = scenes("pretrain", args.pretrain_clips, ("video",))["video"]
    fit, held_out = scenes("probe_train", args.fit_clips), scenes("eval", args.eval_clips)
    random_init = encoders.build_encoder(budget, size, args.seed)
    encoder = encoders.build_encoder(budget, size, args.seed)  # the same weights, trained
    mae = MaskedAutoencoder(encoder, decoder=args.decoder, mask_ratio=args.mask_ratio,
                            decoder_width=args.decoder_width, decoder_depth=args.decoder_depth,
                            decoder_heads=4, tube_masking=args.tube_masking,
                            norm_pix_loss=not args.raw_pixels, seed=args.seed)
    start = time.time()
    history = pretrain(encoder, VideoBatches(videos, args.batch, args.seed), args.steps, mae=mae,
                       learning_rate=args.learning_rate, verbose=0)
    seconds = time.time() - start
    loss, mean = heldout_loss(mae, held_out["video"])
    fit_targets, held_targets = token_targets(fit, encoder), token_targets(held_out, encoder)
    result = {"settings": vars(args), "pretrain_seconds": seconds,
              "train_loss_last": float(sum(history["loss"][-20:]) / 20),
              "heldout_loss": loss, "heldout_mean_baseline": mean,
              "r2": {init: layer_r2(model, fit, held_out, fit_targets, held_targets)
                     for init, model in (("random", random_init), ("mae", encoder))}}
    result["pixel_matching"] = pixel_matching(held_out, encoder)
    print(f"{args.size}, {args.steps} steps in {seconds:.0f} s: held-out MAE loss {loss:.4f} "
          f"(predict-the-mean {mean:.4f}); matching by raw tubelet pixels (yardstick): "
          f"{result['pixel_matching']:.3f}")
    columns = (*TARGETS, "matching")
    print("| init | state | " + " | ".join(columns) + " |\n|---|---|" + "---:|" * len(columns))
    for init, rows in result["r2"].items():
        for state, r2 in rows.items():
            print(f"| {init} | {state} | " + " | ".join(f"{r2[t]:.3f}" for t in columns) + " |")
    if args.out:
        from keras4ds.utils import write_json

        write_json(args.out, result)


if __name__ == "__main__":
    main()
