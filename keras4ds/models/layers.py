"""Building blocks of the 4DS ViT, written once with keras.ops.

Layers that make sublayers pass them their own `dtype_policy` (a policy, or a
`DTypePolicyMap` that each sublayer reads at its own path), so a model's `dtype` reaches
every weight and computation."""
import functools
import math

import keras
from keras import ops

from keras4ds.models.patches import gather_tokens, patchify


@keras.saving.register_keras_serializable("keras4ds")
class TubeletEmbedding(keras.layers.Layer):
    """Non-overlapping 3D patch projection: `(B, T, H, W, 3)` -> `(B, t, h, w, D)`.

    Equal to a VALID `Conv3D` with kernel = stride = `patch_size`; the kernel keeps the
    Conv3D layout `(pt, ph, pw, C, D)` and is applied as one matmul over patches.
    """

    def __init__(self, width, patch_size=(2, 16, 16), **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.patch_size = tuple(patch_size)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(*self.patch_size, channels, self.width),
            initializer="lecun_normal")
        self.bias = self.add_weight(name="bias", shape=(self.width,), initializer="zeros")

    def call(self, video, indices=None):
        """`indices` `(B, n)` int (tokens in t, h, w order): only those tubelets are
        embedded, `(B, n, D)` (an MAE encodes its visible ones)."""
        patches = patchify(video, self.patch_size)
        if indices is not None:
            patches = gather_tokens(ops.reshape(patches, (ops.shape(patches)[0], -1,
                                                          patches.shape[-1])), indices)
        kernel = ops.reshape(self.kernel, (-1, self.width))
        return ops.matmul(patches, ops.cast(kernel, patches.dtype)) + ops.cast(self.bias, patches.dtype)

    def get_config(self):
        return {**super().get_config(), "width": self.width, "patch_size": self.patch_size}


@keras.saving.register_keras_serializable("keras4ds")
class PositionEmbedding(keras.layers.Layer):
    """Learned joint (t, h, w) embedding added to `(B, t, h, w, D)` tokens."""

    def __init__(self, grid, **kwargs):
        super().__init__(**kwargs)
        self.grid = tuple(grid)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(*self.grid, input_shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, tokens, indices=None):
        """`(B, t, h, w, D)` tokens, or with `indices` `(B, n)` the `(B, n, D)` tokens at
        those grid positions."""
        embeddings = ops.cast(self.embeddings, tokens.dtype)
        if indices is None:
            return tokens + embeddings
        flat = ops.reshape(embeddings, (-1, embeddings.shape[-1]))
        return tokens + ops.take(flat, ops.cast(indices, "int32"), axis=0)

    def get_config(self):
        return {**super().get_config(), "grid": self.grid}


def multi_head_attention(query, key, value, training=False):
    """Softmax attention, `(B, Nq, heads, K)` queries on `(B, Nk, heads, K)` -> `(B, Nq, heads, K)`.

    Logits are scaled by 1/sqrt(K) and the softmax runs in float32, as in
    `jax.nn.dot_product_attention`. Which kernel runs (same result to float32 rounding):
    - jax on CPU: heads-first batched matmuls, which skip the re-layout of the `(Nq, Nk)`
      probabilities that `jax.nn.dot_product_attention` does (`heads_first_attention`);
      in inference in cache-sized blocks of (batch, head) pairs, in training
      (`training=True`, a gradient will be taken) in one block: the gradient of the
      blocked loop is slower (4DS-B MAE step at mask 0.95, batch 2: 2.31 s/clip unblocked,
      2.95 blocked, 2.96 with `ops.dot_product_attention`); benchmarks/variants.md;
    - jax on GPU/TPU: `ops.dot_product_attention` (cuDNN flash attention where it applies);
    - tensorflow: `ops.dot_product_attention` (einsum + float32 softmax, XLA-compiled under
      `jit_compile=True`; heads-first measured slower there);
    - torch: `ops.dot_product_attention`, i.e. PyTorch's fused SDPA kernel.
    """
    if heads_first_attention_is_faster():
        return heads_first_attention(query, key, value, blocked=not training)
    return ops.dot_product_attention(query, key, value)


# Largest (query x key) score block, in elements, that `heads_first_attention` computes at
# once (16 MB of float32): blocks this size stay in the CPU's cache between the two matmuls.
SCORE_BLOCK_ELEMENTS = 2 ** 22


