"""A global cost volume: how far each frame's token map has shifted since the first frame."""
import keras
from keras import ops

from keras4ds.models.resize import cubic_resize_matrix


@keras.saving.register_keras_serializable("keras4ds")
class GlobalMotion(keras.layers.Layer):
    """Encoder tokens `(B, t*h*w, C)` -> per-frame global-motion features `(B, T, 2S)`.

    For each pair of consecutive token frames (i-1, i) and each token shift (dy, dx) with
    |dy|, |dx| <= `radius` (S = (2 radius + 1)^2 shifts), the mean cosine similarity of
    frame i's tokens with frame i-1's tokens shifted by (dy, dx) (over the overlap; tokens
    centred on their frame's spatial mean first). Each step's S similarities are centred
    and scaled to unit RMS, so they say *where* the best match lies, not how similar the
    frames are, on the same scale for any encoder.
    Output per frame: the cumulative sum of the steps since frame 0 (the signed image
    motion so far, e.g. which way and how far the view has swung) and the step itself,
    time-upsampled t -> T like `EncoderToReadout`. No weights.
    """

    def __init__(self, grid, num_frames, radius=1, **kwargs):
        super().__init__(**kwargs)
        self.grid, self.num_frames, self.radius = tuple(grid), int(num_frames), int(radius)
        t, h, w = self.grid
        if t < 2:
            raise ValueError(f"GlobalMotion needs at least 2 token frames; grid is {self.grid}")
        if not 0 <= self.radius < min(h, w):
            raise ValueError(f"radius must be in [0, {min(h, w) - 1}] for grid {self.grid}; "
                             f"got {radius}")
        self._matrix = cubic_resize_matrix(t, self.num_frames)

    @property
    def num_shifts(self):
        return (2 * self.radius + 1) ** 2

    def call(self, tokens):
        t, h, w = self.grid
        x = ops.reshape(tokens, (ops.shape(tokens)[0], t, h, w, tokens.shape[-1]))
        x = x - ops.mean(x, axis=(2, 3), keepdims=True)
        x = x / ops.sqrt(ops.maximum(ops.sum(x * x, axis=-1, keepdims=True), 1e-12))
        now, before = x[:, 1:], x[:, :-1]
        r = self.radius
        steps = []
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                a = now[:, :, max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
                b = before[:, :, max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
                steps.append(ops.mean(ops.sum(a * b, axis=-1), axis=(2, 3)))
        steps = ops.stack(steps, axis=-1)  # (B, t-1, S)
        steps = steps - ops.mean(steps, axis=-1, keepdims=True)
        steps = steps / ops.sqrt(ops.mean(steps * steps, axis=-1, keepdims=True) + 1e-6)
        steps = ops.concatenate([ops.zeros_like(steps[:, :1]), steps], axis=1)  # (B, t, S)
        features = ops.concatenate([ops.cumsum(steps, axis=1), steps], axis=-1)
        matrix = ops.cast(ops.convert_to_tensor(self._matrix), features.dtype)
        return ops.einsum("Tt,bts->bTs", matrix, features)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_frames, 2 * self.num_shifts)

    def get_config(self):
        return {**super().get_config(), "grid": self.grid, "num_frames": self.num_frames,
                "radius": self.radius}
