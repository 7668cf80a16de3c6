"""The base of all readout heads (an encoder, a choice of hidden states, frozen or not),
and trained readouts as files.

`save_readout` writes a `.keras` archive of the probe with its encoder inside: the probe's
config (its encoder's config included) and every weight, encoder and head, so
`load_readout` needs nothing else to score it again.
"""
import os

import keras
from keras import ops

from keras4ds.models.checked_data import CheckedInputs
from keras4ds.models.layers import TransformerBlock
from keras4ds.models.readout import EncoderToReadout
from keras4ds.models.validation import check_values, check_video
from keras4ds.readouts.features import encoder_features, readout_indices
from keras4ds.utils import write_staged


class Probe(CheckedInputs, keras.Model):
    """A readout head on a 4DS encoder, trained with `compile()` + `fit()`.

    Inputs are dicts: `"video"` `(B, T, H, W, 3)` floats in [0, 1], or `"features"`
    `(B, N, D * len(readout_index))` (cached encoder states, see `readouts.features`), plus
    the task's queries. Targets are dicts too (see `readouts.batches`). `compute_loss`
    applies the task loss, so `compile(optimizer)` needs no `loss`.

    frozen: the encoder is not trained and no gradient flows into it.
    readout_index: None (the official 0.95 state), an int, or a list of ints whose
      states are concatenated on channels.
    readout_blocks: transformer blocks (pre-norm, `num_heads` heads, MLP 2x) the head
      runs over the selected states before its readout, as in V-JEPA 2's attentive probe:
      learned self-attention lets the head compare tokens of different frames, which a
      single cross-attention pooling cannot. 0 (default): the readout reads the states.
    motion_features: the readout also sees each token's change since frame 0,
      `f_t - f_0`, concatenated on channels (after the time upsampling); frozen
      features of a random or weak encoder carry motion mostly in these differences,
      which a single cross-attention does not compute on its own.
    readout_position: the readout adds a fixed sine-cosine code of each token's grid
      position to the features (`AttentionReadout(spatial_grid=...)`), so where a token
      is comes from the head and what is there from the encoder: an encoder that spent
      its capacity on content rather than on keeping its input position code is not
      penalised for it.
    """

    task = None

    def __init__(self, encoder, frozen=True, readout_index=None, num_params=256, num_heads=4,
                 motion_features=False, readout_blocks=0, readout_position=False, **kwargs):
        super().__init__(**kwargs)
        self.readout_position = bool(readout_position)
        self.motion_features = bool(motion_features)
        self.readout_blocks = int(readout_blocks)
        self.encoder = encoder
        self.frozen = bool(frozen)
        encoder.trainable = not self.frozen
        self.readout_index = readout_indices(encoder, readout_index)
        self.num_params, self.num_heads = num_params, num_heads
        self.feature_channels = encoder.width * len(self.readout_index)
        self.readout_channels = self.feature_channels * (3 if self.motion_features else 1)
        self.encoder_to_readout = EncoderToReadout(encoder.grid, encoder.num_frames,
                                                   name="encoder_to_readout")
        self.feature_blocks = []
        for i in range(self.readout_blocks):
            block = TransformerBlock(num_heads, 2 * self.feature_channels,
                                     name=f"readout_block_{i}")
            block.build((None, encoder.num_tokens, self.feature_channels))
            self.feature_blocks.append(block)
        grid = encoder.grid
        self.readout_features_shape = (None, encoder.num_frames, grid[1] * grid[2],
                                       self.readout_channels)
        # The `spatial_grid` of this head's AttentionReadout.
        self.readout_grid = tuple(grid[1:]) if self.readout_position else None

    def build(self, input_shape=None):
        self.built = True

    def check_inputs(self, inputs):
        """Check one batch of inputs (what `fit`/`evaluate`/`predict` run first): a dict
        with `"video"` `(B, T, H, W, 3)` floats in [0, 1] or finite `"features"` `(B, N, C)`,
        `"query_points"` (t, y, x) with t a frame index and y, x in [0, 1], `"query_boxes"` in
        [0, 1]."""
        if not isinstance(inputs, dict):
            raise TypeError(f"{type(self).__name__} takes a dict of inputs with 'video' or "
                            f"'features'; got {type(inputs).__name__}")
        if "video" in inputs:
            check_video(inputs["video"], self.encoder.input_video_shape, "inputs['video']")
        if "features" in inputs:
            check_values(inputs["features"], "inputs['features']")
        if "query_points" in inputs:
            points = inputs["query_points"]
            check_values(points[..., :1], "inputs['query_points'] frame index t", 0,
                         self.encoder.num_frames - 1)
            check_values(points[..., 1:], "inputs['query_points'] (y, x)", 0.0, 1.0)
        if "query_boxes" in inputs:
            check_values(inputs["query_boxes"], "inputs['query_boxes']", 0.0, 1.0)

    def encoder_features(self, video):
        """`(B, T, H, W, 3)` -> selected states `(B, N, C)`, what a feature cache stores."""
        return encoder_features(self.encoder, video, self.readout_index, self.frozen)

    def readout_features(self, inputs):
        """`(B, T, h*w, C')` readout features from `inputs["features"]` or `inputs["video"]`
        (C' = 3C with `motion_features`)."""
        return self.to_readout_features(self.input_features(inputs))

    def input_features(self, inputs):
        """The selected encoder states `(B, N, C)`: `inputs["features"]`, checked, or
        computed from `inputs["video"]`."""
        self.check_inputs(inputs)
        if "features" in inputs:
            features = inputs["features"]
            expected = (self.encoder.num_tokens, self.feature_channels)
            if tuple(features.shape[1:]) != expected:
                raise ValueError(f"'features' must be (B, {expected[0]}, {expected[1]}) for "
                                 f"readout_index {self.readout_index}; got {tuple(features.shape)}")
        elif "video" in inputs:
            features = self.encoder_features(inputs["video"])
        else:
            raise KeyError(f"inputs need 'video' or 'features'; got keys {sorted(inputs)}")
        return features

    def to_readout_features(self, features):
        """Encoder states `(B, N, C)` -> `(B, T, h*w, C')` readout features."""
        for block in self.feature_blocks:
            features = block(features)
        features = self.encoder_to_readout(features)
        if self.motion_features:
            change = features - features[:, :1]
            features = ops.concatenate([features, change, ops.abs(change)], axis=-1)
        return features

    def hand_made_paths(self) -> list:
        """Names of the hand-made computations this head uses beside learning from
        features (empty for a head that reads the encoder features only)."""
        return ["motion_features (feature differences f_t - f_0)"] if self.motion_features else []

    def task_loss(self, targets, outputs):
        """Scalar loss of the task; subclasses define it."""
        raise NotImplementedError

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = self.task_loss(keras.tree.map_structure(ops.convert_to_tensor, y), y_pred)
        for extra in self.losses:
            loss = loss + ops.cast(extra, loss.dtype)
        return loss

    def get_config(self):
        return {"name": self.name, "encoder": keras.saving.serialize_keras_object(self.encoder),
                "frozen": self.frozen, "readout_index": list(self.readout_index),
                "num_params": self.num_params, "num_heads": self.num_heads,
                "motion_features": self.motion_features, "readout_blocks": self.readout_blocks,
                "readout_position": self.readout_position}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)

    def compile(self, optimizer="adam", **kwargs):
        if "loss" in kwargs:
            raise ValueError(f"{type(self).__name__} uses its own task loss; do not pass `loss`")
        super().compile(optimizer=optimizer, **kwargs)


