"""`export_model` and `keras4ds export`: a SavedModel served by TensorFlow gives the Keras
model's outputs; ONNX where the backend and the installed packages allow."""
import os

import keras
import numpy as np
import pytest
from fixture_files import OFFICIAL_FORMAT
from keras import ops

from keras4ds.checkpoints import load_official
from keras4ds.checkpoints.export import export_model, export_unsupported
from keras4ds.models import FourDSEncoder
from keras4ds_apps.cli import main

DEPTH = os.path.join(OFFICIAL_FORMAT, "dev_depth.npz")


def video(shape=(16, 32, 32, 3)):
    return np.random.default_rng(0).uniform(size=(2, *shape)).astype("float32")


def require(format):
    reason = export_unsupported(format)
    if reason:
        pytest.skip(reason)


def served(path, x):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)  # held: its variables live as long as it does
    return loaded.serve(tf.constant(x)).numpy()


def test_saved_model_of_a_fresh_encoder_serves_its_outputs(tmp_path):
    require("tf_saved_model")
    keras.utils.set_random_seed(0)
    encoder = FourDSEncoder(16, 2, 32, 2, num_frames=4, image_size=(32, 32))  # never called
    out = export_model(encoder, tmp_path / "encoder")
    assert os.listdir(tmp_path) == ["encoder"]  # no staging folder left
    x = video((4, 32, 32, 3))
    np.testing.assert_allclose(served(out, x), ops.convert_to_numpy(encoder(x)),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(FileExistsError, match="not replacing it"):
        export_model(encoder, out)


def test_cli_exports_an_official_depth_file(tmp_path, capsys):
    require("tf_saved_model")
    out = tmp_path / "depth_saved_model"
    assert main(["export", DEPTH, str(out)]) == 0
    assert "exported DepthModel as tf_saved_model" in capsys.readouterr().out
    x = video()
    np.testing.assert_allclose(served(str(out), x),
                               ops.convert_to_numpy(load_official(DEPTH)(x)), rtol=1e-4, atol=1e-5)


def test_onnx_export(tmp_path):
    require("onnx")
    out = export_model(load_official(os.path.join(OFFICIAL_FORMAT, "dev_backbone.npz")),
                       tmp_path / "encoder.onnx", format="onnx")
    assert os.path.getsize(out) > 0 and os.listdir(tmp_path) == ["encoder.onnx"]


def test_unsupported_formats_say_why():
    assert "format must be one of" in export_unsupported("tflite")
    assert "torch_xla" in (export_unsupported("tf_saved_model", "torch") or "torch_xla")
    with pytest.raises(SystemExit):
        main(["export", DEPTH, "out", "--format", "tflite"])
