"""Child process (TensorFlow, 2 logical CPU devices, set before TensorFlow starts): the
small study of `study_distributed_child.py` run alone and under `--distribution mirrored`.
Prints one RESULT JSON line: each run's depth rows, pretraining losses and distribution."""
import os

os.environ["KERAS_BACKEND"] = "tensorflow"

import json  # noqa: E402
import sys  # noqa: E402

import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from study_distributed_child import SMALL  # noqa: E402


def main(folder):
    import keras

    from keras4ds_apps.study.main import main as study

    runs = {}
    for name, flags in (("single", []), ("mirrored", ["--distribution", "mirrored"])):
        keras.backend.clear_session()
        out = os.path.join(folder, name)
        study([*SMALL, *flags, "--out", out])
        with open(os.path.join(out, "results.json")) as f:
            saved = json.load(f)
        runs[name] = {"depth": saved["summary"]["depth"]["rows"],
                      "pretrain": {size: r["heldout_loss"] for size, r in saved["pretrain"].items()},
                      "distribution": saved["distribution"]}
    print("RESULT " + json.dumps(runs))


if __name__ == "__main__":
    main(sys.argv[1])
