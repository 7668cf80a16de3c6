"""Camera-pose readout: each frame's pose relative to the first frame."""
import keras
from keras import ops

from keras4ds.models.readout import AttentionReadout
from keras4ds.readouts import losses
from keras4ds.readouts.probe import Probe, zero_init_head

_IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def pose_matrices(rotation, translation):
    """`(B, T, 3, 3)` rotations and `(B, T, 3)` translations -> `(B, T, 4, 4)` poses."""
    top = ops.concatenate([rotation, translation[..., None]], axis=-1)
    shape = ops.shape(top)
    bottom = ops.broadcast_to(ops.convert_to_tensor([0.0, 0.0, 0.0, 1.0], top.dtype),
                              (shape[0], shape[1], 1, 4))
    return ops.concatenate([top, bottom], axis=-2)


@keras.saving.register_keras_serializable("keras4ds")
class PoseProbe(Probe):
    """Video -> per-frame camera pose relative to frame 0 (camera t -> camera 0 coordinates,
    i.e. `E_0 @ inv(E_t)` for world-to-camera extrinsics E).

    One learned query per frame reads the features and their change since frame 0
    (`motion_features`, on by default) and predicts a 6D rotation offset (Zhou et al.) and
    a translation; the last Dense starts at zero, so the untrained head is the identity
    pose exactly. Outputs `{"rotation": (B, T, 3, 3), "translation": (B, T, 3),
    "pose": (B, T, 4, 4)}`. Loss: L1 on rotation matrix entries + `translation_weight` *
    L1 on translations / `translation_scale` (the scene unit; 1 m by default, the head
    predicts translations in that unit). Targets `{"pose": (B, T, 4, 4)}`.
    """

    task = "pose"

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 motion_features=True, translation_weight=1.0, translation_scale=1.0, **kwargs):
        super().__init__(encoder, frozen, readout_index, num_params, num_heads, motion_features,
                         **kwargs)
        self.translation_weight, self.translation_scale = translation_weight, translation_scale
        self.readout = AttentionReadout(num_classes=9, num_params=num_params, num_heads=num_heads,
                                        num_queries=encoder.num_frames, name="readout")
        self.readout.build(self.readout_features_shape)
        zero_init_head(self.readout)

    def call(self, inputs):
        out = self.readout(self.readout_features(inputs))  # (B, T, 9)
        rotation = losses.rotation_from_6d(out[..., :6] + ops.convert_to_tensor(_IDENTITY_6D, out.dtype))
        translation = out[..., 6:] * self.translation_scale
        return {"rotation": rotation, "translation": translation,
                "pose": pose_matrices(rotation, translation)}

    def task_loss(self, targets, outputs):
        rotation, translation = losses.pose_losses(outputs["rotation"], outputs["translation"],
                                                   targets["pose"])
        return rotation + self.translation_weight * translation / self.translation_scale

    def get_config(self):
        return {**super().get_config(), "translation_weight": self.translation_weight,
                "translation_scale": self.translation_scale}
