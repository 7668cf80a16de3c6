"""Files that do not fit the official format get errors naming the key and the expectation."""
import os

import numpy as np
import pytest
from fixture_files import OFFICIAL_FORMAT

import keras4ds
from keras4ds.checkpoints import CheckpointError

FIXTURE = os.path.join(OFFICIAL_FORMAT, "dev_backbone.npz")


def write_modified(tmp_path, change):
    arrays = dict(np.load(FIXTURE))
    change(arrays)
    path = tmp_path / "modified.npz"
    np.savez(path, **arrays)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        keras4ds.load_official(tmp_path / "nope.npz")


def test_not_an_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(CheckpointError, match="not a readable .npz"):
        keras4ds.load_official(path)


def test_truncated_npz(tmp_path):
    path = tmp_path / "cut.npz"
    path.write_bytes(open(FIXTURE, "rb").read()[:5000])
    with pytest.raises(CheckpointError):
        keras4ds.load_official(path)


def test_missing_key(tmp_path):
    key = "params/processor/layers_1/mlp/dense_out/bias"
    path = write_modified(tmp_path, lambda a: a.pop(key))
    with pytest.raises(CheckpointError, match="missing key.*layers_1/mlp/dense_out/bias"):
        keras4ds.load_official(path)


def test_extra_key(tmp_path):
    path = write_modified(tmp_path, lambda a: a.update({"params/encoder/extra": np.zeros(3, np.float32)}))
    with pytest.raises(CheckpointError, match="unexpected keys.*params/encoder/extra"):
        keras4ds.load_official(path)


def test_wrong_shape(tmp_path):
    key = "params/processor/layers_2/attention/out/bias"
    path = write_modified(tmp_path, lambda a: a.update({key: np.zeros(31, np.float32)}))
    with pytest.raises(CheckpointError,
                       match=r"layers_2/attention/out/bias has shape \(31,\), expected \(32,\)"):
        keras4ds.load_official(path)


def test_wrong_dtype(tmp_path):
    key = "params/encoder/posenc/embeddings"
    path = write_modified(tmp_path, lambda a: a.update({key: a[key].astype(np.float16)}))
    with pytest.raises(CheckpointError, match="posenc/embeddings has dtype float16, expected float32"):
        keras4ds.load_official(path)


def test_gap_in_blocks(tmp_path):
    def drop_block(arrays):
        for key in [k for k in arrays if "/layers_1/" in k]:
            arrays.pop(key)
    with pytest.raises(CheckpointError, match="block indices"):
        keras4ds.load_official(write_modified(tmp_path, drop_block))


def test_bad_video_input():
    encoder = keras4ds.load_official(FIXTURE)
    with pytest.raises(ValueError, match=r"expected video of shape \(B, 16, 32, 32, 3\)"):
        encoder.hidden_states(np.zeros((1, 8, 32, 32, 3), np.float32))
    with pytest.raises(TypeError, match="uint8"):
        encoder(np.zeros((1, 16, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        encoder(np.full((1, 16, 32, 32, 3), 255.0, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        encoder(np.full((1, 16, 32, 32, 3), np.nan, np.float32))
