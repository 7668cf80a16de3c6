"""Encoder features computed once (frozen probing), in memory or cached on disk."""
import os
import tempfile

import keras
import numpy as np

from keras4ds.readouts.features import encoder_features, readout_indices


class _FeatureModel(keras.Model):
    """The selected states as a Keras model, so `predict` compiles it on every backend."""

    def __init__(self, encoder, indices):
        super().__init__(name="feature_model")
        self.encoder, self.indices = encoder, indices

    def call(self, video):
        return encoder_features(self.encoder, video, self.indices, True)


def compute_features(encoder, videos, readout_index=None, batch_size=8, progress=False):
    """Selected encoder states of `videos` `(B, T, H, W, 3)` in [0, 1] -> `(B, N, C)` float32."""
    indices = readout_indices(encoder, readout_index)
    videos = np.asarray(videos, np.float32)
    model = _FeatureModel(encoder, indices)
    return np.asarray(model.predict(videos, batch_size=batch_size, verbose=int(progress)),
                      np.float32)


def cache_features(path, encoder, videos, readout_index=None, batch_size=8):
    """Features of `videos` from the `.npz` cache at `path`, computing and writing it
    (atomically) if it is missing. A cache made for another encoder shape or readout
    index raises a ValueError rather than being used."""
    indices = readout_indices(encoder, readout_index)
    meta = np.array([encoder.width, encoder.depth, *encoder.grid, len(videos), *indices], np.int64)
    if os.path.exists(path):
        with np.load(path) as cached:
            if "meta" not in cached or not np.array_equal(cached["meta"], meta):
                raise ValueError(f"feature cache {path} was made for another encoder, clip "
                                 f"count or readout_index (meta {cached.get('meta')}, expected "
                                 f"{meta}); delete it or choose another path")
            return cached["features"]
    features = compute_features(encoder, videos, indices, batch_size, progress=True)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(suffix=".npz", dir=directory)
    os.close(handle)
    np.savez(temp, features=features, meta=meta)
    os.replace(temp, path)
    return features
