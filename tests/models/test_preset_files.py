"""Preset folders are checked before they are trusted; saving never loses the good copy;
written files get the usual modes. Real files only: presets are saved, then damaged."""
import json
import os
import re
import shutil

import h5py
import keras
import numpy as np
import pytest
import tiny_models
from fixture_files import OFFICIAL_FORMAT
from keras import ops

from keras4ds.checkpoints import (
    CheckpointError,
    load_official,
    load_preset,
    save_preset,
    write_random_official,
)
from keras4ds.models import DepthModel, FourDSEncoder
from keras4ds_apps.cli import main

STAGING = ".preset-enc.staging-4242-0123abcd"  # as a save killed while writing leaves it
ASIDE = ".preset-enc.old"  # as a save killed before renaming the new folder in leaves it


def tiny_encoder(seed=0, width=16):
    return tiny_models.tiny_encoder(width, depth=1, image_size=(32, 32), patch_size=(2, 16, 16),
                                    seed=seed, name="tiny")


def tiny_depth_model():
    return tiny_models.tiny_depth_model(tiny_encoder(), num_params=8)


def arrays_of(model):
    return [ops.convert_to_numpy(w) for w in model.weights]


def assert_same_weights(model, other):
    for a, b in zip(arrays_of(model), arrays_of(other), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Presets saved once: 'enc' (width 16), 'wide' (width 32) and 'depth'."""
    root = tmp_path_factory.mktemp("saved")
    models = {"enc": tiny_encoder(), "wide": tiny_encoder(width=32), "depth": tiny_depth_model()}
    return {name: (save_preset(model, root / name), model) for name, model in models.items()}


@pytest.fixture
def enc(saved, tmp_path):
    """A fresh copy of the 'enc' preset to damage, at `tmp_path/enc`."""
    return shutil.copytree(saved["enc"][0], tmp_path / "enc")


@pytest.fixture
def umask():
    """`umask(mask)` sets the process umask for the test; the old one comes back after."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def in_file(path, message):
    """A `match` pattern: the path, then `message` (a regex)."""
    return re.escape(str(path)) + message


# Checks on load.

def test_intact_presets_load_as_their_kind(saved):
    encoder = load_preset(saved["enc"][0], expected=FourDSEncoder)
    assert_same_weights(encoder, saved["enc"][1])
    depth = load_preset(saved["depth"][0], expected=keras.Model)
    assert isinstance(depth, DepthModel)
    assert_same_weights(depth, saved["depth"][1])


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=in_file(tmp_path / "nope", " does not exist")):
        load_preset(tmp_path / "nope")


def test_folder_without_weights(enc):
    os.remove(os.path.join(enc, "model.weights.h5"))
    with pytest.raises(FileNotFoundError, match=in_file(enc, " lacks model.weights.h5")):
        load_preset(enc)


