"""AttentionReadout through the layer harness: learned or external queries, one or many,
with and without the grid code and the MLP."""
import keras
import numpy as np
from layer_harness import SUBLAYERS_LOSE_INT8, LayerCase, LayerTest

from keras4ds.models.readout import AttentionReadout

RNG = np.random.default_rng(0)
FEATURES = RNG.normal(size=(2, 4, 4, 16)).astype("float32")
QUERIES = RNG.normal(size=(2, 3, 8)).astype("float32")
BASE = {"num_classes": 5, "num_params": 16, "num_heads": 2}
# On tensorflow, reshaping the projected queries to (batch, -1, ...) with an unknown batch
# loses the query count: the symbolic output is (None, None, 5).
TF_QUERY_COUNT = ({"call": "the symbolic call with an unknown batch loses the query count"}
                  if keras.backend.backend() == "tensorflow" else {})


class TestOneLearnedQuery(LayerTest):
    case = LayerCase(AttentionReadout, BASE, FEATURES, (2, 5))
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8}


class TestExternalQueries(LayerTest):
    case = LayerCase(AttentionReadout, {**BASE, "external_queries": True},
                     {"features": FEATURES, "queries": QUERIES}, (2, 3, 5))
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8, **TF_QUERY_COUNT}


class TestGridCodeNoMlp(LayerTest):
    case = LayerCase(AttentionReadout, {**BASE, "num_queries": 3, "spatial_grid": (2, 2),
                                        "mlp": False}, FEATURES, (2, 3, 5))
    known_failures = {"quantized_saving": SUBLAYERS_LOSE_INT8,
                      "training": "mlp=False still builds mlp and mlp_norm, whose weights "
                                  "never get a gradient"}
