"""The MAE decoders and the cross-attention block through the layer harness."""
import numpy as np
from layer_harness import LayerCase, LayerTest

from keras4ds.mae.decoders import CrossAttentionBlock, CrossAttentionDecoder, TransformerDecoder

RNG = np.random.default_rng(0)
NUM_TOKENS, WIDTH = 32, 16
ORDER = np.stack([RNG.permutation(NUM_TOKENS) for _ in range(2)]).astype("int32")
DECODER_INPUTS = {"visible": RNG.normal(size=(2, 8, WIDTH)).astype("float32"),
                  "visible_idx": ORDER[:, :8], "target_idx": ORDER[:, 8:14]}
DECODER = {"num_tokens": NUM_TOKENS, "patch_dim": 96, "width": 16, "depth": 1, "num_heads": 2}
UNREGISTERED = "the class is not registered with keras.saving.register_keras_serializable"


class TestTransformerDecoder(LayerTest):
    case = LayerCase(TransformerDecoder, DECODER, DECODER_INPUTS, (2, 6, 96), build=(WIDTH,))
    known_failures = {"serialization": UNREGISTERED, "saving": UNREGISTERED,
                      "quantized_saving": UNREGISTERED}


class TestCrossAttentionDecoder(LayerTest):
    case = LayerCase(CrossAttentionDecoder, DECODER, DECODER_INPUTS, (2, 6, 96), build=(WIDTH,))
    known_failures = {"serialization": UNREGISTERED, "saving": UNREGISTERED,
                      "quantized_saving": UNREGISTERED}


class TestCrossAttentionBlock(LayerTest):
    case = LayerCase(CrossAttentionBlock, {"num_heads": 2, "mlp_dim": 32},
                     {"queries": RNG.normal(size=(2, 6, 16)).astype("float32"),
                      "context": RNG.normal(size=(2, 8, 16)).astype("float32")},
                     (2, 6, 16), build=(16,))
    known_failures = {"serialization": UNREGISTERED, "saving": UNREGISTERED,
                      "quantized_saving": UNREGISTERED}
