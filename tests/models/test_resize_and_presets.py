"""Cubic resize matches JAX; parameter counts from shapes; every preset size builds on paper."""
import numpy as np
import pytest

import keras4ds
from keras4ds.models.presets import SIZES, count_parameters, size_config
from keras4ds.models.resize import cubic_resize_matrix, resize_grid


@pytest.mark.backend_independent
@pytest.mark.parametrize("in_size,out_size", [(8, 16), (4, 16), (2, 16), (1, 16), (16, 8),
                                              (14, 20), (14, 7), (5, 5)])
def test_cubic_matrix_equals_jax_image_resize(in_size, out_size):
    import jax

    x = np.random.default_rng(0).normal(size=(in_size, 3)).astype(np.float32)
    want = np.asarray(jax.image.resize(x, (out_size, 3), "cubic"))
    got = cubic_resize_matrix(in_size, out_size) @ x
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.backend_independent
def test_resize_grid_equals_jax_on_all_axes():
    import jax

    grid = np.random.default_rng(1).normal(size=(8, 14, 14, 4)).astype(np.float32)
    want = np.asarray(jax.image.resize(grid, (4, 16, 20, 4), "cubic"))
    np.testing.assert_allclose(resize_grid(grid, (4, 16, 20)), want, rtol=1e-4, atol=1e-5)


@pytest.mark.backend_independent
def test_parameter_counts_from_shapes():
    assert count_parameters(**size_config("b")) == 87_439_104
    assert count_parameters(**size_config("e")) == 3_809_464_064
    assert count_parameters(**size_config("4DS-B")) == 87_439_104
    assert size_config("G")["width"] == 1664 and size_config("g")["width"] == 1408
    assert 20e9 < count_parameters(**size_config("22b")) < 23e9
    with pytest.raises(ValueError, match="unknown 4DS size"):
        size_config("xl")


def test_count_matches_a_built_model():
    encoder = keras4ds.FourDSEncoder(48, 2, 96, 3, num_frames=4, image_size=(32, 48))
    assert encoder.count_params() == count_parameters(48, 2, 96, 3, num_frames=4,
                                                      image_size=(32, 48))
    assert encoder.grid == (2, 2, 3) and encoder.num_tokens == 12


def test_ti_preset_builds_and_runs():
    encoder = keras4ds.FourDSEncoder.from_size("ti", num_frames=2, image_size=(32, 32))
    assert (encoder.width, encoder.depth, encoder.mlp_dim, encoder.num_heads) == SIZES["ti"]
    out = encoder(np.random.default_rng(0).uniform(size=(1, 2, 32, 32, 3)).astype("float32"))
    assert tuple(out.shape) == (1, 4, 192)


def test_resized_encoder_keeps_weights_and_resizes_position_embedding():
    from keras import ops

    encoder = keras4ds.FourDSEncoder(32, 2, 64, 2, num_frames=8, image_size=(32, 32))
    bigger = encoder.resized(num_frames=16, image_size=(48, 64))
    assert bigger.grid == (8, 3, 4) and bigger.input_video_shape == (16, 48, 64, 3)
    old = ops.convert_to_numpy(encoder.position_embedding.embeddings)
    new = ops.convert_to_numpy(bigger.position_embedding.embeddings)
    np.testing.assert_allclose(new, resize_grid(old, (8, 3, 4)), rtol=1e-6)
    np.testing.assert_array_equal(ops.convert_to_numpy(bigger.blocks[1].mlp.dense_in.kernel),
                                  ops.convert_to_numpy(encoder.blocks[1].mlp.dense_in.kernel))
    same = encoder.resized()
    video = np.random.default_rng(0).uniform(size=(1, 8, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(same(video)),
                               ops.convert_to_numpy(encoder(video)), rtol=1e-6, atol=1e-6)
