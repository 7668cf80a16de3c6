"""DepthModel through the model harness, with a trained and a frozen encoder."""
import numpy as np
from layer_harness import ModelCase, ModelTest
from tiny_models import tiny_depth_model, tiny_encoder

VIDEO = np.random.default_rng(0).uniform(size=(2, 4, 16, 16, 3)).astype("float32")
DEPTH = 1.0 + VIDEO.mean(-1, keepdims=True)
# readout_index=2: the last state, so that `fit` reaches every encoder block (the official
# 0.95 selection of a 2-block encoder is h_0).


def frozen_depth_model():
    model = tiny_depth_model(tiny_encoder(width=16, seed=0), readout_index=2)
    model.encoder.trainable = False
    return model


class TestDepthModel(ModelTest):
    case = ModelCase(lambda: tiny_depth_model(tiny_encoder(width=16, seed=0), readout_index=2), VIDEO, DEPTH,
                     (2, 4, 16, 16, 1))


class TestFrozenDepthModel(ModelTest):
    case = ModelCase(frozen_depth_model, VIDEO, DEPTH, (2, 4, 16, 16, 1))
    quantize = False
