"""Encoder features at query locations: what a query point or box looks like."""
import keras
from keras import ops


def sample_features(features, points, grid_size):
    """Bilinear sample of readout features at query points.

    features `(B, T, h*w, C)`; points `(B, Q, 3)` as (t, y, x), t a frame index (rounded),
    y, x in [0, 1] image units; grid_size `(h, w)`. Returns `(B, Q, C)`. Each query is
    sampled on its own, so queries never mix.
    """
    h, w = grid_size
    num_frames = features.shape[1]
    frame = ops.clip(ops.round(points[..., 0]), 0, num_frames - 1)
    frame_weights = ops.cast(ops.equal(frame[..., None], ops.arange(num_frames, dtype=frame.dtype)),
                             features.dtype)

    def tent(coord, size):  # (B, Q) in [0, 1] -> (B, Q, size) linear interpolation weights
        centre = ops.clip(coord * size - 0.5, 0.0, size - 1.0)
        cells = ops.arange(size, dtype=centre.dtype)
        return ops.maximum(1.0 - ops.abs(centre[..., None] - cells), 0.0)

    spatial = tent(points[..., 1], h)[..., :, None] * tent(points[..., 2], w)[..., None, :]
    spatial = ops.reshape(spatial, (ops.shape(points)[0], ops.shape(points)[1], h * w))
    return ops.einsum("bqt,bqn,btnc->bqc", frame_weights, ops.cast(spatial, features.dtype), features)


@keras.saving.register_keras_serializable("keras4ds")
class QueryFeatureProjection(keras.layers.Layer):
    """LayerNorm + Dense(dim) of sampled query features `(B, Q, C)` -> `(B, Q, dim)`."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")
        self.dense = keras.layers.Dense(dim, name="dense")

    def build(self, input_shape):
        self.norm.build(input_shape)
        self.dense.build(input_shape)

    def call(self, sampled):
        return self.dense(self.norm(sampled))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}
