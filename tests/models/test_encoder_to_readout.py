"""EncoderToReadout through the layer harness (no weights: no training or int8 checks)."""
import numpy as np
from layer_harness import LayerCase, LayerTest

from keras4ds.models.readout import EncoderToReadout

TOKENS = np.random.default_rng(0).normal(size=(2, 8, 16)).astype("float32")


class TestEncoderToReadout(LayerTest):
    case = LayerCase(EncoderToReadout, {"grid": (2, 2, 2), "num_frames": 4}, TOKENS, (2, 4, 4, 16))
