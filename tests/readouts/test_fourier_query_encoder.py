"""FourierQueryEncoder through the layer harness."""
import numpy as np
from layer_harness import SUBLAYERS_LOSE_INT8, LayerCase, LayerTest

from keras4ds.readouts import FourierQueryEncoder

COORDS = np.random.default_rng(0).uniform(size=(2, 3, 3)).astype("float32")


class TestFourierQueryEncoder(LayerTest):
    case = LayerCase(FourierQueryEncoder, {"dim": 16, "num_bands": 4}, COORDS, (2, 3, 16))
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8}
