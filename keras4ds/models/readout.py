"""Readouts on encoder features: temporal upsampling, cross-attention, the depth readout."""
import keras
import numpy as np
from keras import ops

from keras4ds.models.layers import Mlp, multi_head_attention
from keras4ds.models.patches import unpatchify
from keras4ds.models.resize import cubic_resize_matrix


@keras.saving.register_keras_serializable("keras4ds")
class EncoderToReadout(keras.layers.Layer):
    """`(B, t*h*w, D)` tokens -> `(B, T, h*w, D)`, time upsampled t -> T.

    Uses JAX's cubic resize (Keys a = -0.5, half-pixel centres, border weights
    renormalised) as a fixed `(T, t)` matrix applied with an einsum, so every backend agrees.
    """

    def __init__(self, grid, num_frames, **kwargs):
        super().__init__(**kwargs)
        self.grid = tuple(grid)
        self.num_frames = num_frames
        self._matrix = cubic_resize_matrix(self.grid[0], num_frames)

    def call(self, tokens):
        t, h, w = self.grid
        x = ops.reshape(tokens, (ops.shape(tokens)[0], t, h * w, tokens.shape[-1]))
        matrix = ops.cast(ops.convert_to_tensor(self._matrix), x.dtype)
        return ops.einsum("Tt,btnd->bTnd", matrix, x)

    def compute_output_shape(self, input_shape):
        t, h, w = self.grid
        return (input_shape[0], self.num_frames, h * w, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "grid": self.grid, "num_frames": self.num_frames}


def sincos_grid_code(grid, channels):
    """Fixed 2D sine-cosine code of an `(h, w)` token grid -> `(h*w, channels)` float32:
    a quarter of the channels each for sin/cos of y and of x, at geometric frequencies."""
    if channels % 4:
        raise ValueError(f"a sine-cosine grid code needs channels divisible by 4; got {channels}")
    quarter = channels // 4
    frequencies = 1.0 / (100.0 ** (np.arange(quarter) / max(quarter - 1, 1)))
    y, x = np.meshgrid(np.arange(grid[0]), np.arange(grid[1]), indexing="ij")
    angles = [c.reshape(-1, 1).astype(np.float64) * frequencies for c in (y, x)]
    code = np.concatenate([f(a) for a in angles for f in (np.sin, np.cos)], axis=-1)
    return code.astype(np.float32)


