"""Keras preset folders: `config.json` + `model.weights.h5` (keras-hub layout)."""
import json
import os
import shutil
import tempfile

import keras

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"


def save_preset(model, directory):
    """Write `model` as a preset folder, atomically (a temp folder renamed into place)."""
    directory = os.path.abspath(os.fspath(directory))
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".preset-", dir=parent)
    try:
        with open(os.path.join(staging, CONFIG_FILE), "w") as f:
            json.dump(keras.saving.serialize_keras_object(model), f, indent=2)
        model.save_weights(os.path.join(staging, WEIGHTS_FILE))
        if os.path.exists(directory):
            shutil.rmtree(directory)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def load_preset(directory):
    """Rebuild a model from a preset folder written by `save_preset`, on any backend."""
    directory = os.fspath(directory)
    config_path = os.path.join(directory, CONFIG_FILE)
    weights_path = os.path.join(directory, WEIGHTS_FILE)
    for required in (config_path, weights_path):
        if not os.path.exists(required):
            raise FileNotFoundError(f"preset folder {directory!r} lacks {os.path.basename(required)}")
    import keras4ds.models  # noqa: F401  (registers the serializable classes)
    with open(config_path) as f:
        model = keras.saving.deserialize_keras_object(json.load(f))
    model.load_weights(weights_path)
    return model
