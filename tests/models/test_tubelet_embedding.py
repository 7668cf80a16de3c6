"""TubeletEmbedding through the layer harness."""
import numpy as np
from layer_harness import LayerCase, LayerTest

from keras4ds.models.layers import TubeletEmbedding

VIDEO = np.random.default_rng(0).uniform(size=(2, 4, 16, 16, 3)).astype("float32")


class TestTubeletEmbedding(LayerTest):
    case = LayerCase(TubeletEmbedding, {"width": 16, "patch_size": (2, 4, 4)}, VIDEO,
                     (2, 2, 4, 4, 16))
