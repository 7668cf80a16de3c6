"""Child process (8 fake CPU devices, JAX): the MAE runner under `--distribution model --mesh
2x4`, killed-and-resumed (2 steps, then --resume to 4) against 4 steps in one go. Prints
one RESULT JSON line: the largest weight difference and the encoder's sharded weights."""
import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
os.environ["KERAS_BACKEND"] = "jax"

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402


def run(out, steps, resume=False):
    import keras

    from keras4ds.checkpoints import load_preset
    from keras4ds_apps import pretrain

    keras.backend.clear_session()
    args = ["--out", out, "--width", "32", "--depth", "1", "--mlp-dim", "64", "--heads", "4",
            "--frames", "4", "--image-size", "16", "--patch", "2", "4", "4", "--mask-ratio", "0.75",
            "--decoder-width", "16", "--decoder-depth", "1", "--decoder-heads", "4", "--batch", "4",
            "--checkpoint-every", "2", "--lr", "1e-3", "--steps", str(steps), "--seed", "2",
            "--distribution", "model", "--mesh", "2x4"] + (["--resume"] if resume else [])
    history = pretrain.main(args)
    sharded = sorted(v.path for v in load_preset(os.path.join(out, "encoder_preset")).weights)
    return history, sharded


def main(folder):
    import keras

    from keras4ds.checkpoints import load_preset

    run(os.path.join(folder, "split"), 2)
    resumed, _ = run(os.path.join(folder, "split"), 4, resume=True)
    whole, _ = run(os.path.join(folder, "whole"), 4)
    a, b = (load_preset(os.path.join(folder, name, "encoder_preset")) for name in ("split", "whole"))
    difference = max(float(np.abs(keras.ops.convert_to_numpy(x) - keras.ops.convert_to_numpy(y)).max())
                     for x, y in zip(a.weights, b.weights))
    from keras4ds_apps.distribute import distribution_scope

    with distribution_scope("model", "2x4"):
        encoder = load_preset(os.path.join(folder, "split", "encoder_preset"))
    layouts = {v.path: str(v.value.sharding.spec) for v in encoder.weights
               if "attention/query/kernel" in v.path}
    print("RESULT " + json.dumps({"resumed_steps": resumed["step"], "whole_loss": whole["loss"],
                                  "resumed_loss": resumed["loss"], "difference": difference,
                                  "layouts": layouts}))


if __name__ == "__main__":
    main(sys.argv[1])
