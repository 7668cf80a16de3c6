"""Fourier encoding of query coordinates and the MLP that turns them into readout queries."""
import math

import keras
from keras import ops


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
