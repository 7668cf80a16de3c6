"""The query stack shared by the point and box tracking heads.

A query (a point or a box, given in one frame) becomes one embedding: its coordinates
Fourier-encoded (`FourierQueryEncoder`) plus, with `sample_query_features`, the readout
features sampled at its location in its frame (`sample_features` -> LayerNorm + Dense).
Per output frame t, a learned frame embedding is added and the query cross-attends to
frame t's tokens only (`AttentionReadout` on `(B*T, 1, h*w, C)`): every (query, frame)
pair gets its own attention map, a soft look-up of "where is it now" (the correlation of
TAPIR's cost volume). Queries never mix: each is its own row of the attention.
"""
import math

import keras
from keras import ops

from keras4ds.models.readout import AttentionReadout
from keras4ds.readouts.probe import Probe


@keras.saving.register_keras_serializable("keras4ds")
class FourierQueryEncoder(keras.layers.Layer):
    """`(B, Q, C)` coordinates in about [0, 1] -> `(B, Q, dim)` query vectors.

    Each coordinate c becomes `[c, sin(2^k pi c), cos(2^k pi c)]` for k < num_bands, then
    Dense(dim) -> tanh-GELU -> Dense(dim). Applied per query, so queries never mix.
    """

    def __init__(self, dim, num_bands=8, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.num_bands = dim, num_bands
        self.dense_in = keras.layers.Dense(dim, name="dense_in")
        self.dense_out = keras.layers.Dense(dim, name="dense_out")

    def build(self, coords_shape):
        encoded = coords_shape[-1] * (1 + 2 * self.num_bands)
        self.dense_in.build((None, None, encoded))
        self.dense_out.build((None, None, self.dim))

    def call(self, coords):
        freqs = ops.convert_to_tensor([(2.0 ** k) * math.pi for k in range(self.num_bands)],
                                      dtype=coords.dtype)
        angles = coords[..., None] * freqs
        shape = ops.shape(coords)
        angles = ops.reshape(angles, (shape[0], shape[1], coords.shape[-1] * self.num_bands))
        encoded = ops.concatenate([coords, ops.sin(angles), ops.cos(angles)], axis=-1)
        return self.dense_out(ops.gelu(self.dense_in(encoded), approximate=True))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "num_bands": self.num_bands}


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


class TrackingProbe(Probe):
    """Base of `PointTrackingProbe` and `BoxTrackingProbe`.

    Subclasses set `coordinate_size` (numbers per query given to the Fourier encoder) and
    `outputs_per_frame`, and call `track(features, coords, sample_points)` with
    coords `(B, Q, coordinate_size)` in about [0, 1] and sample_points `(B, Q, 3)` as
    (t, y, x), which returns the raw per-frame outputs `(B, Q, T, outputs_per_frame)`.
    The last Dense starts at zero (kernel) and at `output_bias` (bias), so an untrained
    head answers `output_bias` everywhere: the subclasses add it to the query (static
    answer) to start at their trivial baseline.
    """

    coordinate_size = None
    outputs_per_frame = None

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 num_bands=8, sample_query_features=True, output_bias=None, **kwargs):
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, **kwargs)
        self.num_frames, self.num_bands = encoder.num_frames, num_bands
        self.sample_query_features = sample_query_features
        self.query_encoder = FourierQueryEncoder(num_params, num_bands, name="query_encoder")
        self.query_encoder.build((None, None, self.coordinate_size))
        if sample_query_features:
            self.query_features = QueryFeatureProjection(num_params, name="query_features")
            self.query_features.build((None, None, self.readout_channels))
        self.frame_embedding = self.add_weight(
            name="frame_embedding", shape=(self.num_frames, num_params),
            initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.readout = AttentionReadout(num_classes=self.outputs_per_frame,
                                        num_params=num_params, num_heads=num_heads,
                                        external_queries=True,
                                        spatial_grid=self.readout_grid, name="readout")
        frame_shape = (None, 1, self.readout_features_shape[2], self.readout_channels)
        self.readout.build(frame_shape, (None, None, num_params))
        head = self.readout.head
        head.kernel.assign(ops.zeros(head.kernel.shape))
        bias = [0.0] * self.outputs_per_frame if output_bias is None else list(output_bias)
        head.bias.assign(ops.convert_to_tensor(bias, head.bias.dtype))

    def track(self, features, coords, sample_points):
        """features `(B, T, h*w, C)` -> raw outputs `(B, Q, T, outputs_per_frame)`."""
        query = self.query_encoder(coords)
        if self.sample_query_features:
            query = query + self.query_features(
                sample_features(features, sample_points, self.encoder.grid[1:]))
        batch, count = ops.shape(coords)[0], ops.shape(coords)[1]
        frames, tokens, channels = self.num_frames, features.shape[2], features.shape[3]
        # (B, T, Q, P): the query of every (frame, query) pair.
        query = query[:, None] + ops.cast(self.frame_embedding, query.dtype)[None, :, None]
        query = ops.reshape(query, (batch * frames, count, self.num_params))
        per_frame = ops.reshape(features, (batch * frames, 1, tokens, channels))
        out = self.readout(per_frame, query)  # one query comes back squeezed: reshape restores Q
        out = ops.reshape(out, (batch, frames, count, self.outputs_per_frame))
        return ops.transpose(out, (0, 2, 1, 3))

    def get_config(self):
        return {**super().get_config(), "num_bands": self.num_bands,
                "sample_query_features": self.sample_query_features}
