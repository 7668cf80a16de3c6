"""Camera-pose readout: each frame's pose relative to the first frame, and its global cost
volume (`GlobalMotion`: how far the token map has shifted since the first frame)."""
import keras
from keras import ops

from keras4ds.models.readout import AttentionReadout
from keras4ds.models.resize import cubic_resize_matrix
from keras4ds.readouts.probe import Probe, huber, zero_init_head

_IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def pose_matrices(rotation, translation):
    """`(B, T, 3, 3)` rotations and `(B, T, 3)` translations -> `(B, T, 4, 4)` poses."""
    top = ops.concatenate([rotation, translation[..., None]], axis=-1)
    shape = ops.shape(top)
    bottom = ops.broadcast_to(ops.convert_to_tensor([0.0, 0.0, 0.0, 1.0], top.dtype),
                              (shape[0], shape[1], 1, 4))
    return ops.concatenate([top, bottom], axis=-2)


def _cross(a, b):
    """Cross product on the last axis (torch's `cross` picks the first axis of size 3)."""
    return ops.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                      a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                      a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def rotation_from_6d(x):
    """`(..., 6)` -> rotation matrices `(..., 3, 3)` (Zhou et al. 2019, rows b1, b2, b3)."""
    def normalize(v):
        return v / ops.sqrt(ops.maximum(ops.sum(v * v, axis=-1, keepdims=True), 1e-12))

    b1 = normalize(x[..., :3])
    a2 = x[..., 3:]
    b2 = normalize(a2 - ops.sum(b1 * a2, axis=-1, keepdims=True) * b1)
    b3 = _cross(b1, b2)
    return ops.stack([b1, b2, b3], axis=-2)


TRANSLATION_LOSSES = ("l1", "l2", "huber")


def check_translation_loss(name):
    """Raise a clear error unless `name` is one of `TRANSLATION_LOSSES`."""
    if name not in TRANSLATION_LOSSES:
        raise ValueError(f"translation_loss must be one of {TRANSLATION_LOSSES}; got {name!r}")


def pose_losses(pred_rotation, pred_translation, gt_pose, translation_loss="l1", scale=1.0):
    """`(rotation L1, translation loss)` against true relative poses `(B, T, 4, 4)`.

    translation_loss, on translation errors divided by `scale` (the scene unit): 'l1' (sum
    of |error| over x, y, z), 'l2' (squared Euclidean error) or 'huber' (Huber with delta 1
    on each coordinate, summed)."""
    check_translation_loss(translation_loss)
    rotation = ops.mean(ops.sum(ops.abs(pred_rotation - gt_pose[..., :3, :3]), axis=(-2, -1)))
    error = (pred_translation - gt_pose[..., :3, 3]) / scale
    if translation_loss == "l1":
        per_frame = ops.abs(error)
    elif translation_loss == "l2":
        per_frame = error * error
    else:
        per_frame = huber(error, 1.0)
    return rotation, ops.mean(ops.sum(per_frame, axis=-1))


def compose(step_rotation, step_translation):
    """Per-frame steps (camera t -> camera t-1; frame 0's step is ignored) `(B, T, 3, 3)`,
    `(B, T, 3)` -> camera t -> camera 0 poses `P_t = S_1 ... S_t` (`P_0 = I`): a prefix
    product in log2(T) rounds (Hillis-Steele), each one batched matmul over frames."""
    frames = step_rotation.shape[1]
    first = ops.broadcast_to(ops.eye(3, dtype=step_rotation.dtype), ops.shape(step_rotation[:, :1]))
    rot = ops.concatenate([first, step_rotation[:, 1:]], axis=1)
    trans = ops.concatenate([ops.zeros_like(step_translation[:, :1]), step_translation[:, 1:]],
                            axis=1)
    shift = 1
    while shift < frames:  # P_t <- P_{t-shift} P_t for t >= shift
        before_rot = ops.concatenate(
            [ops.broadcast_to(ops.eye(3, dtype=rot.dtype), ops.shape(rot[:, :shift])),
             rot[:, :-shift]], axis=1)
        before_trans = ops.concatenate([ops.zeros_like(trans[:, :shift]), trans[:, :-shift]],
                                       axis=1)
        trans = before_trans + ops.einsum("btij,btj->bti", before_rot, trans)
        rot = ops.matmul(before_rot, rot)
        shift *= 2
    return rot, trans


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


