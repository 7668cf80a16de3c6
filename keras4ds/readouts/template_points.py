"""The point-tracking yardstick: template matching on pixels decoded from the features.

A linear pixel decoder, fit in closed form (ridge), maps each token's features to its
pixels. `TemplateMatcher`, the differentiable, trainable counterpart of the numpy
`tools/template_tracks.py`, tracks queries on the decoded video: a query's template is the
`(2r+1)^2` pixel window (edge-padded) around it in its frame; in every frame the cost of a
pixel is the squared distance of its window to the template plus
`prior * (pixels moved)^2`; the track goes to the cheapest pixel, refined to sub-pixel by a
soft-argmax (temperature `temperature`) over its 3x3 neighbourhood. `TemplatePointProbe`
puts the two on an encoder.
"""
import math

import keras
import numpy as np
from keras import ops

from keras4ds.models.patches import patchify, unpatchify
from keras4ds.readouts.points import VISIBILITY_RULES, point_loss, point_outputs
from keras4ds.readouts.probe import Probe


def with_bias(features):
    """`(N, C)` -> `(N, C + 1)`: a column of ones for the decoder's bias."""
    return np.concatenate([features, np.ones((len(features), 1), features.dtype)], axis=1)


def ridge_decoder(features, pixels, ridge=1e-3):
    """Least-squares map with bias from token features `(N, C)` to pixels `(N, P)`.

    `ridge` is relative to the mean diagonal of the Gram matrix. Returns `(C + 1, P)`:
    the kernel stacked on the bias.
    """
    features = np.asarray(features, np.float64)
    pixels = np.asarray(pixels, np.float64)
    if features.ndim != 2 or pixels.ndim != 2 or len(features) != len(pixels):
        raise ValueError(f"features (N, C) and pixels (N, P) must have the same N; got "
                         f"{features.shape} and {pixels.shape}")
    if not (np.isfinite(features).all() and np.isfinite(pixels).all()):
        raise ValueError("features and pixels must be finite (found NaN or inf)")
    inputs = with_bias(features)
    gram = inputs.T @ inputs
    gram += ridge * np.trace(gram) / len(gram) * np.eye(len(gram))
    return np.linalg.solve(gram, inputs.T @ pixels)


def r_squared(predicted, target):
    """Fraction of the target's variance (about its per-column mean) that `predicted` explains."""
    target = np.asarray(target, np.float64)
    residual = np.sum((np.asarray(predicted, np.float64) - target) ** 2)
    return float(1.0 - residual / np.sum((target - target.mean(0)) ** 2))


def _pixel_grid(height, width):
    """Row and column index of every pixel, `(H*W,)` each, float32."""
    rows = ops.repeat(ops.arange(height, dtype="float32")[:, None], width, axis=1)
    cols = ops.repeat(ops.arange(width, dtype="float32")[None, :], height, axis=0)
    return ops.reshape(rows, (-1,)), ops.reshape(cols, (-1,))


def edge_pad(video, radius):
    """`(B, T, H, W, C)` -> `(B, T, H + 2r, W + 2r, C)`, border pixels repeated (the
    'edge' mode that not every backend's pad has)."""
    if radius == 0:
        return video
    top, bottom = video[:, :, :1], video[:, :, -1:]
    video = ops.concatenate([top] * radius + [video] + [bottom] * radius, axis=2)
    left, right = video[:, :, :, :1], video[:, :, :, -1:]
    return ops.concatenate([left] * radius + [video] + [right] * radius, axis=3)


