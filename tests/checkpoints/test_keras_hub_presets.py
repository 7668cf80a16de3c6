"""keras-hub conventions: functional models, `from_preset` / `save_to_preset` with
metadata, the named-preset registry resolved offline, quantised round trips."""
import json
import os
import sys
import types

import h5py
import keras
import numpy as np
import pytest
from fixture_files import OFFICIAL_FORMAT
from keras import ops

import keras4ds
from keras4ds.checkpoints import CheckpointError, load_official
from keras4ds.models import DepthModel, FourDSEncoder, registry
from keras4ds_apps.cli import main


def clip(batch=1, shape=(4, 32, 32, 3), seed=0):
    return np.random.default_rng(seed).uniform(size=(batch, *shape)).astype("float32")


def tiny_encoder():
    keras.utils.set_random_seed(0)
    return FourDSEncoder(16, 2, 32, 2, num_frames=4, image_size=(32, 32))


def numpy(x):
    return ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """`keras4ds convert` output of the official-format backbone and depth files."""
    root = tmp_path_factory.mktemp("converted")
    folders = {}
    for kind in ("backbone", "depth"):
        folders[kind] = str(root / kind)
        assert main(["convert", os.path.join(OFFICIAL_FORMAT, f"dev_{kind}.npz"),
                     folders[kind]]) == 0
    return folders


def test_models_are_functional():
    encoder = tiny_encoder()
    assert [tuple(x.shape) for x in encoder.inputs] == [(None, 4, 32, 32, 3)]
    assert tuple(encoder.output.shape) == (None, 8, 16)
    assert encoder.compute_output_shape((None, 4, 32, 32, 3)) == (None, 8, 16)
    lines = []
    encoder.summary(print_fn=lines.append)
    assert "block_1" in "\n".join(lines) and "(None, 8, 16)" in "\n".join(lines)
    depth = DepthModel(encoder, num_params=8, num_heads=2)
    assert tuple(depth.inputs[0].shape) == (None, 4, 32, 32, 3)
    assert depth.compute_output_shape((None, 4, 32, 32, 3)) == (None, 4, 32, 32, 1)
    assert encoder.weights[0].path == f"{encoder.name}/tubelet_embedding/kernel"


def test_from_preset_loads_convert_output(converted):
    for kind, cls in (("backbone", FourDSEncoder), ("depth", DepthModel)):
        official = load_official(os.path.join(OFFICIAL_FORMAT, f"dev_{kind}.npz"))
        model = cls.from_preset(converted[kind])
        assert type(model) is cls
        video = clip(shape=model.inputs[0].shape[1:])
        np.testing.assert_array_equal(numpy(model(video)), numpy(official(video)))
        with open(os.path.join(converted[kind], "metadata.json")) as f:
            metadata = json.load(f)
        assert metadata["keras_version"] == keras.__version__
        assert metadata["keras4ds_version"] == keras4ds.__version__
        assert metadata["parameter_count"] == model.count_params()
        assert metadata["class_name"] == cls.__name__ and metadata["date_saved"]
    with pytest.raises(CheckpointError, match="expected a FourDSEncoder"):
        FourDSEncoder.from_preset(converted["depth"])


def test_save_to_preset_and_old_folders(tmp_path):
    encoder = tiny_encoder()
    folder = encoder.save_to_preset(tmp_path / "enc")
    assert sorted(os.listdir(folder)) == ["config.json", "metadata.json", "model.weights.h5"]
    os.remove(os.path.join(folder, "metadata.json"))  # as presets were written before
    restored = FourDSEncoder.from_preset(folder)
    np.testing.assert_array_equal(numpy(restored(clip())), numpy(encoder(clip())))
    assert encoder.save_to_preset(folder) == folder  # an old folder is replaced whole


def test_depth_preset_in_the_earlier_weights_layout_loads(tmp_path):
    keras.utils.set_random_seed(1)
    model = DepthModel(tiny_encoder(), num_params=8, num_heads=2)
    folder = model.save_to_preset(tmp_path / "depth")
    with h5py.File(os.path.join(folder, "model.weights.h5"), "r+") as h5:
        h5.move("layers/depth_readout", "layers/attention_readout")  # the readout's old group
    restored = DepthModel.from_preset(folder)
    np.testing.assert_array_equal(numpy(restored(clip())), numpy(model(clip())))


