"""The depth model is an ordinary Keras model: predict, fit (frozen or not), save/load."""
import os

import keras
import numpy as np
import tiny_models
from keras import ops

import keras4ds
from keras4ds.models import DepthModel, FourDSEncoder


def tiny_depth_model():
    encoder = tiny_models.tiny_encoder(image_size=(32, 32), patch_size=(2, 16, 16), seed=0)
    return tiny_models.tiny_depth_model(encoder, num_params=32)


def data(n=4):
    rng = np.random.default_rng(0)
    video = rng.uniform(size=(n, 4, 32, 32, 3)).astype("float32")
    depth = (1.0 + video.mean(-1, keepdims=True)).astype("float32")
    return video, depth


def weights_of(layer):
    return [ops.convert_to_numpy(w).copy() for w in layer.weights]


def test_frozen_encoder_is_bit_identical_after_fit():
    model = tiny_depth_model()
    model.encoder.trainable = False
    before_encoder, before_readout = weights_of(model.encoder), weights_of(model.readout)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mae")
    video, depth = data()
    history = model.fit(video, depth, batch_size=2, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    for a, b in zip(before_encoder, weights_of(model.encoder)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(before_readout, weights_of(model.readout)))


def test_finetuning_updates_encoder():
    model = tiny_depth_model()
    before = weights_of(model.encoder)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")
    video, depth = data()
    model.fit(video, depth, batch_size=2, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, weights_of(model.encoder)))


def test_predict_and_keras_save_round_trip(tmp_path):
    model = tiny_depth_model()
    video, _ = data(2)
    predicted = model.predict(video, verbose=0)
    assert predicted.shape == (2, 4, 32, 32, 1)
    path = os.path.join(tmp_path, "depth.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, DepthModel) and isinstance(restored.encoder, FourDSEncoder)
    np.testing.assert_allclose(restored.predict(video, verbose=0), predicted, rtol=1e-5, atol=1e-6)


def test_preset_round_trip(tmp_path):
    model = tiny_depth_model()
    video, _ = data(1)
    out = keras4ds.save_preset(model, tmp_path / "preset")
    assert sorted(os.listdir(out)) == ["config.json", "metadata.json", "model.weights.h5"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".preset-")]
    restored = keras4ds.load_preset(out)
    np.testing.assert_allclose(ops.convert_to_numpy(restored(video)),
                               ops.convert_to_numpy(model(video)), rtol=1e-5, atol=1e-6)


def test_single_query_readout_trains_in_a_compiled_graph():
    """Q == 1 squeezes the query axis; that must also work inside compiled `fit`."""
    from keras4ds.models import AttentionReadout

    features = keras.Input((4, 6, 16))
    logits = AttentionReadout(num_classes=3, num_params=16, num_heads=2, num_queries=1)(features)
    model = keras.Model(features, logits)
    assert tuple(model.output_shape) == (None, 3)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).normal(size=(4, 4, 6, 16)).astype("float32")
    model.fit(x, np.array([0, 1, 2, 0]), batch_size=2, epochs=1, verbose=0)
