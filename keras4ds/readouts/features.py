"""Encoder features for readouts: which hidden states feed a readout, computing them
once (frozen probing), in memory or cached on disk.

A cache is a directory of `<key>.npz` files. The key hashes everything the features depend
on: the encoder's configuration and the bytes of all its weights, its dtype policy, the
videos (shape and bytes) and the readout indices. Another encoder (a random init and an
MAE checkpoint of the same shape), other videos or another hidden state therefore get a
new key and are computed afresh; a stale file is never reused. Old files stay until the
directory is deleted.
"""
import hashlib
import json
import os

import keras
import numpy as np
from keras import ops
from tqdm import tqdm

from keras4ds.utils import write_staged

# Encoder config entries that do not change what the encoder computes.
_NOT_FINGERPRINTED = ("name", "trainable", "remat")


def readout_indices(encoder, readout_index=None):
    """Normalise `readout_index` (None = the official 0.95 state, an int, or a list of
    ints whose states are concatenated on channels) to a tuple of ints in [0, depth]."""
    if readout_index is None:
        return (encoder.official_readout_index(0.95),)
    indices = (readout_index,) if isinstance(readout_index, int) else tuple(readout_index)
    if not indices or any(not isinstance(i, int) or not 0 <= i <= encoder.depth for i in indices):
        raise ValueError(f"readout_index must be None, an int or a list of ints in "
                         f"[0, {encoder.depth}] (hidden states h_0..h_L); got {readout_index!r}")
    return indices


def selected_states(encoder, video, indices):
    """The hidden states `indices` of `video` `(B, T, H, W, 3)`: a list of `(B, N, D)`,
    running each block once."""
    states, x = {}, encoder.tokens(video)
    if 0 in indices:
        states[0] = x
    for j in range(1, max(indices) + 1):
        x = encoder.blocks[j - 1](x)
        if j in indices:
            states[j] = x
    return [states[i] for i in indices]


def encoder_features(encoder, video, indices, frozen):
    """Concatenated selected states `(B, N, D * len(indices))`; no gradient when frozen."""
    states = selected_states(encoder, video, indices)
    features = states[0] if len(states) == 1 else ops.concatenate(states, axis=-1)
    return ops.stop_gradient(features) if frozen else features


class _FeatureModel(keras.Model):
    """The selected states as a Keras model, so `predict` compiles it on every backend."""

    def __init__(self, encoder, indices):
        super().__init__(name="feature_model")
        self.encoder, self.indices = encoder, indices

    def call(self, video):
        return encoder_features(self.encoder, video, self.indices, True)


def _videos(videos):
    videos = np.ascontiguousarray(videos, np.float32)
    if videos.ndim != 5 or videos.shape[-1] != 3 or not len(videos):
        raise ValueError(f"videos must be a non-empty (B, T, H, W, 3) array; got {videos.shape}")
    return videos


def compute_features(encoder, videos, readout_index=None, batch_size=8, progress=False,
                     desc="features"):
    """Selected encoder states of `videos` `(B, T, H, W, 3)` in [0, 1] -> `(B, N, C)` float32,
    `batch_size` videos at a time (a tqdm bar named `desc` with `progress`)."""
    indices = readout_indices(encoder, readout_index)
    videos = _videos(videos)
    encoder.check_inputs(videos)
    model = _FeatureModel(encoder, indices)
    starts = tqdm(range(0, len(videos), batch_size), desc=desc, unit="batch", disable=not progress)
    # `predict`, not `predict_on_batch`: under a tf.distribute MirroredStrategy (Keras
    # 3.15) the latter returns every row once per replica.
    return np.concatenate([np.asarray(model.predict(videos[s:s + batch_size],
                                                    batch_size=batch_size, verbose=0), np.float32)
                           for s in starts])


def encoder_fingerprint(encoder):
    """Hex sha256 of the encoder's configuration, dtype policy and every weight's shape,
    dtype and bytes (in `encoder.weights` order)."""
    config = {k: v for k, v in encoder.get_config().items() if k not in _NOT_FINGERPRINTED}
    digest = hashlib.sha256(json.dumps([config, encoder.dtype_policy.name], sort_keys=True,
                                       default=str).encode())
    for weight in encoder.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def feature_key(encoder, videos, readout_index=None):
    """The cache key of the features of `videos` `(B, T, H, W, 3)`: a hex sha256 of
    `encoder_fingerprint`, the readout indices and the videos' shape and float32 bytes."""
    indices = readout_indices(encoder, readout_index)
    videos = _videos(videos)
    digest = hashlib.sha256(f"{encoder_fingerprint(encoder)}{indices}{videos.shape}".encode())
    digest.update(videos.tobytes())
    return digest.hexdigest()


def cache_features(directory, encoder, videos, readout_index=None, batch_size=8):
    """Features `(B, N, C)` of `videos` `(B, T, H, W, 3)` from `directory/<feature_key>.npz`;
    computed (with a tqdm bar) and written there (a temporary file, then renamed) when the
    file is missing. Another encoder, other videos or another readout index have another
    key (see the module docstring)."""
    indices = readout_indices(encoder, readout_index)
    videos = _videos(videos)
    key = feature_key(encoder, videos, indices)
    path = os.path.join(directory, f"{key}.npz")
    expected = (len(videos), encoder.num_tokens, encoder.width * len(indices))
    if os.path.exists(path):
        with np.load(path) as cached:
            features = cached["features"]
        if features.shape != expected:
            raise ValueError(f"feature cache {path} holds features {features.shape}, expected "
                             f"{expected}: the file is damaged; delete it")
        return features
    features = compute_features(encoder, videos, indices, batch_size, progress=True,
                                desc=f"features {key[:8]} -> {directory}")
    write_staged(path, lambda staged: np.savez(staged, features=features))
    return features