READOUT_EXTENSION = ".keras"




def save_readout(probe, path: str) -> str:
    """Write trained `probe` (a `Probe`) to `path` (ending in `.keras`), staged then renamed."""
    if not isinstance(probe, Probe):
        raise TypeError(f"save_readout takes a keras4ds Probe; got {type(probe).__name__}")
    if not str(path).endswith(READOUT_EXTENSION):
        raise ValueError(f"a readout file must end in {READOUT_EXTENSION}; got {path}")
    return write_staged(os.fspath(path), lambda staged: probe.save(staged))


def load_readout(path: str, task: str = None) -> Probe:
    """The probe saved at `path`; with `task`, refuse a readout of another task."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"readout file {path} does not exist")
    try:
        probe = keras.saving.load_model(path, compile=False)
    except (ValueError, OSError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a readout saved by save_readout ({error})") from None
    if not isinstance(probe, Probe):
        raise TypeError(f"{path} holds a {type(probe).__name__}, not a keras4ds readout")
    if task is not None and probe.task != task:
        raise ValueError(f"{path} is a {probe.task} readout, not a {task} one")
    return probe



def zero_init_head(readout):
    """Zero the final Dense of an AttentionReadout so the head starts at its baseline."""
    readout.head.kernel.assign(ops.zeros(readout.head.kernel.shape))
    readout.head.bias.assign(ops.zeros(readout.head.bias.shape))


# Loss pieces the task heads share (keras.ops, every backend).
def masked_mean(values, mask):
    """Mean of `values` where `mask` is true (0 where it is nowhere true)."""
    mask = ops.cast(mask, values.dtype)
    return ops.sum(values * mask) / ops.maximum(ops.sum(mask), 1.0)


def huber(x, delta):
    """Elementwise Huber loss of `x` with threshold `delta`."""
    abs_x = ops.abs(x)
    return ops.where(abs_x <= delta, 0.5 * x * x, delta * (abs_x - 0.5 * delta))
