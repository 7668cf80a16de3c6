"""Child process (8 fake CPU devices, JAX): a small study run three times, without a
distribution, under `--distribution model --mesh 2x4` and under `--distribution data`.
Prints one RESULT JSON line: each run's depth rows and pretraining losses, and the
refusal of a batch that does not split over the mesh."""
import os

os.environ["XLA_FLAGS"] = " ".join(filter(None, [os.environ.get("XLA_FLAGS"),
                                                   "--xla_force_host_platform_device_count=8"]))
os.environ["KERAS_BACKEND"] = "jax"

import json  # noqa: E402
import sys  # noqa: E402

SMALL = ["--budget", "tiny", "--tasks", "depth", "--sizes", "w16:16:1:4", "w32:32:1:4",
         "--pretrain-clips", "8", "--pretrain-batch", "8", "--probe-train-clips", "8",
         "--probe-batch", "8", "--eval-clips", "8"]


def run_small_study(out, flags):
    """The SMALL study with `flags` in `out`: its depth rows, held-out MAE losses and
    distribution."""
    import keras

    from keras4ds_apps.study.main import main as study

    keras.backend.clear_session()
    study([*SMALL, *flags, "--out", out])
    with open(os.path.join(out, "results.json")) as f:
        saved = json.load(f)
    return {"depth": saved["summary"]["depth"]["rows"],
            "pretrain": {size: r["heldout_loss"] for size, r in saved["pretrain"].items()},
            "distribution": saved["distribution"]}


def main(folder):

    from keras4ds_apps.study.main import main as study

    runs = {}
    try:
        study([*SMALL, "--distribution", "model", "--mesh", "2x4", "--pretrain-batch", "3",
               "--out", os.path.join(folder, "refused")])
    except SystemExit as error:
        runs["refused"] = {"error": str(error),
                           "wrote": os.path.exists(os.path.join(folder, "refused"))}
    for name, flags in (("single", []), ("model", ["--distribution", "model", "--mesh", "2x4"]),
                        ("data", ["--distribution", "data"])):
        runs[name] = run_small_study(os.path.join(folder, name), flags)
    print("RESULT " + json.dumps(runs))


if __name__ == "__main__":
    main(sys.argv[1])
