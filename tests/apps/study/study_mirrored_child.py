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
from study_distributed_child import run_small_study  # noqa: E402


def main(folder):
    runs = {name: run_small_study(os.path.join(folder, name), flags)
            for name, flags in (("single", []), ("mirrored", ["--distribution", "mirrored"]))}
    print("RESULT " + json.dumps(runs))


if __name__ == "__main__":
    main(sys.argv[1])
