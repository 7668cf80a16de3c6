"""How much token motion a study's frozen encoders carry: ridge and MLP probes.

  KERAS_BACKEND=jax python tools/motion_probe.py --study runs/study --out motion.json

For every encoder a finished (or partly run) study folder holds (`encoders/mae_*`,
`encoders/random_*`), its last hidden state h_L is computed on the study's probe-training
and held-out scenes, and each token's features are regressed on its tracks' mean speed and
signed velocity (dx, dy), pixels per frame (`feature_probes.token_speed`,
`token_velocity`): by the closed-form ridge of the study's feature probes, and by a
two-layer MLP (256 GELU units, Adam, 30 epochs) that can read motion encoded non-linearly.
Held-out R^2 per target; a pretrained encoder whose R^2 is below its random init's
has lost motion that pose, point and box readouts need. Prints a markdown table and
writes it to --out as JSON.
"""
import argparse
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

TARGETS = ("speed", "dx", "dy")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", required=True, help="a study output folder")
    parser.add_argument("--fit-clips", type=int, default=128,
                        help="probe-training scenes the probes fit on")
    parser.add_argument("--eval-clips", type=int, default=128, help="held-out scenes scored")
    parser.add_argument("--epochs", type=int, default=30, help="MLP training epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON output path")
    return parser.parse_args()


def token_rows(encoder, clips, count):
    """h_L token features `(n, D)` and motion targets `(n, 3)` of the first `count` clips,
    tokens without a track left out."""
    from keras4ds.readouts import compute_features
    from keras4ds_apps.study.feature_probes import token_speed, token_velocity

    clips = {k: clips[k][:count] for k in ("video", "tracks", "visible")}
    features = compute_features(encoder, clips["video"], encoder.depth, progress=True)
    targets = np.concatenate([token_speed(clips, encoder.grid, encoder.patch_size)[..., None],
                              token_velocity(clips, encoder.grid, encoder.patch_size)], -1)
    x, y = features.reshape(-1, features.shape[-1]), targets.reshape(-1, len(TARGETS))
    keep = np.isfinite(y).all(1)
    return x[keep].astype(np.float64), y[keep]


def r2(prediction, target):
    return float(1 - np.sum((prediction - target) ** 2) / np.sum((target - target.mean()) ** 2))


def mlp_r2(train_x, train_y, test_x, test_y, epochs, seed):
    """Held-out R^2 per target column of a two-layer MLP on standardised features."""
    import keras

    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    y_mean, y_std = train_y.mean(0), train_y.std(0) + 1e-9
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Dense(256, activation="gelu"),
                              keras.layers.Dense(256, activation="gelu"),
                              keras.layers.Dense(train_y.shape[1])])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    model.fit((train_x - mean) / std, (train_y - y_mean) / y_std, batch_size=512,
              epochs=epochs, verbose=0)
    prediction = model.predict((test_x - mean) / std, verbose=0) * y_std + y_mean
    return [r2(prediction[:, k], test_y[:, k]) for k in range(train_y.shape[1])]


def main():
    args = parse_args()
    from keras4ds.checkpoints import load_preset
    from keras4ds.models import FourDSEncoder
    from keras4ds_apps.study.feature_probes import ridge_r2
    from keras4ds_apps.study.store import StudyFolder

    folder = StudyFolder(args.study)
    clip_files = [folder.clips("probe_train"), folder.clips("eval")]
    presets = sorted(glob.glob(os.path.join(folder.root, "encoders", "*_*")))
    missing = [path for path in clip_files if not os.path.exists(path)]
    if missing or not presets:
        sys.exit(f"motion_probe: {args.study} is not a study folder with encoders and "
                 f"clips (missing: {missing or 'encoders/'})")
    train, evaluation = (dict(np.load(path)) for path in clip_files)
    rows = []
    print("| encoder | tokens fit | ridge R^2 speed / dx / dy | MLP R^2 speed / dx / dy |")
    print("|---|---:|---:|---:|")
    for preset in presets:
        encoder = load_preset(preset, expected=FourDSEncoder)
        train_x, train_y = token_rows(encoder, train, args.fit_clips)
        test_x, test_y = token_rows(encoder, evaluation, args.eval_clips)
        ridge = [ridge_r2(train_x, train_y[:, k], test_x, test_y[:, k])
                 for k in range(len(TARGETS))]
        mlp = mlp_r2(train_x, train_y, test_x, test_y, args.epochs, args.seed)
        name = os.path.basename(preset)
        rows.append({"encoder": name, "tokens": len(train_x),
                     "ridge": dict(zip(TARGETS, ridge)), "mlp": dict(zip(TARGETS, mlp))})
        fmt = lambda values: " / ".join(f"{v:.3f}" for v in values)  # noqa: E731
        print(f"| {name} | {len(train_x)} | {fmt(ridge)} | {fmt(mlp)} |", flush=True)
    if args.out:
        from keras4ds.utils import write_json

        write_json(args.out, {"study": os.path.abspath(args.study), "fit_clips": args.fit_clips,
                              "eval_clips": args.eval_clips, "rows": rows}, indent=1)


if __name__ == "__main__":
    main()
