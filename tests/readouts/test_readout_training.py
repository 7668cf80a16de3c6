"""train_probe end to end and the on-disk feature cache (tiny shapes, any backend)."""
import keras
import numpy as np
import pytest

from keras4ds.readouts import cache_features, compute_features, train_probe


def test_train_probe_returns_metrics_baseline_and_losses(make_encoder, clips):
    encoder = make_encoder()
    before = [keras.ops.convert_to_numpy(w).copy() for w in encoder.weights]
    result = train_probe("points", encoder, clips[:6], clips[6:8], steps=6, batch_size=3,
                         learning_rate=1e-3, num_params=32, num_heads=2, num_queries=8, num_logs=3)
    assert result["loss_steps"] == [2, 4, 6] and len(result["loss_history"]) == 3
    assert np.all(np.isfinite(result["loss_history"]))
    assert set(result["metrics"]) == set(result["baseline"]) >= {"average_jaccard", "occlusion_accuracy"}
    for a, b in zip(before, encoder.weights):
        assert np.array_equal(a, keras.ops.convert_to_numpy(b))


def test_pose_probe_trains_its_step_mlp_and_readout(make_encoder, clips):
    keras.utils.set_random_seed(0)
    result = train_probe("pose", make_encoder(), clips[:6], clips[6:8], steps=4, batch_size=3,
                         learning_rate=1e-2, num_params=32, num_heads=2, num_logs=2,
                         return_probe=True)
    probe = result["probe"]
    assert np.all(np.isfinite(result["loss_history"]))
    for layer in (probe.step_mlp.layers[-1], probe.readout.head):  # both start at zero
        assert np.any(keras.ops.convert_to_numpy(layer.kernel) != 0)
    assert {"end_point_error", "ate"} <= set(result["metrics"])


def test_train_probe_fine_tunes_the_encoder(make_encoder, clips):
    encoder = make_encoder()
    before = keras.ops.convert_to_numpy(encoder.weights[0]).copy()
    result = train_probe("classify", encoder, clips[:4], clips[4:6], steps=2, batch_size=2,
                         learning_rate=1e-2, frozen=False, readout_index=2, num_params=32,
                         num_heads=2)
    assert not np.array_equal(before, keras.ops.convert_to_numpy(encoder.weights[0]))
    assert {"top1"} <= set(result["metrics"])


def test_feature_cache_is_written_once_and_checked(make_encoder, clips, tmp_path):
    encoder = make_encoder()
    videos = np.stack([c["video"] for c in clips[:3]])
    path = tmp_path / "features.npz"
    first = cache_features(str(path), encoder, videos, readout_index=[1, 2])
    assert first.shape == (3, 8, 64)
    np.testing.assert_allclose(first, compute_features(encoder, videos, [1, 2]), rtol=1e-5, atol=1e-6)
    stamp = path.stat().st_mtime_ns
    np.testing.assert_array_equal(cache_features(str(path), encoder, videos, readout_index=[1, 2]), first)
    assert path.stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="another encoder"):
        cache_features(str(path), encoder, videos, readout_index=1)
