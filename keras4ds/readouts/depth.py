"""Depth readout: the official learned-query patch decoder, or a DPT-style head."""
import keras
import numpy as np
from keras import ops

from keras4ds.models.readout import DepthReadout
from keras4ds.readouts.probe import Probe, masked_mean

DEPTH_LOSSES = ("l1", "silog")


def local_query_mask(output_grid, block, frames, token_grid, token_patch, radius):
    """`(Q, T*h*w)` bool: output block q (of `block` (pt, ph, pw) pixels on `output_grid`)
    may attend to the readout tokens (T frames of an `h x w` grid of `token_patch` (ph, pw)
    pixels) in its own frames whose pixels lie within `radius` tokens of the block's."""
    def spans(count, size):
        starts = np.arange(count) * size
        return starts, starts + size
    q_t0, q_t1 = spans(output_grid[0], block[0])
    q_y0, q_y1 = spans(output_grid[1], block[1])
    q_x0, q_x1 = spans(output_grid[2], block[2])
    t = np.arange(frames)
    k_y0, k_y1 = spans(token_grid[0], token_patch[0])
    k_x0, k_x1 = spans(token_grid[1], token_patch[1])
    margin_y, margin_x = radius * token_patch[0], radius * token_patch[1]
    in_t = (t[None] >= q_t0[:, None]) & (t[None] < q_t1[:, None])
    in_y = (k_y1[None] > q_y0[:, None] - margin_y) & (k_y0[None] < q_y1[:, None] + margin_y)
    in_x = (k_x1[None] > q_x0[:, None] - margin_x) & (k_x0[None] < q_x1[:, None] + margin_x)
    mask = (in_t[:, None, None, :, None, None] & in_y[None, :, None, None, :, None]
            & in_x[None, None, :, None, None, :])
    return mask.reshape(int(np.prod(output_grid)), frames * token_grid[0] * token_grid[1])


