"""The encoder and depth model reproduce the official outputs on every backend."""
import os

import numpy as np
import pytest
from fixture_files import OFFICIAL_FORMAT as FIXTURES
from keras import ops
from official_reference import random_backbone_arrays, random_readout_arrays, reference_aux, reference_depth

import keras4ds


def relative_error(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))


def official_aux_from_ours(states):
    """Our `[h_0 .. h_L]` mapped to the official `[h_0, h_0, h_1, ..., h_{L-1}]`."""
    return [states[0]] + states[:-1]


@pytest.fixture(scope="module")
def fixture_io():
    return np.load(os.path.join(FIXTURES, "dev_io.npz"))


def test_fixture_hidden_states_match_official(fixture_io):
    encoder = keras4ds.load_official(os.path.join(FIXTURES, "dev_backbone.npz"))
    states = [ops.convert_to_numpy(s) for s in encoder.hidden_states(fixture_io["video"])]
    assert len(states) == encoder.depth + 1 == 5
    for k, state in enumerate(official_aux_from_ours(states)):
        assert relative_error(state, fixture_io[f"aux_{k}"]) < 1e-4, k


def test_fixture_depth_matches_official(fixture_io):
    model = keras4ds.load_official(os.path.join(FIXTURES, "dev_depth.npz"))
    depth = ops.convert_to_numpy(model(fixture_io["video"]))
    assert depth.shape == (2, 16, 32, 32, 1)
    assert relative_error(depth, fixture_io["depth"]) < 1e-4
    assert model.readout_index == 2 and model.encoder.depth == 4


@pytest.mark.parametrize("width,depth,mlp,heads,frames,size", [
    (48, 3, 96, 3, 8, (48, 32)),     # non-square frames, MLP ratio 2
    (64, 5, 320, 4, 4, (16, 64)),    # MLP ratio 5, wide frames
])
def test_other_official_models_match_reference(tmp_path, width, depth, mlp, heads, frames, size):
    rng = np.random.default_rng(width + depth)
    grid = (frames // 2, size[0] // 16, size[1] // 16)
    arrays = random_backbone_arrays(rng, width, depth, mlp, heads, grid)
    path = tmp_path / "backbone.npz"
    np.savez(path, **arrays)
    video = rng.uniform(0, 1, (2, frames, *size, 3)).astype(np.float32)
    encoder = keras4ds.load_official(path)
    assert (encoder.width, encoder.depth, encoder.mlp_dim, encoder.num_heads) == (width, depth, mlp, heads)
    assert encoder.input_video_shape == (frames, *size, 3)
    want, _ = reference_aux(arrays, video)
    got = official_aux_from_ours([ops.convert_to_numpy(s) for s in encoder.hidden_states(video)])
    for k, (g, w) in enumerate(zip(got, want)):
        assert relative_error(g, w) < 1e-4, k


def test_other_depth_model_matches_reference(tmp_path):
    rng = np.random.default_rng(7)
    width, depth, heads, frames, size, patch = 32, 3, 2, 8, (32, 48), (2, 8, 8)
    arrays = random_backbone_arrays(rng, width, depth, 64, heads, (4, 2, 3),
                                    prefix="params/layers_0/")
    queries = (frames // 2) * (size[0] // 8) * (size[1] // 8)
    arrays.update(random_readout_arrays(rng, width, 48, 4, queries, frames, 128))
    path = tmp_path / "depth.npz"
    np.savez(path, **arrays)
    video = rng.uniform(0, 1, (1, frames, *size, 3)).astype(np.float32)
    model = keras4ds.load_official(path)
    assert model.decoding_patch_size == patch
    got = ops.convert_to_numpy(model(video))
    assert relative_error(got, reference_depth(arrays, video, patch)) < 1e-4


def test_official_readout_selection():
    assert keras4ds.official_readout_index(12) == 10  # 4DS-B reads h_10
    assert keras4ds.official_readout_index(4) == 2
    assert keras4ds.official_readout_index(56) == 52  # aux[53] = h_52
