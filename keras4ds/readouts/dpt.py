"""A small DPT-style multi-layer depth head (Ranftl et al. 2021), keras.ops only."""
import keras
from keras import ops


@keras.saving.register_keras_serializable("keras4ds")
class DPTHead(keras.layers.Layer):
    """Several encoder states -> dense depth.

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