@keras.saving.register_keras_serializable("keras4ds")
class DepthProbe(Probe):
    """Video -> depth `(B, T, H, W, 1)` in the units of the training depth.

    head='attention' (official): one learned query per `decoding_patch_size` block of the
    output, each decoding its `pt*ph*pw` pixels. head='dpt': `DPTHead` on the states
    `readout_index` (default: 4 states evenly spread over the encoder depth).
    loss: 'l1' or 'silog' (scale-invariant log), on valid pixels (true depth > 0).
    local_radius: None (official: every query attends to every token) or r >= 0: each
    output block's query attends only to the tokens of its own frames within r tokens of
    its pixels (`local_query_mask`), so it reads the encoder's features where the depth is
    instead of having to learn where to look. readout_mlp: False ends the head in linear maps
    of the attention-pooled features (`AttentionReadout(mlp=False)`). Measured on the long
    study's w32 encoders (300 steps of 8 on 2048 scenes), neither separates pretrained from
    random init: AbsRel 0.318 / 0.316 (local, radius 0), 0.348 / 0.353 (local, no MLP),
    against 0.336 / 0.334 for the global readout (spreads 0.013-0.014).
    Inputs `{"video"|"features"}`; targets `{"depth": (B, T, H, W, 1)}`.
    """

    task = "depth"

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 decoding_patch_size=(2, 8, 8), head="attention", loss="l1", dpt_features=64,
                 local_radius=None, readout_mlp=True, **kwargs):
        if head not in ("attention", "dpt"):
            raise ValueError(f"head must be 'attention' or 'dpt'; got {head!r}")
        if loss not in DEPTH_LOSSES:
            raise ValueError(f"loss must be one of {DEPTH_LOSSES}; got {loss!r}")
        if head == "dpt" and readout_index is None:
            readout_index = sorted({int(round(x)) for x in np.linspace(1, encoder.depth, 4)})
        if head == "dpt" and kwargs.get("readout_blocks"):
            raise ValueError("readout_blocks is for the attention head; the DPT head reads "
                             "the encoder states directly")
        if head == "dpt" and kwargs.get("motion_features"):
            raise ValueError("motion_features is for the attention head; the DPT head reads "
                             "the encoder states directly")
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, **kwargs)
        if local_radius is not None and (head != "attention" or int(local_radius) < 0):
            raise ValueError(f"local_radius is a radius in tokens (>= 0) for the attention "
                             f"head; got {local_radius!r} with head {head!r}")
        self.head_kind, self.loss_kind, self.dpt_features = head, loss, dpt_features
        self.local_radius = None if local_radius is None else int(local_radius)
        self.readout_mlp = bool(readout_mlp)
        self.decoding_patch_size = tuple(decoding_patch_size)
        sizes = (encoder.num_frames, *encoder.image_size)
        if head == "dpt":
            self.dpt = DPTHead(encoder.grid, encoder.image_size, encoder.patch_size[0],
                               dpt_features, name="dpt")
            self.dpt.build([(None, encoder.num_tokens, encoder.width)] * len(self.readout_index))
            return
        self.readout = DepthReadout(sizes, self.decoding_patch_size, num_params=num_params,
                                    num_heads=num_heads, spatial_grid=self.readout_grid,
                                    mlp=self.readout_mlp, name="readout")
        self.readout.build(self.readout_features_shape)
        self.output_grid = self.readout.output_grid
        self.query_mask = None
        if self.local_radius is not None:
            token_patch = tuple(s // g for s, g in zip(encoder.image_size, encoder.grid[1:]))
            self.query_mask = local_query_mask(self.output_grid, self.decoding_patch_size,
                                               encoder.num_frames, encoder.grid[1:],
                                               token_patch, self.local_radius)

    def call(self, inputs):
        if self.head_kind == "dpt":
            features = inputs["features"] if "features" in inputs else self.encoder_features(inputs["video"])
            width = self.encoder.width
            states = [features[..., i * width:(i + 1) * width] for i in range(len(self.readout_index))]
            return self.dpt(states)
        return self.readout(self.readout_features(inputs), mask=self.query_mask)

    def task_loss(self, targets, outputs):
        if self.loss_kind == "silog":
            return scale_invariant_log(outputs, targets["depth"])
        return depth_l1(outputs, targets["depth"])

    def get_config(self):
        return {**super().get_config(), "decoding_patch_size": self.decoding_patch_size,
                "head": self.head_kind, "loss": self.loss_kind, "dpt_features": self.dpt_features,
                "local_radius": self.local_radius, "readout_mlp": self.readout_mlp}


@keras.saving.register_keras_serializable("keras4ds")
class DPTHead(keras.layers.Layer):
    """Several encoder states -> dense depth (a small DPT-style head, Ranftl et al. 2021).

    `call(states)`: a list of `(B, N, D)` token states (shallow to deep) on the token grid
    `grid = (t, h, w)`. Each is projected to `features` channels and laid on its (h, w)
    map; starting from the deepest, maps are fused coarse to fine: upsample x2, add the
    next shallower map (resized to match), refine with a residual 3x3 conv unit. A final
    conv predicts `frames_per_token` depth maps per token time step, resized to `(H, W)`.
    Returns `(B, T, H, W, 1)`.
    """

    def __init__(self, grid, image_size, frames_per_token=2, features=64, **kwargs):
        super().__init__(**kwargs)
        self.grid, self.image_size = tuple(grid), tuple(image_size)
        self.frames_per_token, self.features = frames_per_token, features

    def build(self, states_shape):
        count = len(states_shape)
        self.projections = [keras.layers.Dense(self.features, name=f"reassemble_{i}")
                            for i in range(count)]
        self.refine = [[keras.layers.Conv2D(self.features, 3, padding="same", name=f"fuse_{i}_{j}")
                        for j in range(2)] for i in range(count)]
        self.output_conv = keras.layers.Conv2D(self.features // 2, 3, padding="same", name="output_0")
        self.output_head = keras.layers.Conv2D(self.frames_per_token, 1, name="output_1")
        for projection, shape in zip(self.projections, states_shape):
            projection.build(shape)
        for convs in self.refine:
            for conv in convs:
                conv.build((None, None, None, self.features))
        self.output_conv.build((None, None, None, self.features))
        self.output_head.build((None, None, None, self.features // 2))

    def _maps(self, projection, state):
        t, h, w = self.grid
        x = projection(state)
        return ops.reshape(x, (ops.shape(x)[0] * t, h, w, self.features))

    def call(self, states):
        t, h, w = self.grid
        batch = ops.shape(states[0])[0]
        maps = [self._maps(p, s) for p, s in zip(self.projections, states)]
        x, size = maps[-1], (h, w)
        for i in range(len(maps) - 1, -1, -1):
            if i < len(maps) - 1:
                size = (size[0] * 2, size[1] * 2)
                x = ops.image.resize(x, size, interpolation="bilinear")
                x = x + ops.image.resize(maps[i], size, interpolation="bilinear")
            conv_a, conv_b = self.refine[i]
            x = x + conv_b(ops.relu(conv_a(ops.relu(x))))
        x = ops.image.resize(ops.relu(self.output_conv(x)), self.image_size, interpolation="bilinear")
        depth = self.output_head(x)  # (B*t, H, W, frames_per_token)
        height, width = self.image_size
        depth = ops.reshape(depth, (batch, t, height, width, self.frames_per_token))
        depth = ops.transpose(depth, (0, 1, 4, 2, 3))
        return ops.reshape(depth, (batch, t * self.frames_per_token, height, width, 1))

    def get_config(self):
        return {**super().get_config(), "grid": self.grid, "image_size": self.image_size,
                "frames_per_token": self.frames_per_token, "features": self.features}


def valid_depth(depth):
    """Valid-pixel mask of true depth: finite and > 0."""
    return ops.logical_and(ops.isfinite(depth), depth > 0)


def depth_l1(pred, gt):
    """Mean |pred - gt| over valid pixels of `(B, T, H, W, 1)` depth."""
    valid = valid_depth(gt)
    return masked_mean(ops.abs(pred - ops.where(valid, gt, 0.0)), valid)


def scale_invariant_log(pred, gt, variance_focus=0.85, min_depth=1e-3):
    """Eigen et al.'s scale-invariant log loss (BTS form): sqrt(E[d^2] - l E[d]^2),
    d = log(pred) - log(gt) on valid pixels; pred is clamped at `min_depth`."""
    valid = valid_depth(gt)
    d = ops.log(ops.maximum(pred, min_depth)) - ops.log(ops.where(valid, gt, 1.0))
    mean_sq, mean = masked_mean(d * d, valid), masked_mean(d, valid)
    return ops.sqrt(ops.maximum(mean_sq - variance_focus * mean * mean, 0.0) + 1e-8)
