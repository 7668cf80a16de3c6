"""The masked video autoencoder (MAE) around a `FourDSEncoder`."""
import keras
import numpy as np
from keras import ops

from keras4ds.distribution.strategies import replica_rows, replica_share
from keras4ds.mae.decoders import CrossAttentionDecoder, TransformerDecoder
from keras4ds.mae.masking import check_mask, num_masked, random_mask, token_order
from keras4ds.models.patches import gather_tokens, patchify, unpatchify

DECODERS = ("standard", "masked", "cross")
# Fraction of the masked tokens each decoder reconstructs during training.
DEFAULT_TARGET_RATIO = {"standard": 1.0, "masked": 0.5, "cross": 1.0}


def _decoder_heads(width, heads):
    """`heads`, or by default the fewest heads >= 8 that divide `width` and that the model
    axis of the distribution in effect splits (`fitting_heads`): the decoder fits every mesh
    its width does. Given heads that the model axis does not split are an error."""
    from keras4ds.distribution.layouts import fitting_heads, model_axis_size

    model_axis = model_axis_size()
    if heads is None:
        return fitting_heads(width, 8, model_axis)
    if heads % model_axis:
        raise ValueError(f"decoder_heads={heads} cannot be split over the model axis of "
                         f"{model_axis} devices; use a multiple of {model_axis} (or leave "
                         f"decoder_heads unset: {fitting_heads(width, 8, model_axis)})")
    return heads


