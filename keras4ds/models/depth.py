"""The 4DS depth model: encoder + cross-attention readout decoding pixel patches."""
import keras

from keras4ds.models.backbone import Backbone
from keras4ds.models.encoder import official_readout_index
from keras4ds.models.readout import DepthReadout, EncoderToReadout


@keras.saving.register_keras_serializable("keras4ds")
class DepthModel(Backbone):
    """`(B, T, H, W, 3)` floats in [0, 1] -> depth `(B, T, H, W, 1)`.

    The encoder's hidden state `readout_index` (default: the official `readout_depth` 0.95
    selection) is upsampled in time (`encoder_to_readout`) and read by the `DepthReadout`
    `readout`: one learned query per `decoding_patch_size` block of pixels. Set
    `encoder.trainable = False` for a frozen-encoder probe. A functional model
    (`Backbone`): `inputs`, `summary()`, `compute_output_shape`, preset folders.
    """

    def __init__(self, encoder, num_params=1024, num_heads=16, decoding_patch_size=(2, 8, 8),
                 readout_index=None, readout_depth=0.95, **kwargs):
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        readout_index = (official_readout_index(encoder.depth, readout_depth)
                         if readout_index is None else readout_index)
        # === Layers ===
        encoder_to_readout = EncoderToReadout(encoder.grid, encoder.num_frames,
                                              name="encoder_to_readout")
        readout = DepthReadout((encoder.num_frames, *encoder.image_size), decoding_patch_size,
                               num_params=num_params, num_heads=num_heads, name="readout")
        grid = encoder.grid
        readout.build((None, encoder.num_frames, grid[1] * grid[2], encoder.width))
        # === Functional model ===
        video = keras.Input(encoder.input_video_shape, name="video")
        depth = readout(encoder_to_readout(encoder.hidden_state(video, readout_index)))
        super().__init__(inputs=video, outputs=depth, **kwargs)
        # === Config ===
        self.encoder, self.encoder_to_readout, self.readout = encoder, encoder_to_readout, readout
        self.num_params, self.num_heads = num_params, num_heads
        self.decoding_patch_size = readout.decoding_patch_size
        self.output_grid = readout.output_grid
        self.readout_depth, self.readout_index = readout_depth, readout_index

    def check_inputs(self, video):
        """Check `(B, T, H, W, 3)` floats in [0, 1] (what `fit`/`predict` run first)."""
        self.encoder.check_inputs(video)

    def features(self, video):
        """Readout features `(B, T, h*w, D)` from the selected hidden state."""
        return self.encoder_to_readout(self.encoder.hidden_state(video, self.readout_index))

    def call(self, video):
        # the encoder's own path (its checks, `remat`) rather than the graph's nodes
        return self.readout(self.features(video))

    def get_config(self):
        return {**super().get_config(),
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "num_params": self.num_params, "num_heads": self.num_heads,
                "decoding_patch_size": self.decoding_patch_size,
                "readout_index": self.readout_index, "readout_depth": self.readout_depth}
