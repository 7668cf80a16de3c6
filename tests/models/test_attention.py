"""The one attention layer (self-attention of the encoder, cross-attention of the MAE
decoder) through the layer harness."""
import numpy as np
from layer_harness import SUBLAYERS_LOSE_INT8, LayerCase, LayerTest

from keras4ds.models.layers import Attention

RNG = np.random.default_rng(0)
TOKENS = RNG.normal(size=(2, 8, 16)).astype("float32")
CONTEXT = RNG.normal(size=(2, 5, 12)).astype("float32")


class TestSelfAttention(LayerTest):
    case = LayerCase(Attention, {"num_heads": 2}, TOKENS, (2, 8, 16))
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8}


class TestCrossAttention(LayerTest):
    case = LayerCase(Attention, {"num_heads": 2}, {"x": TOKENS, "context": CONTEXT}, (2, 8, 16))
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8}
