"""A per-model `dtype` (a policy or a `DTypePolicyMap`) reaches every layer of the encoder
and survives its config and preset folders, with the global policy left at float32."""
import keras
import numpy as np
from tiny_models import tiny_encoder

from keras4ds.models import FourDSEncoder

VIDEO = np.random.default_rng(0).uniform(size=(2, 4, 16, 16, 3)).astype("float32")


def leaf_layers(model):
    return [layer for layer in model._flatten_layers(include_self=False) if layer.weights
            and not layer._layers]


def float_dtypes(model):
    return {layer.path: (layer.compute_dtype, sorted({v.dtype for v in layer.weights}))
            for layer in leaf_layers(model)}


def test_bfloat16_encoder_keeps_bfloat16_weights_compute_and_config(tmp_path):
    encoder = tiny_encoder(width=16, seed=0, dtype="bfloat16")
    assert keras.config.dtype_policy().name == "float32"
    assert all(v.dtype == "bfloat16" for v in encoder.weights)
    assert all(compute == "bfloat16" for compute, _ in float_dtypes(encoder).values())
    assert keras.backend.standardize_dtype(encoder(VIDEO).dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(encoder.hidden_states(VIDEO)[-1].dtype) == "bfloat16"
    rebuilt = FourDSEncoder.from_config(encoder.get_config())
    assert all(v.dtype == "bfloat16" for v in rebuilt.weights)
    encoder.save_to_preset(tmp_path / "preset")
    loaded = FourDSEncoder.from_preset(str(tmp_path / "preset"))
    assert all(v.dtype == "bfloat16" for v in loaded.weights)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras.ops.cast(loaded(VIDEO), "float32")),
                                  keras.ops.convert_to_numpy(keras.ops.cast(encoder(VIDEO), "float32")))


def test_adamw_moments_of_a_bfloat16_encoder_are_bfloat16():
    encoder = tiny_encoder(width=16, seed=0, dtype="bfloat16")
    optimizer = keras.optimizers.AdamW(1e-3)
    optimizer.build(encoder.trainable_variables)
    moments = [v for v in optimizer.variables if v.path.split("/")[-1] != "iteration"
               and "learning_rate" not in v.path]
    assert moments and all(v.dtype == "bfloat16" for v in moments)


def test_policy_map_sets_one_block_and_is_kept_in_the_config():
    policies = keras.dtype_policies.DTypePolicyMap(default_policy="float32")
    policies["enc/block_1(/.*)?"] = "bfloat16"
    encoder = tiny_encoder(width=16, seed=0, dtype=policies, name="enc")
    by_layer = float_dtypes(encoder)
    for path, (compute, weights) in by_layer.items():
        expected = "bfloat16" if path.startswith("enc/block_1") else "float32"
        assert compute == expected and weights == [expected], (path, compute, weights)
    assert any(path.startswith("enc/block_1") for path in by_layer)
    rebuilt = FourDSEncoder.from_config(encoder.get_config())
    assert float_dtypes(rebuilt) == by_layer
    # the float32 blocks before it give the same numbers as an all-float32 encoder
    plain = tiny_encoder(width=16, seed=0, name="enc")
    for source, target in zip(plain.weights, encoder.weights):
        target.assign(keras.ops.cast(source, target.dtype))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(encoder.hidden_states(VIDEO)[1]),
                               keras.ops.convert_to_numpy(plain.hidden_states(VIDEO)[1]),
                               rtol=1e-6, atol=1e-6)
