"""train_probe end to end (tiny shapes, any backend); its cache and multi-clip modes are in
test_probing_modes.py."""
import keras
import numpy as np

from keras4ds.readouts import train_probe


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