class MaskedAutoencoder(keras.Model):
    """MAE pretraining model: mask tubelet tokens, encode the visible ones, rebuild the rest.

    Input: a video `(B, T, H, W, 3)` floats in [0, 1], or a dict with "video" and optionally
    "mask" `(B, N)` / `(B, t, h, w)` bool, True = masked, with exactly
    `num_masked` True per row (see `keras4ds.mae.masking.random_mask`). Without a mask
    one is drawn from the model's seeded generator (a variable, so checkpoints carry it).

    Position embeddings are added before masking; the encoder runs on visible tokens only.
    `call` returns `(prediction, target)`, both `(B, n_targets, P)` float32 with
    P = pt*ph*pw*3; `compute_loss` is their mean squared error, so `compile(optimizer=...)`
    + `fit(dataset)` train on every backend. Targets are per-patch normalised pixels
    (`norm_pix_loss=True`, mean/std over each tubelet) or raw pixels.

    Decoders: "standard" (narrow ViT over visible + all masked tokens), "masked" (the same
    over visible + a random `target_ratio` subset of the masked tokens, VideoMAE V2 style),
    "cross" (position-only queries for the targets cross-attending to visible tokens).
    `decoder_heads` (default: 8, or the fewest more that a model-parallel mesh in effect
    splits, at the same width) must be a multiple of the mesh's model axis.
    """

    def __init__(self, encoder, decoder="standard", mask_ratio=0.95, decoder_width=512,
                 decoder_depth=4, decoder_heads=None, norm_pix_loss=True, tube_masking=False,
                 target_ratio=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        self.encoder = encoder
        self.decoder_kind = decoder
        self.mask_ratio = float(mask_ratio)
        self.norm_pix_loss = norm_pix_loss
        self.tube_masking = tube_masking
        self.seed = seed
        self.target_ratio = DEFAULT_TARGET_RATIO[decoder] if target_ratio is None else target_ratio
        if not 0.0 < self.target_ratio <= 1.0:
            raise ValueError(f"target_ratio must be in (0, 1], got {self.target_ratio}")
        self.grid = tuple(encoder.grid)
        self.num_tokens = encoder.num_tokens
        self.num_masked = num_masked(self.grid, self.mask_ratio, tube_masking)
        self.num_visible = self.num_tokens - self.num_masked
        self.num_targets = max(1, int(round(self.target_ratio * self.num_masked)))
        self.patch_size = tuple(encoder.patch_size)
        self.patch_dim = int(np.prod(self.patch_size)) * 3
        decoder_heads = _decoder_heads(decoder_width, decoder_heads)
        decoder_class = CrossAttentionDecoder if decoder == "cross" else TransformerDecoder
        self.decoder = decoder_class(self.num_tokens, self.patch_dim, decoder_width,
                                     decoder_depth, decoder_heads, name="mae_decoder")
        self.decoder.build(encoder.width)
        self.seed_generator = keras.random.SeedGenerator(seed, name="mask_seed")
        self.built = True

    def sample_mask(self, batch_size, seed=None):
        """A seeded numpy mask `(B, N)` bool (True = masked) for this model's settings."""
        return random_mask(batch_size, self.grid, self.mask_ratio, self.tube_masking,
                           self.seed if seed is None else seed)

    def _unpack(self, inputs):
        if isinstance(inputs, dict):
            if "video" not in inputs:
                raise KeyError(f"expected a dict with key 'video', got keys {sorted(inputs)}")
            return inputs["video"], inputs.get("mask")
        return inputs, None

    def _order(self, batch_size, mask):
        """Token permutation `(B, N)`: visible first, then masked in random order."""
        t, h, w = self.grid
        tube = self.tube_masking and mask is None
        shape = (1, h * w) if tube else (self.num_tokens,)
        # Under a tf.distribute strategy each replica keeps its own rows of a global draw.
        noise = replica_rows(lambda rows: keras.random.uniform((rows, *shape),
                                                               seed=self.seed_generator),
                             batch_size)
        if tube:
            noise = ops.reshape(ops.tile(noise, (1, t, 1)), (batch_size, self.num_tokens))
        if mask is not None:
            mask = check_mask(mask, self.num_tokens, self.grid, self.num_masked)
            return token_order(noise, mask)
        return token_order(noise)

    def targets(self, video):
        """Patch pixels `(B, N, P)` float32, per-patch normalised when `norm_pix_loss`,
        plus the per-patch mean and std `(B, N, 1)` used to undo it."""
        patches = ops.cast(patchify(video, self.patch_size), "float32")
        patches = ops.reshape(patches, (ops.shape(patches)[0], self.num_tokens, self.patch_dim))
        if not self.norm_pix_loss:
            return patches, ops.zeros_like(patches[..., :1]), ops.ones_like(patches[..., :1])
        mean = ops.mean(patches, axis=-1, keepdims=True)
        std = ops.sqrt(ops.var(patches, axis=-1, keepdims=True) + 1e-6)
        return (patches - mean) / std, mean, std

    def _forward(self, video, mask, num_targets, training=False):
        order = self._order(ops.shape(video)[0], mask)
        visible_idx = order[:, :self.num_visible]
        target_idx = order[:, self.num_visible:self.num_visible + num_targets]
        visible = self.encoder.tokens(video, visible_idx)  # only the visible are embedded
        visible = self.encoder.run_blocks(visible, training=training)
        prediction = self.decoder(visible, visible_idx, target_idx, training=training)
        return ops.cast(prediction, "float32"), order, target_idx

    def call(self, inputs, training=False):
        video, mask = self._unpack(inputs)
        prediction, _, target_idx = self._forward(video, mask, self.num_targets, training)
        target, _, _ = self.targets(video)
        return prediction, gather_tokens(target, target_idx)

    def masked_predictions(self, video, mask=None):
        """`(prediction, target)`, both `(B, num_masked, P)` float32, over every masked
        tubelet (training decodes `target_ratio` of them): what a held-out loss compares."""
        prediction, _, target_idx = self._forward(video, mask, self.num_masked)
        target, _, _ = self.targets(video)
        return prediction, gather_tokens(target, target_idx)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean squared error over the reconstructed tubelets' pixels (per replica share
        under a tf.distribute strategy, see `replica_share`)."""
        prediction, target = y_pred
        return replica_share(ops.mean(ops.square(prediction - target)))

    def reconstruct(self, video, mask=None):
        """`(B, T, H, W, 3)` in [0, 1] -> the reconstruction `(B, T, H, W, 3)` in [0, 1]:
        visible tubelets copied from the input, masked ones predicted (all of them, for
        every decoder) and un-normalised with each true patch's mean and std."""
        if mask is None:
            mask = self.sample_mask(int(video.shape[0]))
        prediction, order, target_idx = self._forward(video, mask, self.num_masked)
        target, mean, std = self.targets(video)
        pixels = prediction * gather_tokens(std, target_idx) + gather_tokens(mean, target_idx)
        original = target * std + mean
        # Put the predictions back at their token positions.
        inverse = ops.argsort(order, axis=-1)
        ordered = ops.concatenate([gather_tokens(original, order[:, :self.num_visible]), pixels], 1)
        full = gather_tokens(ordered, inverse)
        video_out = unpatchify(full, self.grid, self.patch_size, 3)
        return ops.clip(video_out, 0.0, 1.0)