def window_costs(video, query_pixels, radius):
    """Squared window distances of every pixel to each query's template.

    video `(B, T, H, W, C)`; query_pixels `(B, Q, 3)` int32 (frame, row, col). Returns
    `(B, Q, T, H*W)`: `|window(t, p) - window(query)|^2`, windows edge-padded.
    """
    batch, frames, height, width, channels = (ops.shape(video)[0], *video.shape[1:])
    side = 2 * radius + 1
    padded = edge_pad(video, radius)
    padded_h, padded_w = height + 2 * radius, width + 2 * radius
    # templates (B, Q, side, side * C), gathered from the padded query frames
    t, row, col = query_pixels[..., 0], query_pixels[..., 1], query_pixels[..., 2]
    offsets = ops.arange(side, dtype="int32")
    flat_index = ((t[..., None, None] * padded_h + row[..., None, None] + offsets[:, None])
                  * padded_w + col[..., None, None] + offsets[None, :])  # (B, Q, side, side)
    count = ops.shape(query_pixels)[1]
    flat = ops.reshape(padded, (batch, frames * padded_h * padded_w, channels))
    templates = ops.take_along_axis(flat, ops.reshape(flat_index, (batch, -1, 1)), axis=1)
    templates = ops.reshape(templates, (batch, count, side, side * channels))
    cross, squares = 0.0, 0.0
    for dy in range(side):
        rows = padded[:, :, dy:dy + height]
        stack = ops.concatenate([rows[:, :, :, dx:dx + width] for dx in range(side)], axis=-1)
        stack = ops.reshape(stack, (batch, frames, height * width, side * channels))
        cross = cross + ops.einsum("bqk,btnk->bqtn", templates[:, :, dy], stack)
        squares = squares + ops.sum(stack * stack, axis=-1)
    template_norm = ops.sum(templates * templates, axis=(2, 3))
    costs = squares[:, None] - 2.0 * cross + template_norm[:, :, None, None]
    return ops.maximum(costs, 0.0)


