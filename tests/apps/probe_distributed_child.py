"""Child process (8 fake CPU devices, JAX): the probe runner under `--distribution model
--mesh 2x4` and `--distribution data`. Prints one RESULT JSON line: each run's metrics
and the shardings of the trained readout's encoder weights when it is loaded back under
the same mesh."""
import os

os.environ["XLA_FLAGS"] = " ".join(filter(None, [os.environ.get("XLA_FLAGS"),
                                                   "--xla_force_host_platform_device_count=8"]))
os.environ["KERAS_BACKEND"] = "jax"

import json  # noqa: E402
import sys  # noqa: E402


def arguments(out, *distribution):
    return ["--out", out, "--width", "32", "--depth", "1", "--heads", "4", "--frames", "4",
            "--image-size", "32", "--patch-size", "2", "8", "8", "--train-clips", "8",
            "--eval-clips", "8", "--steps", "2", "--batch-size", "8", "--num-params", "16",
            *distribution]


def main(folder):
    import keras

    from keras4ds.readouts import load_readout
    from keras4ds_apps import probe
    from keras4ds_apps.distribute import distribution_scope

    runs = {}
    for name, flags in (("model", ["--distribution", "model", "--mesh", "2x4"]),
                        ("data", ["--distribution", "data"])):
        keras.backend.clear_session()
        out = os.path.join(folder, name)
        result = probe.main("depth", arguments(out, *flags))
        keras.backend.clear_session()
        with distribution_scope(*(("model", "2x4") if name == "model" else ("data",))):
            readout = load_readout(os.path.join(out, "depth_readout.keras"), "depth")
        runs[name] = {"abs_rel": result["metrics"]["abs_rel"],
                      "query_specs": sorted({str(v.value.sharding.spec) for v in readout.encoder.weights
                                             if v.path.endswith("attention/query/kernel")})}
    print("RESULT " + json.dumps(runs))


if __name__ == "__main__":
    main(sys.argv[1])
