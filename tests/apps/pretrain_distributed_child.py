"""Child process (8 fake CPU devices, JAX): the MAE runner under `--distribution model --mesh
2x4`, killed-and-resumed (2 steps, then --resume to 4; checkpoints written in the
background) against 4 steps in one go (written synchronously). Prints
one RESULT JSON line: the largest weight difference, the encoder's sharded weights, the
shardings the Orbax checkpoint saved, and whether a restore reads every array straight
into its variable's sharding."""
import os

os.environ["XLA_FLAGS"] = " ".join(filter(None, [os.environ.get("XLA_FLAGS"),
                                                   "--xla_force_host_platform_device_count=8"]))
os.environ["KERAS_BACKEND"] = "jax"

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402


def arguments(out, steps, resume=False, asynchronous=False):
    return ["--out", out, "--width", "32", "--depth", "1", "--mlp-dim", "64", "--heads", "4",
            "--frames", "4", "--image-size", "16", "--patch", "2", "4", "4", "--mask-ratio", "0.75",
            "--decoder-width", "16", "--decoder-depth", "1", "--decoder-heads", "4", "--batch", "4",
            "--checkpoint-every", "2", "--lr", "1e-3", "--steps", str(steps), "--seed", "2",
            "--distribution", "model", "--mesh", "2x4"] + (["--resume"] if resume else []) + (
                ["--async-checkpoints"] if asynchronous else [])


def run(out, steps, resume=False, asynchronous=False):
    import keras

    from keras4ds.checkpoints import load_preset
    from keras4ds_apps import pretrain

    keras.backend.clear_session()
    history = pretrain.main(arguments(out, steps, resume, asynchronous))
    sharded = sorted(v.path for v in load_preset(os.path.join(out, "encoder_preset")).weights)
    return history, sharded


def saved_shardings(checkpoints):
    """{saved array name: partition spec} of the newest step (Orbax's `_sharding` file)."""
    import base64

    step = max(int(name) for name in os.listdir(checkpoints) if name.isdigit())
    with open(os.path.join(checkpoints, str(step), "state", "_sharding")) as f:
        entries = json.load(f)
    return {base64.b64decode(key).decode(): json.loads(value)["partition_spec"]
            for key, value in entries.items()}


def restore_keeps_shardings(out):
    """Restore the newest checkpoint into a freshly built, distributed MAE and optimizer:
    the variables whose restored array is not already in the variable's sharding."""
    import keras

    from keras4ds.mae.checkpoint import TrainingCheckpointer
    from keras4ds.mae.optimizer import make_optimizer
    from keras4ds_apps import pretrain
    from keras4ds_apps.distribute import distribution_scope

    keras.backend.clear_session()
    args = pretrain.parse_args(arguments(out, 4))
    with distribution_scope("model", "2x4", args.batch):
        mae = pretrain.make_mae(args, pretrain.make_encoder(args))
        optimizer = make_optimizer(args.lr, args.steps, None, 0.05, 1.0)
        mae.compile(optimizer=optimizer)
        optimizer.build(mae.trainable_variables)
        checkpointer = TrainingCheckpointer(os.path.join(out, "checkpoints"))
        _, contents = checkpointer.read_latest(mae, optimizer)
        checkpointer.close()
    return [v.path for group, variables in (("model", mae.variables),
                                            ("optimizer", optimizer.variables))
            for i, v in enumerate(variables)
            if not contents["state"][group][f"{i:05d}"].sharding.is_equivalent_to(
                v.value.sharding, v.value.ndim)]


def main(folder):
    import keras

    from keras4ds.checkpoints import load_preset

    run(os.path.join(folder, "split"), 2, asynchronous=True)
    resumed, _ = run(os.path.join(folder, "split"), 4, resume=True, asynchronous=True)
    whole, _ = run(os.path.join(folder, "whole"), 4)
    a, b = (load_preset(os.path.join(folder, name, "encoder_preset")) for name in ("split", "whole"))
    difference = max(float(np.abs(keras.ops.convert_to_numpy(x) - keras.ops.convert_to_numpy(y)).max())
                     for x, y in zip(a.weights, b.weights))
    from keras4ds_apps.distribute import distribution_scope

    with distribution_scope("model", "2x4"):
        encoder = load_preset(os.path.join(folder, "split", "encoder_preset"))
    layouts = {v.path: str(v.value.sharding.spec) for v in encoder.weights
               if "attention/query/kernel" in v.path}
    saved = saved_shardings(os.path.join(folder, "split", "checkpoints"))
    print("RESULT " + json.dumps({"resumed_steps": resumed["step"], "whole_loss": whole["loss"],
                                  "resumed_loss": resumed["loss"], "difference": difference,
                                  "layouts": layouts,
                                  "saved_model_sharded": sum("model" in str(spec)
                                                             for spec in saved.values()),
                                  "saved_arrays": len(saved),
                                  "restored_off_sharding": restore_keeps_shardings(
                                      os.path.join(folder, "split"))}))


if __name__ == "__main__":
    main(sys.argv[1])
