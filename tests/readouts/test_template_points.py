"""TemplateMatcher and TemplatePointProbe (any backend): the keras.ops matcher agrees with
the numpy `template_tracks`, the pixel decoder fits in closed form, the probe trains only
its matcher and visibility, and a query never depends on other queries."""
import keras
import numpy as np
import pytest
from template_tracks import template_tracks
from tiny_models import tiny_encoder

from keras4ds.models.patches import patchify
from keras4ds.readouts import TemplatePointProbe, make_probe, probe_batch, train_probe
from keras4ds.readouts.template_points import TemplateMatcher

FRAMES, SIZE, PATCH = 4, 16, (2, 2, 2)


def _numpy(tree):
    return keras.tree.map_structure(lambda v: np.asarray(keras.ops.convert_to_numpy(v)), tree)


def _random_queries(rng, batch, count, frames):
    return np.stack([rng.integers(0, frames, (batch, count)), rng.uniform(size=(batch, count)),
                     rng.uniform(size=(batch, count))], -1).astype("float32")


def test_matcher_without_prior_is_the_numpy_template_tracker():
    """A negligible motion prior and a sharp soft-argmax leave the nearest window: the
    keras.ops matcher returns what `template_tracks` returns, query frame exact."""
    rng = np.random.default_rng(0)
    video = rng.uniform(size=(2, 4, 16, 16, 3)).astype("float32")
    queries = _random_queries(rng, 2, 5, 4)
    out = _numpy(TemplateMatcher(radius=2, temperature=1e4, prior=1e-9)(video, queries))
    expected = np.stack([template_tracks(v, q, radius=2) for v, q in zip(video, queries)])
    np.testing.assert_allclose(out["tracks"], expected, atol=1e-5)
    assert out["cost"].shape == out["moved"].shape == (2, 5, 4)
    assert np.all(out["cost"] >= 0)


