"""Mlp through the layer harness."""
import numpy as np
from layer_harness import SUBLAYERS_LOSE_INT8, LayerCase, LayerTest

from keras4ds.models.layers import Mlp

TOKENS = np.random.default_rng(0).normal(size=(2, 8, 16)).astype("float32")


class TestMlp(LayerTest):
    case = LayerCase(Mlp, {"hidden_dim": 32, "output_dim": 8}, TOKENS, (2, 8, 8))
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8}
