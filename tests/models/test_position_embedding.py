"""PositionEmbedding through the layer harness."""
import numpy as np
from layer_harness import LayerCase, LayerTest

from keras4ds.models.layers import PositionEmbedding

TOKENS = np.random.default_rng(0).normal(size=(2, 2, 4, 4, 16)).astype("float32")


class TestPositionEmbedding(LayerTest):
    case = LayerCase(PositionEmbedding, {"grid": (2, 4, 4)}, TOKENS, (2, 2, 4, 4, 16))