def test_registry_names_resolve_to_converted_folders(converted, monkeypatch, tmp_path):
    assert {"4ds_b_backbone", "4ds_e_backbone", "4ds_b_depth"} <= set(registry.PRESETS)
    for entry in registry.PRESETS.values():
        assert entry["official_npz"].startswith(
            "https://storage.googleapis.com/representations4d/checkpoints/scaling4d_")
        assert entry["parameters"] > 0 and entry["description"]
    assert 85e6 < registry.PRESETS["4ds_b_backbone"]["parameters"] < 90e6
    assert 100e6 < registry.PRESETS["4ds_b_depth"]["parameters"] < 110e6
    monkeypatch.delenv(registry.PRESETS_ENV, raising=False)
    with pytest.raises(ValueError, match=r"not published as a Keras preset.*scaling4d_dist_b\.npz"
                                         r".*KERAS4DS_PRESETS is not set"):
        FourDSEncoder.from_preset("4ds_b_backbone")
    monkeypatch.setenv(registry.PRESETS_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="keras4ds convert scaling4d_dist_b_depth.npz"):
        DepthModel.from_preset("4ds_b_depth")
    os.symlink(converted["depth"], tmp_path / "4ds_b_depth")
    assert isinstance(DepthModel.from_preset("4ds_b_depth"), DepthModel)
    assert registry.resolve_preset(converted["backbone"]) == converted["backbone"]


def test_remote_handles_go_through_their_downloader(converted, monkeypatch):
    asked = []
    monkeypatch.setitem(registry.DOWNLOADERS, "kaggle://",
                        lambda handle: asked.append(handle) or converted["backbone"])
    monkeypatch.setitem(registry.DOWNLOADERS, "hf://",
                        lambda handle: asked.append(handle) or converted["depth"])
    assert isinstance(FourDSEncoder.from_preset("kaggle://me/4ds/keras/b/1"), FourDSEncoder)
    assert isinstance(DepthModel.from_preset("hf://me/4ds-depth"), DepthModel)
    assert asked == ["kaggle://me/4ds/keras/b/1", "hf://me/4ds-depth"]


def test_remote_handles_without_client_or_network(monkeypatch):
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # not installed
    with pytest.raises(ImportError, match="needs the kagglehub package: pip install kagglehub"):
        registry.resolve_preset("kaggle://me/4ds/keras/b/1")

    def offline(repo_id):
        raise OSError("network is unreachable")
    monkeypatch.setitem(sys.modules, "huggingface_hub",
                        types.SimpleNamespace(snapshot_download=offline))
    with pytest.raises(OSError, match=r"could not download preset 'hf://me/x' \(offline\?\)"):
        registry.resolve_preset("hf://me/x")


def test_int8_quantised_models_round_trip(tmp_path):
    video = clip()
    encoder = tiny_encoder()
    encoder.quantize("int8")
    expected = numpy(encoder(video))
    assert encoder.get_config()["quantized"]["block_0/attention/query"] == "int8"
    from_preset = FourDSEncoder.from_preset(encoder.save_to_preset(tmp_path / "int8"))
    np.testing.assert_array_equal(numpy(from_preset(video)), expected)
    encoder.save(tmp_path / "int8.keras")
    archived = keras.saving.load_model(tmp_path / "int8.keras")
    np.testing.assert_array_equal(numpy(archived(video)), expected)
    depth = DepthModel(tiny_encoder(), num_params=8, num_heads=2)
    depth.quantize("int8")
    restored = DepthModel.from_preset(depth.save_to_preset(tmp_path / "depth_int8"))
    assert restored.readout.head.quantization_mode == "int8"
    assert restored.encoder.blocks[0].mlp.dense_in.quantization_mode == "int8"
    np.testing.assert_array_equal(numpy(restored(video)), numpy(depth(video)))