def test_matcher_handles_queries_on_the_image_border():
    rng = np.random.default_rng(2)
    video = rng.uniform(size=(1, 3, 12, 12, 3)).astype("float32")
    queries = np.array([[[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [2.0, 1.0, 0.0]]], "float32")
    out = _numpy(TemplateMatcher(radius=2, temperature=1e4, prior=1e-9)(video, queries))
    np.testing.assert_allclose(out["tracks"][0], template_tracks(video[0], queries[0], radius=2),
                               atol=1e-5)


def test_matcher_prior_keeps_a_flat_region_static():
    """Where every window matches equally (a flat video), the motion prior keeps the point
    where it was queried."""
    video = np.full((1, 3, 12, 12, 3), 0.5, "float32")
    queries = np.array([[[1.0, 0.3, 0.6]]], "float32")
    tracks = _numpy(TemplateMatcher(radius=1)(video, queries))["tracks"]
    np.testing.assert_allclose(tracks[0, 0], np.tile([[0.6, 0.3]], (3, 1)), atol=1e-5)


def _encoder():
    return tiny_encoder(depth=1, num_frames=FRAMES, image_size=(SIZE, SIZE), patch_size=PATCH,
                        seed=0)


def _linear_features(videos, mixing):
    """Features that are an invertible linear function of each token's pixels."""
    pixels = np.asarray(patchify(videos, PATCH))
    return pixels.reshape(len(videos), -1, pixels.shape[-1]) @ mixing


@pytest.fixture(scope="module")
def scene():
    from keras4ds.data.synthetic import generate_clip
    clips = [generate_clip(seed, FRAMES, SIZE, SIZE, num_tracks=16, num_objects=2)
             for seed in range(4)]
    x, y = probe_batch("points", clips, num_queries=6)
    mixing = np.random.default_rng(1).normal(size=(int(np.prod(PATCH)) * 3, 32)).astype("float32")
    return x, y, mixing


def test_probe_on_features_that_keep_the_pixels_tracks_like_template_matching(scene):
    """Fit on features that linearly encode the pixels, the decoder recovers the video
    (R^2 ~ 1) and the untrained probe tracks as the numpy matcher does on the raw video."""
    x, _, mixing = scene
    probe = TemplatePointProbe(_encoder(), readout_index=0, radius=2, temperature=1e4,
                               prior=1e-9, ridge=1e-9)
    features = _linear_features(x["video"], mixing)
    assert probe.fit_pixel_decoder(features, x["video"]) == pytest.approx(1.0, abs=1e-4)
    inputs = {"features": features, "query_points": x["query_points"]}
    decoded = _numpy(probe.decoded_video(inputs))
    np.testing.assert_allclose(decoded, x["video"], atol=1e-3)
    out = _numpy(probe(inputs))
    expected = np.stack([template_tracks(v, q, radius=2) for v, q in zip(x["video"], x["query_points"])])
    np.testing.assert_allclose(out["tracks"], expected, atol=1e-4)
    assert out["visible"].all()  # visibility starts at +initial_logit


@pytest.mark.parametrize("train_matcher", [False, True])
def test_frozen_training_moves_only_visibility_and_the_matcher_if_asked(scene, train_matcher):
    x, y, mixing = scene
    encoder = _encoder()
    probe = make_probe("points", encoder, readout_index=0, train_matcher=train_matcher)
    assert isinstance(probe, TemplatePointProbe)
    features = _linear_features(x["video"], mixing)
    f = {"features": features, "query_points": x["query_points"]}
    probe.compile(keras.optimizers.Adam(1e-1))
    for method in (probe.fit, probe.evaluate):
        with pytest.raises(RuntimeError, match="not fit"):
            method(f, y, batch_size=4, verbose=0)
    unfitted = _numpy(probe(f))  # a zero decoder: a flat video, points stay within a pixel
    start = np.stack([x["query_points"][..., 2], x["query_points"][..., 1]], -1)[:, :, None]
    assert np.abs(unfitted["tracks"] - start).max() <= 1.0 / SIZE
    probe.fit_pixel_decoder(features, x["video"])
    before = {w.path: np.array(keras.ops.convert_to_numpy(w)) for w in probe.weights}
    probe.fit(f, y, batch_size=4, epochs=3, verbose=0)
    after = {w.path: np.array(keras.ops.convert_to_numpy(w)) for w in probe.weights}
    changed = {path for path in before if not np.array_equal(before[path], after[path])}
    assert any("visibility" in p for p in changed), changed
    assert all("visibility" in p or (train_matcher and "matcher" in p) for p in changed), changed
    assert any("matcher" in p for p in changed) == train_matcher, changed
    assert {w.path for w in probe.trainable_weights} >= changed


def test_queries_are_independent_and_config_round_trips(scene):
    x, _, mixing = scene
    probe = TemplatePointProbe(_encoder(), readout_index=0, radius=1, visibility_rule="tapir")
    features = _linear_features(x["video"][:1], mixing)
    probe.fit_pixel_decoder(features, x["video"][:1])
    queries = x["query_points"][:1]
    out = _numpy(probe({"features": features, "query_points": queries}))
    changed = queries.copy()
    changed[:, 1:] = [1.0, 0.9, 0.1]
    out_changed = _numpy(probe({"features": features, "query_points": changed}))
    np.testing.assert_allclose(out_changed["tracks"][:, 0], out["tracks"][:, 0], atol=1e-5)
    alone = _numpy(probe({"features": features, "query_points": queries[:, :1]}))
    np.testing.assert_allclose(alone["tracks"][:, 0], out["tracks"][:, 0], atol=1e-5)
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(probe))
    assert type(copy) is TemplatePointProbe and copy.get_config() == probe.get_config()
    copy.set_weights(probe.get_weights())
    keras.tree.map_structure(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5),
                             _numpy(copy({"features": features, "query_points": queries})), out)


def test_train_probe_fits_the_decoder_and_keeps_the_encoder(scene):
    from keras4ds.data.synthetic import generate_clip
    clips = [generate_clip(seed, FRAMES, SIZE, SIZE, num_tracks=16, num_objects=2)
             for seed in range(6)]
    encoder = _encoder()
    before = [np.array(keras.ops.convert_to_numpy(w)) for w in encoder.weights]
    result = train_probe("points", encoder, clips[:4], clips[4:], steps=2, batch_size=2,
                         learning_rate=1e-2, readout_index=0, num_queries=4,
                         probe_kwargs={"radius": 1})
    assert 0.0 < result["pixel_decoder_r2"] <= 1.0
    assert np.all(np.isfinite(result["loss_history"]))
    for a, b in zip(before, encoder.weights):
        assert np.array_equal(a, keras.ops.convert_to_numpy(b))


@pytest.mark.parametrize("features, videos, message", [
    (np.zeros((2, 10, 32)), np.zeros((2, 4, 16, 16, 3)), "features must be"),
    (np.zeros((2, 128, 32)), np.zeros((3, 4, 16, 16, 3)), "videos must be"),
])
def test_fit_pixel_decoder_says_what_shapes_it_needs(features, videos, message):
    probe = TemplatePointProbe(_encoder(), readout_index=0)
    with pytest.raises(ValueError, match=message):
        probe.fit_pixel_decoder(features, videos)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="visibility_rule"):
        TemplatePointProbe(_encoder(), visibility_rule="maybe")
    with pytest.raises(ValueError, match="points head"):
        make_probe("points", _encoder(), head="cost-volume")
    with pytest.raises(ValueError, match="radius"):
        TemplateMatcher(radius=-1)
