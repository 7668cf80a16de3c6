"""Template matching of query points as a Keras layer (keras.ops: jax, tensorflow, torch).

The differentiable, trainable counterpart of `template.template_tracks`: a query's
template is the `(2r+1)^2` pixel window (edge-padded) around it in its frame; in every
frame the cost of a pixel is the squared distance of its window to the template plus
`prior * (pixels moved)^2`; the track goes to the cheapest pixel, refined to sub-pixel
by a soft-argmax (temperature `temperature`) over its 3x3 neighbourhood.
"""
import math

import keras
from keras import ops


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