@keras.saving.register_keras_serializable("keras4ds")
class PoseProbe(Probe):
    """Video -> per-frame camera pose relative to frame 0 (camera t -> camera 0 coordinates,
    i.e. `E_0 @ inv(E_t)` for world-to-camera extrinsics E).

    Two parts, each ending in a zero Dense, so the untrained head is the identity pose
    exactly. `global_motion` (on by default): a global cost volume of consecutive token
    frames (`GlobalMotion`, token shifts up to `global_motion_radius`, by default a quarter
    of the token grid, at least 1) and a one-hot frame index feed a per-frame MLP that
    predicts each frame's step from the previous one (6D rotation, Zhou et al., and a
    translation); the steps are composed into the path. A single cross-attention cannot
    compare frames at different spatial shifts, and without this the head does not learn
    which way the camera moves. Then one learned query per frame reads the features and
    their change since frame 0 (`motion_features`) and adds a 6D rotation and translation
    correction. Outputs `{"rotation": (B, T, 3, 3), "translation": (B, T, 3),
    "pose": (B, T, 4, 4)}`. Loss: L1 on rotation matrix entries + `translation_weight` *
    the `translation_loss` ('l2' squared error by default, 'l1', 'huber'; see
    `pose_losses`) of translation errors / `translation_scale` (the scene unit; 1 m
    by default, the head predicts translations in that unit). Targets `{"pose": (B, T, 4, 4)}`.
    """

    task = "pose"

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 motion_features=True, translation_weight=1.0, translation_scale=1.0,
                 translation_loss="l2", global_motion=True, global_motion_radius=None, **kwargs):
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, motion_features,
                         **kwargs)
        check_translation_loss(translation_loss)
        if global_motion and encoder.grid[0] < 2:
            raise ValueError(f"global_motion needs at least 2 token frames (encoder grid "
                             f"{encoder.grid}); pass global_motion=False")
        self.translation_weight, self.translation_scale = translation_weight, translation_scale
        self.translation_loss, self.global_motion = translation_loss, bool(global_motion)
        self.readout = AttentionReadout(num_classes=9, num_params=num_params, num_heads=num_heads,
                                        num_queries=encoder.num_frames,
                                        spatial_grid=self.readout_grid, name="readout")
        self.readout.build(self.readout_features_shape)
        zero_init_head(self.readout)
        if global_motion_radius is None:
            global_motion_radius = max(1, min(encoder.grid[1:]) // 4)
        self.global_motion_radius = int(global_motion_radius)
        if self.global_motion:
            self.cost_volume = GlobalMotion(encoder.grid, encoder.num_frames,
                                            self.global_motion_radius, name="global_motion")
            self.step_mlp = keras.Sequential(
                [keras.layers.Dense(num_params, activation="gelu"),
                 keras.layers.Dense(num_params, activation="gelu"),
                 keras.layers.Dense(9, kernel_initializer="zeros")], name="step_mlp")
            self.step_mlp.build((None, encoder.num_frames,
                                 2 * self.cost_volume.num_shifts + encoder.num_frames))

    def call(self, inputs):
        tokens = self.input_features(inputs)
        out = self.readout(self.to_readout_features(tokens))  # (B, T, 9)
        identity = ops.convert_to_tensor(_IDENTITY_6D, out.dtype)
        six, translation = out[..., :6] + identity, out[..., 6:]
        if self.global_motion:
            frames = self.encoder.num_frames
            frame_ids = ops.broadcast_to(ops.eye(frames, dtype=out.dtype),
                                         (ops.shape(out)[0], frames, frames))
            steps = self.step_mlp(ops.concatenate([self.cost_volume(tokens), frame_ids], axis=-1))
            rotation, path = compose(rotation_from_6d(steps[..., :6] + identity),
                                     steps[..., 6:])
            six = ops.reshape(rotation[..., :2, :], (ops.shape(out)[0], frames, 6)) + out[..., :6]
            translation = path + translation
        rotation = rotation_from_6d(six)
        translation = translation * self.translation_scale
        return {"rotation": rotation, "translation": translation,
                "pose": pose_matrices(rotation, translation)}

    def hand_made_paths(self) -> list:
        cost_volume = ["global_motion (a cost volume of shifted token frames)"]
        return super().hand_made_paths() + (cost_volume if self.global_motion else [])

    def task_loss(self, targets, outputs):
        rotation, translation = pose_losses(outputs["rotation"], outputs["translation"],
                                                   targets["pose"], self.translation_loss,
                                                   self.translation_scale)
        return rotation + self.translation_weight * translation

    def get_config(self):
        return {**super().get_config(), "translation_weight": self.translation_weight,
                "translation_scale": self.translation_scale,
                "translation_loss": self.translation_loss, "global_motion": self.global_motion,
                "global_motion_radius": self.global_motion_radius}