def heads_first_attention(query, key, value, blocked=True):
    """`multi_head_attention` as heads-first batched matmuls (the CPU fast path).

    With `blocked`, when all heads' scores would exceed `SCORE_BLOCK_ELEMENTS`, the (batch x head) pairs
    run in groups, one after another (`ops.map`), so each group's `(Nq, Nk)` scores stay
    in cache instead of round-tripping through memory; the result is the same to float32
    rounding (measured: benchmarks/variants.md).
    """
    scale = 1.0 / math.sqrt(query.shape[-1])
    query = ops.transpose(query, (0, 2, 1, 3))
    key = ops.transpose(key, (0, 2, 3, 1))
    value = ops.transpose(value, (0, 2, 1, 3))
    batch, heads, num_queries, head_dim = query.shape
    num_keys = key.shape[-1]

    def attend(q, k, v):
        logits = ops.cast(ops.matmul(q, k), "float32") * scale
        return ops.matmul(ops.cast(ops.softmax(logits, axis=-1), v.dtype), v)

    # a symbolic batch (None, or a jax shape-polymorphic dimension while Keras infers
    # shapes) takes the one-block path
    pairs = batch * heads if isinstance(batch, int) else None
    if not blocked or pairs is None or pairs * num_queries * num_keys <= SCORE_BLOCK_ELEMENTS:
        out = attend(query, key, value)
    else:
        group = _largest_divisor_at_most(pairs, SCORE_BLOCK_ELEMENTS // (num_queries * num_keys))
        split = lambda x: ops.reshape(x, (pairs // group, group, *x.shape[2:]))  # noqa: E731
        out = ops.map(lambda qkv: attend(*qkv), (split(query), split(key), split(value)))
        out = ops.reshape(out, (batch, heads, num_queries, head_dim))
    return ops.transpose(out, (0, 2, 1, 3))


def _largest_divisor_at_most(n, limit):
    """The largest divisor of `n` that is at most `limit` (at least 1)."""
    return max(d for d in range(1, max(1, min(n, limit)) + 1) if n % d == 0)


@functools.cache
def heads_first_attention_is_faster():
    """True for the jax backend computing on CPU, False otherwise.

    Measured on CPU (benchmarks/variants.md): heads-first is about 1.7x faster than
    `ops.dot_product_attention` on jax, and about 0.9x on tensorflow, where the generic
    einsum path compiled by XLA is kept.
    """
    if keras.backend.backend() != "jax":
        return False
    import jax
    return jax.default_backend() == "cpu"


@keras.saving.register_keras_serializable("keras4ds")
class Attention(keras.layers.Layer):
    """Multi-head attention of `x` `(B, N, D)` on `context` `(B, M, D_c)` -> `(B, N, D)`.

    Queries come from `x`, keys and values from `context` (default `x`: self-attention,
    as in the encoder's blocks; the MAE cross decoder's target queries pass the visible
    tokens). q kernel `(D, heads, D/heads)`, k/v kernels `(D_c, heads, D/heads)`, out
    `(heads, D/heads, D)`, each with a bias; logits scaled by 1/sqrt(D/heads)
    (`multi_head_attention`).
    """

    def __init__(self, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads

    def build(self, x_shape, context_shape=None):
        width = x_shape[-1]
        if width % self.num_heads:
            raise ValueError(f"width {width} is not divisible by num_heads {self.num_heads}")
        head_dim = width // self.num_heads
        projection = dict(equation="bnd,dhk->bnhk", output_shape=(None, self.num_heads, head_dim),
                          bias_axes="hk", kernel_initializer="lecun_normal")
        dtype = self.dtype_policy
        self.query = keras.layers.EinsumDense(name="query", dtype=dtype, **projection)
        self.key = keras.layers.EinsumDense(name="key", dtype=dtype, **projection)
        self.value = keras.layers.EinsumDense(name="value", dtype=dtype, **projection)
        self.out = keras.layers.EinsumDense(
            "bnhk,hkd->bnd", output_shape=(None, width), bias_axes="d",
            kernel_initializer="lecun_normal", name="out", dtype=dtype)
        context_shape = x_shape if context_shape is None else context_shape
        self.query.build(x_shape)
        self.key.build(context_shape)
        self.value.build(context_shape)
        self.out.build((None, None, self.num_heads, head_dim))

    def call(self, x, context=None, training=None):
        context = x if context is None else context
        q, k, v = self.query(x), self.key(context), self.value(context)
        return self.out(multi_head_attention(q, k, v, training=bool(training)))

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads}


@keras.saving.register_keras_serializable("keras4ds")
class Mlp(keras.layers.Layer):
    """Dense(hidden) -> GELU (tanh approximation) -> Dense(out). `(..., D)` -> `(..., out)`."""

    def __init__(self, hidden_dim, output_dim=None, dense_names=("dense_in", "dense_out"),
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim
        self.dense_names = tuple(dense_names)
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape):
        out_dim = self.output_dim or input_shape[-1]
        init = self.kernel_initializer
        self.dense_in = keras.layers.Dense(self.hidden_dim, kernel_initializer=init,
                                           name=self.dense_names[0], dtype=self.dtype_policy)
        self.dense_out = keras.layers.Dense(out_dim, kernel_initializer=init,
                                            name=self.dense_names[1], dtype=self.dtype_policy)
        self.dense_in.build(input_shape)
        self.dense_out.build((*input_shape[:-1], self.hidden_dim))

    def call(self, x):
        return self.dense_out(ops.gelu(self.dense_in(x), approximate=True))

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim,
                "output_dim": self.output_dim, "dense_names": self.dense_names,
                "kernel_initializer": self.kernel_initializer}


@keras.saving.register_keras_serializable("keras4ds")
class TransformerBlock(keras.layers.Layer):
    """Pre-norm block: `x += Attn(LN(x)); x += MLP(LN(x))`, LayerNorm eps 1e-6. `(B, N, D)`."""

    def __init__(self, num_heads, mlp_dim, layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layer_norm_epsilon = layer_norm_epsilon

    def build(self, input_shape):
        eps, dtype = self.layer_norm_epsilon, self.dtype_policy
        self.attention_norm = keras.layers.LayerNormalization(epsilon=eps, name="attention_norm",
                                                              dtype=dtype)
        self.attention = Attention(self.num_heads, name="attention", dtype=dtype)
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=eps, name="mlp_norm", dtype=dtype)
        self.mlp = Mlp(self.mlp_dim, name="mlp", dtype=dtype)
        for layer in (self.attention_norm, self.attention, self.mlp_norm, self.mlp):
            layer.build(input_shape)

    def call(self, x, training=None):
        # the residual stream in this block's compute dtype (a DTypePolicyMap may give its
        # sublayers another one than the block before)
        x = ops.cast(x, self.compute_dtype)
        x = x + ops.cast(self.attention(self.attention_norm(x), training=training), x.dtype)
        return x + ops.cast(self.mlp(self.mlp_norm(x)), x.dtype)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "mlp_dim": self.mlp_dim,
                "layer_norm_epsilon": self.layer_norm_epsilon}
