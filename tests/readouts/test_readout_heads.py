"""Readout heads: shapes, trivial-baseline start, frozen/fine-tune modes, query independence,
configs (any backend). Most tests feed cached "features" so the encoder runs once."""
import keras
import numpy as np
import pytest

from keras4ds.readouts import (
    BoxTrackingProbe,
    ClassificationProbe,
    DepthProbe,
    PointTrackingProbe,
    PoseProbe,
    TwoRateAdam,
    baseline_predictions,
    make_probe,
    probe_batch,
    task_metrics,
)
from keras4ds.readouts.features import encoder_features, readout_indices


def _weights(model):
    return [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights]


def _fit(probe, x, y, steps=3, optimizer=None):
    probe.compile(optimizer or keras.optimizers.Adam(1e-2))
    probe.fit(x, y, batch_size=len(next(iter(x.values()))), epochs=steps, verbose=0)


def _features(encoder, x, readout_index=None):
    """Encoder states of x["video"] as a "features" input (the heads' tests skip the encoder)."""
    indices = readout_indices(encoder, readout_index)
    return keras.ops.convert_to_numpy(encoder_features(encoder, x["video"], indices, True))


def _numpy(tree):
    return keras.tree.map_structure(lambda v: np.asarray(keras.ops.convert_to_numpy(v)), tree)


@pytest.mark.parametrize("task", ["pose", "points", "boxes"])
def test_untrained_heads_are_their_trivial_baselines(make_encoder, clips, task):
    """Residual heads start at identity pose, static all-visible points (the attention point
    head), first-frame boxes:
    their outputs and metrics equal the trivial baseline's."""
    encoder = make_encoder()
    x, y = probe_batch(task, clips[:3], num_queries=6)
    f = dict(x, features=_features(encoder, x))
    del f["video"]
    attention = {"head": "attention"} if task == "points" else {}
    out = _numpy(make_probe(task, encoder, num_params=32, num_heads=2, **attention)(f))
    base = baseline_predictions(task, x, y, y)
    if task == "points":
        np.testing.assert_array_equal(out["visible"], base["visible"])
        np.testing.assert_allclose(out["tracks"], base["tracks"], atol=1e-7)
    elif task == "pose":
        np.testing.assert_allclose(out["pose"], base["pose"], atol=1e-7)
    else:
        np.testing.assert_allclose(out, base, atol=1e-7)
    assert task_metrics(task, x, y, out) == pytest.approx(task_metrics(task, x, y, base), abs=1e-6)


@pytest.mark.parametrize("task", ["points", "boxes"])
def test_tracking_queries_are_independent(make_encoder, clips, task):
    encoder = make_encoder()
    attention = {"head": "attention"} if task == "points" else {}
    probe = make_probe(task, encoder, num_params=32, num_heads=2, **attention)
    for w in probe.readout.head.weights:  # non-zero head so outputs depend on the query
        w.assign(np.random.default_rng(0).normal(size=w.shape).astype("float32"))
    x, _ = probe_batch(task, clips[:1], num_queries=6)
    key, other = (("query_points", [2.0, 0.9, 0.1]) if task == "points"
                  else ("query_boxes", [0.1, 0.2, 0.5, 0.9]))
    f = {"features": _features(encoder, x), key: x[key]}
    pick = (lambda o: o["tracks"]) if task == "points" else (lambda o: o)
    out = keras.ops.convert_to_numpy(pick(probe(f)))
    changed = dict(f, **{key: f[key].copy()})
    changed[key][:, 1:] = np.array(other, np.float32)
    out_changed = keras.ops.convert_to_numpy(pick(probe(changed)))
    # Outputs are O(1) (random head weights); other batch shapes round differently (torch).
    np.testing.assert_allclose(out_changed[:, 0], out[:, 0], rtol=1e-5, atol=2e-5)
    assert np.abs(out_changed[:, 1] - out[:, 1]).max() > 1e-2
    alone = dict(f, **{key: f[key][:, :1]})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pick(probe(alone)))[:, 0], out[:, 0],
                               rtol=1e-5, atol=2e-5)


