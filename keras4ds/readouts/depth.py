"""Depth readout: the official learned-query patch decoder, or a DPT-style head."""
import keras
import numpy as np

from keras4ds.models.patches import unpatchify
from keras4ds.models.readout import AttentionReadout
from keras4ds.readouts import losses
from keras4ds.readouts.dpt import DPTHead
from keras4ds.readouts.probe import Probe

DEPTH_LOSSES = ("l1", "silog")


@keras.saving.register_keras_serializable("keras4ds")
class DepthProbe(Probe):
    """Video -> depth `(B, T, H, W, 1)` in the units of the training depth.

    head='attention' (official): one learned query per `decoding_patch_size` block of the
    output, each decoding its `pt*ph*pw` pixels. head='dpt': `DPTHead` on the states
    `readout_index` (default: 4 states evenly spread over the encoder depth).
    loss: 'l1' or 'silog' (scale-invariant log), on valid pixels (true depth > 0).
    Inputs `{"video"|"features"}`; targets `{"depth": (B, T, H, W, 1)}`.
    """

    task = "depth"

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 decoding_patch_size=(2, 8, 8), head="attention", loss="l1", dpt_features=64,
                 **kwargs):
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
        self.head_kind, self.loss_kind, self.dpt_features = head, loss, dpt_features
        self.decoding_patch_size = tuple(decoding_patch_size)
        sizes = (encoder.num_frames, *encoder.image_size)
        if head == "dpt":
            self.dpt = DPTHead(encoder.grid, encoder.image_size, encoder.patch_size[0],
                               dpt_features, name="dpt")
            self.dpt.build([(None, encoder.num_tokens, encoder.width)] * len(self.readout_index))
            return
        if any(s % p for s, p in zip(sizes, self.decoding_patch_size)):
            raise ValueError(f"output (T, H, W) = {sizes} is not divisible by "
                             f"decoding_patch_size {self.decoding_patch_size}")
        self.output_grid = tuple(s // p for s, p in zip(sizes, self.decoding_patch_size))
        self.readout = AttentionReadout(
            num_classes=int(np.prod(self.decoding_patch_size)), num_params=num_params,
            num_heads=num_heads, num_queries=int(np.prod(self.output_grid)),
            spatial_grid=self.readout_grid, name="readout")
        self.readout.build(self.readout_features_shape)

    def call(self, inputs):
        if self.head_kind == "dpt":
            features = inputs["features"] if "features" in inputs else self.encoder_features(inputs["video"])
            width = self.encoder.width
            states = [features[..., i * width:(i + 1) * width] for i in range(len(self.readout_index))]
            return self.dpt(states)
        patches = self.readout(self.readout_features(inputs))
        return unpatchify(patches, self.output_grid, self.decoding_patch_size, 1)

    def task_loss(self, targets, outputs):
        if self.loss_kind == "silog":
            return losses.scale_invariant_log(outputs, targets["depth"])
        return losses.depth_l1(outputs, targets["depth"])

    def get_config(self):
        return {**super().get_config(), "decoding_patch_size": self.decoding_patch_size,
                "head": self.head_kind, "loss": self.loss_kind, "dpt_features": self.dpt_features}
