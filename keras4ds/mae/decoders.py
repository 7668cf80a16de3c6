"""MAE decoders. Each maps visible encoder features to pixel predictions of target tokens.

Common call: `decoder(visible (B, n_vis, D_enc), visible_idx (B, n_vis), target_idx (B, n_tgt))`
-> `(B, n_tgt, P)` with P = pt*ph*pw*3 pixels per tubelet.

- `TransformerDecoder` ("standard" when the targets are all masked tokens, "masked" in the
  VideoMAE V2 sense when they are a random subset): a narrow ViT over visible tokens
  plus one mask token per target, each with a learned decoder position embedding.
- `CrossAttentionDecoder` ("cross"): target queries are position-only tokens (mask token +
  position embedding) that cross-attend to the visible tokens; no self-attention over the
  clip, so cost grows with the number of targets and visible tokens, not with N.

The prediction layer starts small (output variance 0.01 for unit-variance features), so
an untrained decoder predicts about zero, the mean of norm-pix targets, and the first loss
is the predict-the-mean loss. A Glorot-initialised layer adds output noise of variance
about 0.3 that AdamW needs ~100 steps at lr 1e-3 to remove: at the study's budget the
loss then never got below the mean (benchmarks/mae.md).
"""
import keras
from keras import ops

from keras4ds.models.layers import Attention, Mlp, TransformerBlock


class _DecoderBase(keras.layers.Layer):
    def __init__(self, num_tokens, patch_dim, width=512, depth=4, num_heads=8, mlp_ratio=4,
                 layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if width % num_heads:
            raise ValueError(f"decoder width {width} is not divisible by decoder heads {num_heads}")
        self.num_tokens, self.patch_dim = num_tokens, patch_dim
        self.width, self.depth, self.num_heads = width, depth, num_heads
        self.mlp_ratio, self.layer_norm_epsilon = mlp_ratio, layer_norm_epsilon

    def _build_common(self, encoder_width):
        self.input_projection = keras.layers.Dense(self.width, name="input_projection")
        self.input_projection.build((None, None, encoder_width))
        self.mask_token = self.add_weight(name="mask_token", shape=(self.width,),
                                          initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.position_embedding = self.add_weight(
            name="position_embedding", shape=(self.num_tokens, self.width),
            initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.norm = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, name="norm")
        self.norm.build((None, None, self.width))
        self.prediction = keras.layers.Dense(
            self.patch_dim, name="prediction",
            kernel_initializer=keras.initializers.VarianceScaling(0.01, "fan_in", "truncated_normal"))
        self.prediction.build((None, None, self.width))

    def _embed(self, visible, visible_idx, target_idx):
        """Visible tokens `(B, n_vis, W)` and target queries `(B, n_tgt, W)` with positions."""
        x = self.input_projection(visible)
        pos = ops.cast(self.position_embedding, x.dtype)
        x = x + ops.take(pos, ops.cast(visible_idx, "int32"), axis=0)
        queries = ops.cast(self.mask_token, x.dtype) + ops.take(pos, ops.cast(target_idx, "int32"), axis=0)
        return x, queries

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "patch_dim": self.patch_dim,
                "width": self.width, "depth": self.depth, "num_heads": self.num_heads,
                "mlp_ratio": self.mlp_ratio, "layer_norm_epsilon": self.layer_norm_epsilon}


class TransformerDecoder(_DecoderBase):
    """Standard MAE decoder (self-attention over visible + target mask tokens)."""

    def build(self, encoder_width):
        self._build_common(encoder_width)
        self.blocks = [TransformerBlock(self.num_heads, self.mlp_ratio * self.width,
                                        self.layer_norm_epsilon, name=f"block_{i}")
                       for i in range(self.depth)]
        for block in self.blocks:
            block.build((None, None, self.width))
        self.built = True

    def call(self, visible, visible_idx, target_idx, training=None):
        x, queries = self._embed(visible, visible_idx, target_idx)
        num_visible = ops.shape(x)[1]
        x = ops.concatenate([x, queries], axis=1)
        for block in self.blocks:
            x = block(x, training=training)
        return self.prediction(self.norm(x[:, num_visible:]))


class CrossAttentionBlock(keras.layers.Layer):
    """`q += Attn(LN(q), LN(context)); q += MLP(LN(q))`: queries `(B, n, W)` attend to
    context `(B, m, W)` (`Attention` with keys and values from the context)."""

    def __init__(self, num_heads, mlp_dim, layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.mlp_dim, self.layer_norm_epsilon = num_heads, mlp_dim, layer_norm_epsilon

    def build(self, width):
        eps = self.layer_norm_epsilon
        self.query_norm = keras.layers.LayerNormalization(epsilon=eps, name="query_norm")
        self.context_norm = keras.layers.LayerNormalization(epsilon=eps, name="context_norm")
        self.attention = Attention(self.num_heads, name="attention")
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=eps, name="mlp_norm")
        self.mlp = Mlp(self.mlp_dim, name="mlp")
        for layer in (self.query_norm, self.context_norm, self.mlp_norm, self.mlp):
            layer.build((None, None, width))
        self.attention.build((None, None, width), (None, None, width))
        self.built = True

    def call(self, queries, context, training=None):
        queries = queries + self.attention(self.query_norm(queries), self.context_norm(context),
                                           training=training)
        return queries + self.mlp(self.mlp_norm(queries))


class CrossAttentionDecoder(_DecoderBase):
    """Position-only target queries cross-attending to the visible tokens."""

    def build(self, encoder_width):
        self._build_common(encoder_width)
        self.blocks = [CrossAttentionBlock(self.num_heads, self.mlp_ratio * self.width,
                                           self.layer_norm_epsilon, name=f"block_{i}")
                       for i in range(self.depth)]
        for block in self.blocks:
            block.build(self.width)
        self.built = True

    def call(self, visible, visible_idx, target_idx, training=None):
        context, queries = self._embed(visible, visible_idx, target_idx)
        for block in self.blocks:
            queries = block(queries, context, training=training)
        return self.prediction(self.norm(queries))
