"""FourDSEncoder through the model harness, plus its SavedModel export."""
import keras
import numpy as np
from layer_harness import ModelCase, ModelTest, expect, run_export_test
from tiny_models import tiny_encoder

VIDEO = np.random.default_rng(0).uniform(size=(2, 4, 16, 16, 3)).astype("float32")
HIDDEN = np.random.default_rng(1).normal(size=(2, 32, 16)).astype("float32")


class TestEncoder(ModelTest):
    case = ModelCase(lambda: tiny_encoder(width=16, seed=0), VIDEO, HIDDEN, (2, 32, 16))

    def test_export(self, tmp_path):
        torch = keras.backend.backend() == "torch"
        known = {"export": "Keras' torch export gives torch.export dynamic shapes of another "
                           "structure than the inputs"} if torch else {}
        expect(known, "export", lambda: run_export_test(self.case, tmp_path))
