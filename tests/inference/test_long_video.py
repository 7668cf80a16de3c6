"""Windowed inference on long videos: window layout, blending, encoder and depth models."""
import numpy as np
import pytest
from keras import ops

from keras4ds.inference import (
    blend_windows,
    depth_long_video,
    encoder_features_long_video,
    iter_depth,
    window_starts,
    window_weights,
)
from keras4ds.models import DepthModel, FourDSEncoder


@pytest.mark.backend_independent
def test_window_starts_cover_the_video_and_end_at_the_end():
    assert window_starts(16, 16, 8) == [0]
    assert window_starts(40, 16, 8) == [0, 8, 16, 24]
    assert window_starts(42, 16, 8) == [0, 8, 16, 24, 26]
    with pytest.raises(ValueError, match="fewer than the window"):
        window_starts(10, 16, 8)
    with pytest.raises(ValueError, match="skip frames"):
        window_starts(40, 16, 20)


@pytest.mark.backend_independent
def test_blending_reconstructs_a_signal_that_every_window_sees_exactly():
    signal = np.random.default_rng(0).normal(size=(2, 42, 3)).astype(np.float32)
    starts = window_starts(42, 16, 6)
    blocks = list(blend_windows((signal[:, s:s + 16] for s in starts), starts, 16))
    assert [first for first, _ in blocks] == [0, 6, 12, 18, 24, 26]
    np.testing.assert_allclose(np.concatenate([b for _, b in blocks], axis=1), signal, atol=1e-6)


@pytest.mark.backend_independent
def test_overlapping_frames_get_the_triangular_weighted_average():
    starts = [0, 2]
    outputs = [np.zeros((1, 4)), np.ones((1, 4))]
    blended = np.concatenate([b for _, b in blend_windows(iter(outputs), starts, 4)], axis=1)
    w = window_weights(4)  # [1, 2, 2, 1]
    expected = [0, 0, w[0] / (w[0] + w[2]), w[1] / (w[1] + w[3]), 1, 1]
    np.testing.assert_allclose(blended[0], expected, rtol=1e-6)


@pytest.fixture(scope="module")
def encoder():
    return FourDSEncoder(width=32, depth=2, mlp_dim=64, num_heads=2, num_frames=4,
                         image_size=(32, 32))


def _video(frames, height=32, width=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (1, frames, height, width, 3)).astype(np.float32)


def _grid_features(encoder, clip, index=None):
    tokens = ops.convert_to_numpy(encoder.hidden_state(clip, encoder.depth if index is None else index))
    return tokens.reshape(1, *encoder.grid, encoder.width)


def test_encoder_windows_without_overlap_equal_the_encoder_per_window(encoder):
    video = _video(12)
    features = encoder_features_long_video(encoder, video, stride=4, progress=False)
    assert features.shape == (1, 6, 2, 2, 32)
    expected = np.concatenate([_grid_features(encoder, video[:, s:s + 4]) for s in (0, 4, 8)], 1)
    np.testing.assert_allclose(features, expected, atol=1e-4, rtol=1e-4)


def test_encoder_overlapping_windows_blend_neighbouring_outputs(encoder):
    video = _video(8, seed=1)
    features = encoder_features_long_video(encoder, video, stride=2, hidden_state=1,
                                           progress=False)
    first, second = (_grid_features(encoder, video[:, s:s + 4], 1) for s in (0, 2))
    np.testing.assert_allclose(features[:, :1], first[:, :1], atol=1e-4, rtol=1e-4)
    w = window_weights(2)  # tubelet weights [1, 1]
    middle = (first[:, 1] * w[1] + second[:, 0] * w[0]) / (w[0] + w[1])
    np.testing.assert_allclose(features[:, 1], middle, atol=1e-4, rtol=1e-4)


def test_encoder_native_resolution_uses_the_resized_encoder(encoder):
    video = _video(4, 48, 64)
    with pytest.raises(ValueError, match="native_resolution=True"):
        encoder_features_long_video(encoder, video, progress=False)
    features = encoder_features_long_video(encoder, video, native_resolution=True, progress=False)
    resized = encoder.resized(image_size=(48, 64))
    np.testing.assert_allclose(features, _grid_features(resized, video), atol=1e-4, rtol=1e-4)


def test_depth_windows_cover_every_frame(encoder):
    model = DepthModel(encoder, num_params=16, num_heads=2, decoding_patch_size=(2, 8, 8))
    video = _video(10, seed=2)
    depth = depth_long_video(model, video, stride=4, progress=False)
    assert depth.shape == (1, 10, 32, 32, 1)
    np.testing.assert_allclose(depth[:, :4], ops.convert_to_numpy(model(video[:, :4])),
                               atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(depth[:, 8:], ops.convert_to_numpy(model(video[:, 6:]))[:, 2:],
                               atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="resize the frames first"):
        next(iter_depth(model, _video(8, 48, 48)))
    with pytest.raises(TypeError, match="float video"):
        next(iter_depth(model, (video * 255).astype(np.uint8)))
