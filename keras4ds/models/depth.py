"""The 4DS depth model: encoder + cross-attention readout decoding pixel patches."""
import keras

from keras4ds.models.checked_data import CheckedInputs
from keras4ds.models.encoder import official_readout_index
from keras4ds.models.patches import unpatchify
from keras4ds.models.readout import AttentionReadout, EncoderToReadout


@keras.saving.register_keras_serializable("keras4ds")
class DepthModel(CheckedInputs, keras.Model):
    """`(B, T, H, W, 3)` floats in [0, 1] -> depth `(B, T, H, W, 1)`.

    The encoder's hidden state `readout_index` (default: the official `readout_depth` 0.95
    selection) is upsampled in time and read by `num_queries` learned queries, each
    predicting one `decoding_patch_size` block of pixels. Set `encoder.trainable = False`
    for a frozen-encoder probe.
    """

    def __init__(self, encoder, num_params=1024, num_heads=16, decoding_patch_size=(2, 8, 8),
                 readout_index=None, readout_depth=0.95, **kwargs):
        super().__init__(**kwargs)
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        self.encoder = encoder
        self.decoding_patch_size = tuple(decoding_patch_size)
        self.readout_depth = readout_depth
        self.readout_index = (official_readout_index(encoder.depth, readout_depth)
                              if readout_index is None else readout_index)
        frames_and_size = (encoder.num_frames, *encoder.image_size)
        if any(s % p for s, p in zip(frames_and_size, self.decoding_patch_size)):
            raise ValueError(f"output (T, H, W) = {frames_and_size} is not divisible by "
                             f"decoding_patch_size {self.decoding_patch_size}")
        self.output_grid = tuple(s // p for s, p in zip(frames_and_size, self.decoding_patch_size))
        num_queries = self.output_grid[0] * self.output_grid[1] * self.output_grid[2]
        self.num_params, self.num_heads = num_params, num_heads
        self.encoder_to_readout = EncoderToReadout(encoder.grid, encoder.num_frames,
                                                   name="encoder_to_readout")
        self.readout = AttentionReadout(
            num_classes=self.decoding_patch_size[0] * self.decoding_patch_size[1]
            * self.decoding_patch_size[2], num_params=num_params, num_heads=num_heads,
            num_queries=num_queries, name="readout")
        grid = encoder.grid
        self.readout.build((None, encoder.num_frames, grid[1] * grid[2], encoder.width))
        self.build((None, *encoder.input_video_shape))

    def build(self, input_shape):
        self.built = True

    def check_inputs(self, video):
        """Check `(B, T, H, W, 3)` floats in [0, 1] (what `fit`/`predict` run first)."""
        self.encoder.check_inputs(video)

    def features(self, video):
        """Readout features `(B, T, h*w, D)` from the selected hidden state."""
        return self.encoder_to_readout(self.encoder.hidden_state(video, self.readout_index))

    def call(self, video):
        patches = self.readout(self.features(video))
        return unpatchify(patches, self.output_grid, self.decoding_patch_size, 1)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "num_params": self.num_params, "num_heads": self.num_heads,
                "decoding_patch_size": self.decoding_patch_size,
                "readout_index": self.readout_index, "readout_depth": self.readout_depth}