def test_corrupt_config_json(enc):
    config = os.path.join(enc, "config.json")
    with open(config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(text[: len(text) // 2])
    with pytest.raises(CheckpointError, match=in_file(config, " is not valid JSON")):
        load_preset(enc)


def test_config_that_is_not_a_model(enc):
    config = os.path.join(enc, "config.json")
    with open(config, "w") as f:
        json.dump([1, 2, 3], f)
    with pytest.raises(CheckpointError, match=in_file(
            config, r": expected a serialized Keras model .*'class_name' and 'config'")):
        load_preset(enc)


def test_config_that_cannot_build(enc):
    config = os.path.join(enc, "config.json")
    with open(config) as f:
        serialized = json.load(f)
    serialized["config"]["image_size"] = [30, 32]
    with open(config, "w") as f:
        json.dump(serialized, f)
    with pytest.raises(CheckpointError, match=in_file(
            config, r": cannot build a FourDSEncoder from its config: .*divisible by patch_size")):
        load_preset(enc)


def test_depth_preset_where_an_encoder_is_expected(saved):
    config = os.path.join(saved["depth"][0], "config.json")
    with pytest.raises(CheckpointError, match=in_file(
            config, ": holds a DepthModel, expected a FourDSEncoder")):
        load_preset(saved["depth"][0], expected=FourDSEncoder)


def test_truncated_weights(enc):
    weights = os.path.join(enc, "model.weights.h5")
    with open(weights, "rb") as f:
        data = f.read()
    with open(weights, "wb") as f:
        f.write(data[: len(data) - 1000])
    with pytest.raises(CheckpointError, match=in_file(
            weights, " is not a complete HDF5 weights file: .*truncated")):
        load_preset(enc)


def test_weights_of_another_width(enc, saved):
    weights = shutil.copy(os.path.join(saved["wide"][0], "model.weights.h5"), enc)
    with pytest.raises(CheckpointError, match=in_file(
            weights, r": variable 'tiny/block_0/\S+' \(key '\S+/vars/\d'\) has shape "
                     r"\(32, .*\), the config expects \(16, ")):
        load_preset(enc)


def test_weights_missing_a_variable(enc):
    weights = os.path.join(enc, "model.weights.h5")
    with h5py.File(weights, "a") as h5:
        del h5["blocks/transformer_block/mlp/dense_in/vars/1"]
    with pytest.raises(CheckpointError, match=in_file(
            weights, r": variable 'tiny/block_0/mlp/dense_in/bias' \(key "
                     r"'blocks/transformer_block/mlp/dense_in/vars/1'\) is missing, the config "
                     r"expects shape \(32,\)")):
        load_preset(enc)


def test_depth_weights_in_an_encoder_preset(enc, saved):
    weights = shutil.copy(os.path.join(saved["depth"][0], "model.weights.h5"), enc)
    with pytest.raises(CheckpointError, match=in_file(
            weights, r": variable 'tiny/\S+' \(key '\S+'\) is missing, the config expects")):
        load_preset(enc)


def test_weights_with_an_extra_array(enc):
    weights = os.path.join(enc, "model.weights.h5")
    with h5py.File(weights, "a") as h5:
        h5["layers/extra/vars/0"] = np.zeros(3, np.float32)
    with pytest.raises(CheckpointError, match=in_file(
            weights, r": holds 1 arrays the config does not expect, e.g. "
                     r"\['layers/extra/vars/0'\]")):
        load_preset(enc)


def test_official_file_of_the_other_kind():
    depth_file = os.path.join(OFFICIAL_FORMAT, "dev_depth.npz")
    with pytest.raises(CheckpointError, match=in_file(
            depth_file, r"': holds a DepthModel \(depth file\), expected a FourDSEncoder")):
        load_official(depth_file, expected=FourDSEncoder)
    backbone_file = os.path.join(OFFICIAL_FORMAT, "dev_backbone.npz")
    with pytest.raises(CheckpointError, match="holds a FourDSEncoder .*expected a DepthModel"):
        load_official(backbone_file, expected=DepthModel)


# Replacing a preset, and what a killed save leaves behind.

def test_replacing_a_preset_leaves_only_the_new_one(tmp_path):
    save_preset(tiny_encoder(seed=1), tmp_path / "enc")
    new = tiny_encoder(seed=2)
    save_preset(new, tmp_path / "enc")
    assert os.listdir(tmp_path) == ["enc"]
    assert_same_weights(load_preset(tmp_path / "enc"), new)


def test_kill_after_moving_the_old_folder_aside(enc, tmp_path):
    os.rename(enc, tmp_path / ASIDE)
    os.mkdir(tmp_path / STAGING)
    with pytest.warns(UserWarning, match=in_file(tmp_path / "enc", " was missing after an "
                                                 "interrupted save_preset; restored")):
        restored = load_preset(tmp_path / "enc")
    assert_same_weights(restored, tiny_encoder())
    assert sorted(os.listdir(tmp_path)) == [STAGING, "enc"]


def test_failed_save_after_a_killed_one_keeps_the_old_copy(enc, tmp_path):
    os.rename(enc, tmp_path / ASIDE)
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not yet been built"):
        save_preset(unbuilt, tmp_path / "enc")
    assert os.listdir(tmp_path) == ["enc"]
    assert_same_weights(load_preset(tmp_path / "enc"), tiny_encoder())


def test_kill_while_writing_then_next_save_cleans_up(enc, tmp_path):
    shutil.copytree(enc, tmp_path / STAGING)
    os.remove(tmp_path / STAGING / "model.weights.h5")
    other_preset_staging = ".preset-enc2.staging-4242-0123abcd"
    os.mkdir(tmp_path / other_preset_staging)
    assert_same_weights(load_preset(enc), tiny_encoder())
    new = tiny_encoder(seed=3)
    save_preset(new, enc)
    assert sorted(os.listdir(tmp_path)) == [other_preset_staging, "enc"]
    assert_same_weights(load_preset(enc), new)


def test_kill_before_deleting_the_old_folder(enc, tmp_path, saved):
    shutil.copytree(saved["wide"][0], tmp_path / ASIDE)
    assert_same_weights(load_preset(enc), tiny_encoder())
    save_preset(tiny_encoder(), enc)
    assert os.listdir(tmp_path) == ["enc"]


def test_save_refuses_to_replace_a_folder_that_is_not_a_preset(tmp_path):
    (tmp_path / "enc").mkdir()
    (tmp_path / "enc" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=in_file(
            tmp_path / "enc", r" holds \['notes.txt'\] besides a preset .*not replacing it")):
        save_preset(tiny_encoder(), tmp_path / "enc")
    assert os.listdir(tmp_path / "enc") == ["notes.txt"]
    assert os.listdir(tmp_path) == ["enc"]


# File modes follow the umask, as a plain open() or mkdir() would.

def mode(path):
    return os.stat(path).st_mode & 0o777


@pytest.mark.parametrize("mask", [0o022, 0o027], ids=["umask022", "umask027"])
def test_preset_modes_follow_the_umask(tmp_path, umask, mask):
    umask(mask)
    out = save_preset(tiny_encoder(), tmp_path / "enc")
    assert mode(out) == 0o777 & ~mask
    assert [mode(os.path.join(out, name)) for name in sorted(os.listdir(out))] == [
        0o666 & ~mask] * 3


def test_convert_output_modes(tmp_path, umask, capsys):
    umask(0o022)
    out = tmp_path / "preset"
    assert main(["convert", os.path.join(OFFICIAL_FORMAT, "dev_backbone.npz"), str(out)]) == 0
    assert (mode(out), mode(out / "config.json"), mode(out / "model.weights.h5")) == (
        0o755, 0o644, 0o644)


@pytest.mark.parametrize("mask", [0o022, 0o027], ids=["umask022", "umask027"])
def test_random_official_mode_follows_the_umask(tmp_path, umask, mask):
    umask(mask)
    path = write_random_official(tmp_path / "random.npz", width=16, depth=1, mlp_dim=32,
                                 num_frames=4, depth_readout=False)
    assert mode(path) == 0o666 & ~mask
    assert os.listdir(tmp_path) == ["random.npz"]