def test_probes_have_their_output_shapes_and_round_trip_through_their_config(make_encoder, clips):
    b, t = 2, 4
    encoder = make_encoder()
    x, _ = probe_batch("points", clips[:2], num_queries=3)
    xb, _ = probe_batch("boxes", clips[:2])
    f = {"features": _features(encoder, x, [1, 2]), "query_points": x["query_points"],
         "query_boxes": xb["query_boxes"]}
    rng = np.random.default_rng(1)
    probes = [DepthProbe(encoder, readout_index=[1, 2], num_params=32, num_heads=2,
                         decoding_patch_size=(2, 16, 16), loss="silog"),
              PoseProbe(encoder, readout_index=[1, 2], num_params=32, num_heads=2,
                        translation_weight=2.0, translation_loss="huber", global_motion_radius=1),
              PointTrackingProbe(encoder, readout_index=[1, 2], num_params=32, num_heads=2,
                                 visibility_rule="tapir", motion_features=True),
              BoxTrackingProbe(encoder, readout_index=[1, 2], num_params=32, num_heads=2,
                               giou_weight=0.5),
              ClassificationProbe(encoder, 3, readout_index=[1, 2], num_params=32, num_heads=2)]
    shapes = [(b, t, 32, 32, 1), (b, t, 4, 4), (b, 3, t, 2), (b, 2, t, 4), (b, 3)]
    for probe, shape in zip(probes, shapes):
        out = probe(f)
        assert tuple({"pose": lambda o: o["pose"], "points": lambda o: o["tracks"]}.get(
            probe.task, lambda o: o)(out).shape) == shape
        probe.set_weights([rng.normal(size=w.shape).astype("float32") * 0.1
                           for w in probe.get_weights()])
        config = keras.saving.serialize_keras_object(probe)
        copy = keras.saving.deserialize_keras_object(config)
        assert type(copy) is type(probe) and copy.get_config() == probe.get_config()
        copy.set_weights(probe.get_weights())
        keras.tree.map_structure(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
                                 _numpy(copy(f)), _numpy(probe(f)))


def test_motion_features_add_the_change_since_frame_zero(make_encoder, clips):
    encoder = make_encoder()
    x, _ = probe_batch("pose", clips[:2])
    features = _features(encoder, x)
    plain = PoseProbe(encoder, num_params=32, num_heads=2, motion_features=False)
    moving = PoseProbe(encoder, num_params=32, num_heads=2)
    base = keras.ops.convert_to_numpy(plain.readout_features({"features": features}))
    both = keras.ops.convert_to_numpy(moving.readout_features({"features": features}))
    change = base - base[:, :1]
    np.testing.assert_allclose(both, np.concatenate([base, change, np.abs(change)], -1), atol=1e-6)


@pytest.mark.parametrize("task", ["depth", "boxes"])
def test_frozen_training_keeps_encoder_bit_identical(make_encoder, clips, task):
    encoder = make_encoder()
    probe = make_probe(task, encoder, frozen=True, num_params=32, num_heads=2, num_classes=2)
    x, y = probe_batch(task, clips[:4], num_queries=8)
    before_encoder, before_head = _weights(encoder), _weights(probe.readout)
    loss_before = keras.ops.convert_to_numpy(probe.compute_loss(y=y, y_pred=probe(x)))
    _fit(probe, x, y)
    for a, b in zip(before_encoder, _weights(encoder)):
        assert np.array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(before_head, _weights(probe.readout)))
    assert np.isfinite(loss_before)


def test_fine_tuning_uses_its_own_encoder_learning_rate(make_encoder, clips):
    x, y = probe_batch("depth", clips[:4])
    changes = {}
    for rate in (0.0, 1e-2):
        keras.utils.set_random_seed(0)
        encoder = make_encoder()
        probe = DepthProbe(encoder, frozen=False, readout_index=2, num_params=32, num_heads=2)
        before_encoder, before_head = _weights(encoder), _weights(probe.readout)
        _fit(probe, x, y, optimizer=TwoRateAdam(1e-2, rate, encoder.trainable_variables))
        changes[rate] = (max(np.abs(a - b).max() for a, b in zip(before_encoder, _weights(encoder))),
                         max(np.abs(a - b).max() for a, b in zip(before_head, _weights(probe.readout))))
    assert changes[0.0][0] == 0.0 and changes[0.0][1] > 0
    assert changes[1e-2][0] > 1e-4


def test_cached_features_give_the_same_outputs_and_concatenate_states(make_encoder, clips):
    encoder = make_encoder()
    probe = DepthProbe(encoder, readout_index=[0, 2], num_params=32, num_heads=2)
    x, _ = probe_batch("depth", clips[:2])
    features = keras.ops.convert_to_numpy(probe.encoder_features(x["video"]))
    assert features.shape == (2, 8, 64)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(probe({"features": features})),
                               keras.ops.convert_to_numpy(probe(x)), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="'features' must be"):
        probe({"features": features[..., :32]})


def test_dpt_depth_head_trains(make_encoder, clips):
    encoder = make_encoder()
    probe = DepthProbe(encoder, head="dpt", dpt_features=16, loss="silog")
    assert probe.readout_index == (1, 2)
    x, y = probe_batch("depth", clips[:4])
    assert tuple(probe(x).shape) == (4, 4, 32, 32, 1)
    before = _weights(probe.dpt)
    _fit(probe, x, y)
    assert any(not np.array_equal(a, b) for a, b in zip(before, _weights(probe.dpt)))


def test_multi_clip_classification_averages_probabilities(make_encoder, clips):
    probe = ClassificationProbe(make_encoder(), 3, num_params=32, num_heads=2)
    videos = np.stack([c["video"] for c in clips[:4]]).reshape(2, 2, 4, 32, 32, 3)
    single = keras.ops.convert_to_numpy(keras.ops.softmax(probe({"video": videos.reshape(4, 4, 32, 32, 3)})))
    expected = single.reshape(2, 2, 3).mean(1)
    np.testing.assert_allclose(probe.predict_clips({"video": videos}), expected, rtol=1e-5)
    features = _features(probe.encoder, {"video": videos.reshape(4, 4, 32, 32, 3)})
    np.testing.assert_allclose(probe.predict_clips({"features": features.reshape(2, 2, 8, 32)}),
                               expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"clip axis at 1"):
        probe.predict_clips({"video": videos[:, 0]})
    with pytest.raises(ValueError, match=r"predict_clips takes"):
        probe.predict_clips(videos)