@keras.saving.register_keras_serializable("keras4ds")
class TemplateMatcher(keras.layers.Layer):
    """Video `(B, T, H, W, C)` + query points `(B, Q, 3)` (t, y, x; t a frame index, y, x
    in [0, 1]) -> dict of `"tracks"` `(B, Q, T, 2)` (x, y) in [0, 1] units (the query
    frame exact), `"cost"` `(B, Q, T)` the best match's window distance per window value,
    and `"moved"` `(B, Q, T)` its distance from the query pixel in pixels.

    Trainable: `temperature` (sub-pixel soft-argmax, per unit of cost) and `prior` (cost
    per squared pixel moved), both kept positive as exponentials of their weights.
    """

    def __init__(self, radius=5, temperature=5.0, prior=0.005, **kwargs):
        super().__init__(**kwargs)
        if radius < 0:
            raise ValueError(f"radius must be >= 0; got {radius}")
        if temperature <= 0 or prior <= 0:
            raise ValueError(f"temperature and prior must be > 0; got {temperature}, {prior}")
        self.radius, self.temperature, self.prior = int(radius), float(temperature), float(prior)

    def build(self, video_shape=None, query_points_shape=None):
        self.log_temperature = self.add_weight(
            name="log_temperature", shape=(),
            initializer=keras.initializers.Constant(math.log(self.temperature)))
        self.log_prior = self.add_weight(
            name="log_prior", shape=(), initializer=keras.initializers.Constant(math.log(self.prior)))

    def call(self, video, query_points):
        video = ops.convert_to_tensor(video, "float32")
        query_points = ops.convert_to_tensor(query_points, "float32")
        if len(video.shape) != 5:
            raise ValueError(f"video must be (B, T, H, W, C); got {tuple(video.shape)}")
        if len(query_points.shape) != 3 or query_points.shape[-1] != 3:
            raise ValueError(f"query_points must be (B, Q, 3) as (t, y, x); got "
                             f"{tuple(query_points.shape)}")
        frames, height, width, channels = video.shape[1:]
        y, x = query_points[..., 1] * height, query_points[..., 2] * width
        t = ops.clip(ops.round(query_points[..., 0]), 0, frames - 1)
        row, col = ops.clip(ops.floor(y), 0, height - 1), ops.clip(ops.floor(x), 0, width - 1)
        pixels = ops.cast(ops.stack([t, row, col], axis=-1), "int32")
        grid_rows, grid_cols = _pixel_grid(height, width)
        moved_sq = ((grid_rows - row[..., None]) ** 2
                    + (grid_cols - col[..., None]) ** 2)[:, :, None]  # (B, Q, 1, H*W)
        window = window_costs(video, pixels, self.radius)
        costs = window + ops.exp(self.log_prior) * moved_sq
        best = ops.argmin(costs, axis=-1)  # (B, Q, T)
        best_row = ops.cast(best // width, "float32")
        best_col = ops.cast(best % width, "float32")
        near = ops.logical_and(ops.abs(grid_rows - best_row[..., None]) <= 1.0,
                               ops.abs(grid_cols - best_col[..., None]) <= 1.0)
        lowest = ops.stop_gradient(ops.min(costs, axis=-1, keepdims=True))
        logits = ops.where(near, -(costs - lowest) * ops.exp(self.log_temperature), -1e9)
        weights = ops.softmax(logits, axis=-1)
        match_row = ops.sum(weights * grid_rows, axis=-1)
        match_col = ops.sum(weights * grid_cols, axis=-1)
        track_x = (match_col + (x - col)[..., None]) / width
        track_y = (match_row + (y - row)[..., None]) / height
        is_query_frame = ops.equal(ops.arange(frames, dtype="float32"), t[..., None])
        track_x = ops.where(is_query_frame, (x / width)[..., None], track_x)
        track_y = ops.where(is_query_frame, (y / height)[..., None], track_y)
        values = float((2 * self.radius + 1) ** 2 * channels)
        best_cost = ops.take_along_axis(window, best[..., None], axis=-1)[..., 0] / values
        moved = ops.sqrt((best_row - row[..., None]) ** 2 + (best_col - col[..., None]) ** 2)
        return {"tracks": ops.stack([track_x, track_y], axis=-1), "cost": best_cost,
                "moved": moved}

    def get_config(self):
        return {**super().get_config(), "radius": self.radius, "temperature": self.temperature,
                "prior": self.prior}


@keras.saving.register_keras_serializable("keras4ds")
class TemplatePointProbe(Probe):
    """Video + query points -> tracks, by template matching on pixels decoded from features.

    A linear pixel decoder maps each token's features to its `pt*ph*pw` RGB pixels; it is
    fit in closed form on training videos (`fit_pixel_decoder`, ridge regression; called
    by `train_probe`) and then kept fixed (`trainable=False`). `TemplateMatcher` tracks
    every query on the decoded video (window `radius`, sub-pixel `temperature`, motion
    `prior`; trained too with `train_matcher=True`, which lowered held-out AJ from 0.256
    to 0.254-0.255 in benchmarks/readouts.md). A Dense trains to read the visibility and
    certainty logits from the best match's window cost and distance moved. With
    `frozen=False` the gradient flows through the decoded pixels into the encoder, while
    the decoder stays the one fit on the starting encoder's features.
    `num_params` and `num_heads` are unused (the signature every probe shares).
    Inputs `{"video"|"features", "query_points": (B, Q, 3)}` (t, y, x): t a frame index,
    y, x in [0, 1]. Outputs and targets as `PointTrackingProbe`; loss: TAPIR-style Huber
    + BCE visibility + BCE certainty. A query's output never depends on other queries.
    """

    task = "points"

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 radius=5, temperature=5.0, prior=0.005, train_matcher=False, ridge=1e-3,
                 visibility_rule="visibility", initial_logit=3.0, **kwargs):
        if visibility_rule not in VISIBILITY_RULES:
            raise ValueError(f"visibility_rule must be one of {VISIBILITY_RULES}; "
                             f"got {visibility_rule!r}")
        if kwargs.get("motion_features"):
            raise ValueError("motion_features is for the attention heads; the template head "
                             "decodes pixels from the encoder states directly")
        kwargs.pop("motion_features", None)
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, **kwargs)
        self.radius, self.temperature, self.prior = radius, temperature, prior
        self.ridge, self.visibility_rule = float(ridge), visibility_rule
        self.initial_logit = float(initial_logit)
        self.pixels_per_token = int(np.prod(encoder.patch_size)) * 3
        # Zero until fit: an unfitted decoder gives a flat video, which tracks as static.
        self.pixel_decoder = keras.layers.Dense(self.pixels_per_token, kernel_initializer="zeros",
                                                name="pixel_decoder")
        self.pixel_decoder.build((None, None, self.feature_channels))
        self.pixel_decoder.trainable = False
        self.decoder_fitted = self.add_weight(name="decoder_fitted", shape=(), trainable=False,
                                              initializer="zeros")
        self.matcher = TemplateMatcher(radius, temperature, prior, name="matcher")
        self.matcher.build()
        self.train_matcher = bool(train_matcher)
        self.matcher.trainable = self.train_matcher
        self.visibility = keras.layers.Dense(
            2, kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(self.initial_logit), name="visibility")
        self.visibility.build((None, None, None, 2))

    def fit_pixel_decoder(self, features, videos):
        """Fit the pixel decoder on encoder states `(B, N, C)` (as `input_features` gives
        them) and their videos `(B, T, H, W, 3)` in [0, 1]; returns the decoder's R^2."""
        features = np.asarray(features, np.float32)
        videos = np.asarray(videos, np.float32)
        expected = (self.encoder.num_tokens, self.feature_channels)
        if features.ndim != 3 or features.shape[1:] != expected:
            raise ValueError(f"features must be (B, {expected[0]}, {expected[1]}); got "
                             f"{features.shape}")
        if videos.shape[:1] != features.shape[:1] or videos.shape[-1] != 3:
            raise ValueError(f"videos must be (B, T, H, W, 3) with B = {len(features)}; got "
                             f"{videos.shape}")
        pixels = np.asarray(patchify(videos, self.encoder.patch_size)).reshape(-1, self.pixels_per_token)
        tokens = features.reshape(-1, features.shape[-1])
        weights = ridge_decoder(tokens, pixels, self.ridge)
        self.pixel_decoder.kernel.assign(weights[:-1].astype(np.float32))
        self.pixel_decoder.bias.assign(weights[-1].astype(np.float32))
        self.decoder_fitted.assign(1.0)
        return r_squared(with_bias(tokens) @ weights, pixels)

    def decoded_video(self, inputs):
        """The video as the pixel decoder sees it in the features: `(B, T, H, W, 3)`."""
        pixels = self.pixel_decoder(self.input_features(inputs))
        return unpatchify(pixels, self.encoder.grid, self.encoder.patch_size, 3)

    def hand_made_paths(self) -> list:
        return ["pixel_decoder (ridge-decoded pixels)", "template_matching (window costs)"]

    def call(self, inputs):
        queries = ops.convert_to_tensor(inputs["query_points"], "float32")
        if len(queries.shape) != 3 or queries.shape[-1] != 3:
            raise ValueError(f"query_points must be (B, Q, 3) as (t, y, x); got {tuple(queries.shape)}")
        match = self.matcher(self.decoded_video(inputs), queries)
        cues = ops.stack([ops.log(match["cost"] + 1e-4), match["moved"] / 8.0], axis=-1)
        logits = self.visibility(cues)
        return point_outputs(match["tracks"], logits[..., 0], logits[..., 1], self.visibility_rule)

    def task_loss(self, targets, outputs):
        return point_loss(targets, outputs)

    def _check_decoder(self):
        if float(ops.convert_to_numpy(self.decoder_fitted)) != 1.0:
            raise RuntimeError("the pixel decoder of this TemplatePointProbe is not fit: call "
                               "probe.fit_pixel_decoder(features, videos) first (train_probe "
                               "does), or load weights of a fitted probe")

    def fit(self, *args, **kwargs):
        self._check_decoder()
        return super().fit(*args, **kwargs)

    def predict(self, *args, **kwargs):
        self._check_decoder()
        return super().predict(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        self._check_decoder()
        return super().evaluate(*args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("motion_features")
        return {**config, "radius": self.radius, "temperature": self.temperature,
                "prior": self.prior, "train_matcher": self.train_matcher, "ridge": self.ridge,
                "visibility_rule": self.visibility_rule, "initial_logit": self.initial_logit}
