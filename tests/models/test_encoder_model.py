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


def test_tokens_at_indices_are_those_rows_of_h0_embedding_only_them():
    encoder = tiny_encoder(width=16, seed=0)
    indices = np.stack([np.random.default_rng(i).permutation(encoder.num_tokens)[:5]
                        for i in range(len(VIDEO))])
    every = keras.ops.convert_to_numpy(encoder.tokens(VIDEO))
    some = keras.ops.convert_to_numpy(encoder.tokens(VIDEO, indices))
    assert some.shape == (2, 5, 16)
    np.testing.assert_allclose(some, np.take_along_axis(every, indices[..., None], axis=1),
                               rtol=1e-6, atol=1e-6)