def test_bad_inputs_raise_clear_errors(make_encoder, clips):
    encoder = make_encoder()
    x, _ = probe_batch("points", clips[:1], num_queries=2)
    with pytest.raises(ValueError, match=r"query_points must be \(B, Q, 3\)"):
        probe = PointTrackingProbe(encoder, num_params=32, num_heads=2)
        probe(dict(x, query_points=x["query_points"][..., :2]))
    with pytest.raises(KeyError, match="'video' or 'features'"):
        PoseProbe(encoder, num_params=32, num_heads=2)({"clip": x["video"]})
    with pytest.raises(ValueError, match="readout_index"):
        PoseProbe(encoder, readout_index=7, num_params=32, num_heads=2)
    with pytest.raises(ValueError, match="visibility_rule"):
        PointTrackingProbe(encoder, num_params=32, num_heads=2, visibility_rule="maybe")
    with pytest.raises(ValueError, match="motion_features is for the attention head"):
        DepthProbe(encoder, head="dpt", motion_features=True)
    with pytest.raises(ValueError, match="own task loss"):
        PoseProbe(encoder, num_params=32, num_heads=2).compile("adam", loss="mse")


def test_query_features_sample_the_token_grid_bilinearly():
    from keras4ds.readouts.tracking import sample_features
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1, 3, 2 * 4, 5)).astype("float32")  # T=3, grid (2, 4)
    grid = features.reshape(1, 3, 2, 4, 5)
    points = np.array([[[1.0, 0.75, 0.125],    # centre of cell (1, 0) in frame 1
                        [2.0, 0.25, 0.25],     # halfway between cells (0, 0) and (0, 1)
                        [0.0, 0.0, 1.0]]], "float32")  # outside the centres: clamped to (0, 3)
    out = keras.ops.convert_to_numpy(sample_features(keras.ops.convert_to_tensor(features),
                                                     keras.ops.convert_to_tensor(points), (2, 4)))
    np.testing.assert_allclose(out[0, 0], grid[0, 1, 1, 0], rtol=1e-5)
    np.testing.assert_allclose(out[0, 1], (grid[0, 2, 0, 0] + grid[0, 2, 0, 1]) / 2, rtol=1e-5)
    np.testing.assert_allclose(out[0, 2], grid[0, 0, 0, 3], rtol=1e-5)


def test_point_tracks_are_exact_at_their_query_frame(make_encoder, clips):
    """Displacements are relative to the query frame: a head with random weights moves the
    points in other frames but returns each query's own position in its query frame."""
    encoder = make_encoder()
    probe = make_probe("points", encoder, num_params=32, num_heads=2, head="attention")
    for w in probe.readout.head.weights:
        w.assign(np.random.default_rng(1).normal(size=w.shape).astype("float32"))
    x, _ = probe_batch("points", clips[:2], num_queries=5)
    x["query_points"][:, :, 0] = [0.0, 1.0, 2.0, 3.0, 1.0]
    tracks = _numpy(probe({"features": _features(encoder, x), "query_points": x["query_points"]}))["tracks"]
    q = x["query_points"]
    own = tracks[:, np.arange(5), q[0, :, 0].astype(int)]
    np.testing.assert_allclose(own, np.stack([q[..., 2], q[..., 1]], -1), atol=1e-6)
    assert np.abs(tracks - own[:, :, None]).max() > 1e-2


@pytest.mark.parametrize("task", ["pose", "points", "boxes"])
def test_readout_blocks_train_and_round_trip(make_encoder, clips, task):
    """Transformer blocks over the features before the readout (V-JEPA 2's attentive
    probe): kept in the config, trained, and the untrained head is still its baseline."""
    encoder = make_encoder()
    x, y = probe_batch(task, clips[:3], num_queries=6)
    f = dict(x, features=_features(encoder, x))
    f.pop("video")
    kwargs = {"head": "attention"} if task == "points" else {}
    probe = make_probe(task, encoder, num_params=32, readout_blocks=2, **kwargs)
    assert len(probe.feature_blocks) == 2 and probe.get_config()["readout_blocks"] == 2
    start = _numpy(probe.predict(f, verbose=0))
    baseline = baseline_predictions(task, x, y, y)
    np.testing.assert_allclose(
        task_metrics(task, x, y, start)[next(iter(task_metrics(task, x, y, baseline)))],
        task_metrics(task, x, y, baseline)[next(iter(task_metrics(task, x, y, baseline)))],
        atol=1e-6)
    before = _weights(probe.feature_blocks[0])
    _fit(probe, f, y)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, _weights(probe.feature_blocks[0])))
    again = type(probe).from_config(probe.get_config())
    assert len(again.feature_blocks) == 2