@keras.saving.register_keras_serializable("keras4ds")
class AttentionReadout(keras.layers.Layer):
    """V-JEPA style cross-attention readout, as the official `AttentionReadout`.

    `call(features, queries=None)`: features `(B, T, N, C)`; with `external_queries=True`,
    queries `(B, Q, Dq)` are projected by Dense(P), otherwise `num_queries` learned queries
    `(Q, heads, P/heads)` are used. `mask`: None, or a `(Q, T*N)` bool array of the tokens
    each query may attend to. Returns `(B, Q, num_classes)`, or `(B, num_classes)` when
    Q == 1. No output activation.

    spatial_grid: None (official: the readout sees where a token is only through the
    features) or the token grid `(h, w)` with N = h*w: a fixed sine-cosine code of each
    token's grid position (`sincos_grid_code`) is added to the normalised features, so
    keys and values say where a token is whatever the encoder kept of its position.
    mlp: False drops the residual MLP, so after the attention pooling the output is a linear
    map of the pooled (normalised) features; True is the official readout.
    """

    def __init__(self, num_classes, num_params, num_heads, num_queries=1,
                 external_queries=False, layer_norm_epsilon=1e-6, spatial_grid=None, mlp=True,
                 **kwargs):
        super().__init__(**kwargs)
        if num_params % num_heads:
            raise ValueError(f"num_params ({num_params}) must be a multiple of num_heads "
                             f"({num_heads})")
        self.num_classes = num_classes
        self.num_params = num_params
        self.num_heads = num_heads
        self.num_queries = num_queries
        self.external_queries = external_queries
        self.layer_norm_epsilon = layer_norm_epsilon
        self.spatial_grid = None if spatial_grid is None else tuple(int(g) for g in spatial_grid)
        self.use_mlp = bool(mlp)

    def build(self, features_shape, queries_shape=None):
        _, num_frames, _, channels = features_shape
        heads, head_dim, eps = self.num_heads, self.num_params // self.num_heads, self.layer_norm_epsilon
        self.feature_norm = keras.layers.LayerNormalization(epsilon=eps, name="feature_norm")
        self.feature_norm.build(features_shape)
        self.temporal_posenc = self.add_weight(
            name="temporal_posenc", shape=(num_frames, 1, channels),
            initializer=keras.initializers.RandomNormal(stddev=0.02))
        self._grid_code = None
        if self.spatial_grid is not None:
            tokens = features_shape[2]
            if tokens is not None and tokens != self.spatial_grid[0] * self.spatial_grid[1]:
                raise ValueError(f"spatial_grid {self.spatial_grid} has {np.prod(self.spatial_grid)} "
                                 f"positions but the features have {tokens} tokens per frame")
            self._grid_code = sincos_grid_code(self.spatial_grid, channels)[None]
        if self.external_queries:
            self.query_projection = keras.layers.Dense(self.num_params, name="query_projection")
            self.query_projection.build(queries_shape or (None, None, None))
        else:
            self.query = self.add_weight(
                name="query", shape=(self.num_queries, heads, head_dim),
                initializer=keras.initializers.RandomNormal(stddev=0.02))
        projection = dict(equation="bnd,dhk->bnhk", output_shape=(None, heads, head_dim),
                          bias_axes="hk")
        self.key_embedding = keras.layers.EinsumDense(name="key_embedding", **projection)
        self.value_embedding = keras.layers.EinsumDense(name="value_embedding", **projection)
        for layer in (self.key_embedding, self.value_embedding):
            layer.build((None, None, channels))
        self.token_dense = keras.layers.Dense(self.num_params, name="token_dense")
        self.token_dense.build((None, None, self.num_params))
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=eps, name="mlp_norm")
        self.mlp_norm.build((None, None, self.num_params))
        self.mlp = Mlp(4 * self.num_params, dense_names=("dense_0", "dense_1"), name="mlp")
        self.mlp.build((None, None, self.num_params))
        self.head = keras.layers.Dense(self.num_classes, name="head")
        self.head.build((None, None, self.num_params))

    def call(self, features, queries=None, mask=None, training=None):
        if self.external_queries and queries is None:
            raise ValueError("this readout was built with external_queries=True: pass "
                             "queries of shape (B, Q, Dq)")
        heads, head_dim = self.num_heads, self.num_params // self.num_heads
        x = self.feature_norm(features) + ops.cast(self.temporal_posenc, features.dtype)
        if self._grid_code is not None:
            x = x + ops.cast(ops.convert_to_tensor(self._grid_code), x.dtype)
        batch = ops.shape(x)[0]
        x = ops.reshape(x, (batch, -1, x.shape[-1]))
        if self.external_queries:
            query = self.query_projection(queries)
            query = ops.reshape(query, (batch, -1, heads, head_dim))
        else:
            query = ops.broadcast_to(ops.cast(self.query, x.dtype),
                                     (batch, self.num_queries, heads, head_dim))
        key, value = self.key_embedding(x), self.value_embedding(x)
        if mask is not None:
            token = ops.dot_product_attention(query, key, value,
                                              mask=ops.convert_to_tensor(mask)[None, None])
        elif training:  # the generic gradient is the faster one here on every backend (jax CPU,
            # 4DS-S depth readout step: 5.9 s against 10.3 s with heads-first attention)
            token = ops.dot_product_attention(query, key, value)
        else:
            token = multi_head_attention(query, key, value)
        num_queries = query.shape[1]
        flat = (batch, -1 if num_queries is None else num_queries, self.num_params)
        token = ops.reshape(query, flat) + self.token_dense(ops.reshape(token, flat))
        if self.use_mlp:
            token = token + self.mlp(self.mlp_norm(token))
        if num_queries == 1:
            token = ops.squeeze(token, axis=1)
        return self.head(token)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "num_params": self.num_params, "num_heads": self.num_heads,
                "num_queries": self.num_queries, "external_queries": self.external_queries,
                "layer_norm_epsilon": self.layer_norm_epsilon, "spatial_grid": self.spatial_grid,
                "mlp": self.use_mlp}


@keras.saving.register_keras_serializable("keras4ds")
class DepthReadout(AttentionReadout):
    """The official depth readout: readout features `(B, T, h*w, C)` -> depth
    `(B, T, H, W, 1)` for an output of `output_size` (T, H, W).

    One learned query per `decoding_patch_size` (pt, ph, pw) block of the output attends to
    the features (`AttentionReadout`) and decodes the block's pt*ph*pw pixels. `mask`
    (call): None, or a `(Q, T*h*w)` bool array of the tokens each query may attend to.
    `spatial_grid` and `mlp` as in `AttentionReadout`. Used by `DepthModel` (official
    weights) and `DepthProbe(head="attention")` (trained).
    """

    def __init__(self, output_size, decoding_patch_size=(2, 8, 8), num_params=1024,
                 num_heads=16, layer_norm_epsilon=1e-6, spatial_grid=None, mlp=True, **kwargs):
        output_size, patch = tuple(int(s) for s in output_size), tuple(decoding_patch_size)
        if len(output_size) != 3 or len(patch) != 3 or any(s % p for s, p in zip(output_size, patch)):
            raise ValueError(f"output (T, H, W) = {output_size} is not divisible by "
                             f"decoding_patch_size {patch}")
        self.output_size, self.decoding_patch_size = output_size, patch
        self.output_grid = tuple(s // p for s, p in zip(output_size, patch))
        super().__init__(num_classes=int(np.prod(patch)), num_params=num_params,
                         num_heads=num_heads, num_queries=int(np.prod(self.output_grid)),
                         layer_norm_epsilon=layer_norm_epsilon, spatial_grid=spatial_grid,
                         mlp=mlp, **kwargs)

    def call(self, features, mask=None, training=None):
        patches = super().call(features, mask=mask, training=training)
        return unpatchify(patches, self.output_grid, self.decoding_patch_size, 1)

    def compute_output_shape(self, features_shape):
        return (features_shape[0], *self.output_size, 1)

    def get_config(self):
        config = super().get_config()
        for key in ("num_classes", "num_queries", "external_queries"):
            config.pop(key)
        return {**config, "output_size": self.output_size,
                "decoding_patch_size": self.decoding_patch_size}
