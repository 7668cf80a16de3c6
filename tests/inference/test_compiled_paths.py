"""compile_forward takes each backend's fast path: XLA on tensorflow, fused SDPA on torch,
heads-first attention on jax CPU (benchmarks/variants.md)."""
import keras
import numpy as np
import pytest
from keras import ops

from keras4ds.inference import compile_forward
from keras4ds.models import FourDSEncoder, layers
from keras4ds.models.readout import AttentionReadout

BACKEND = keras.backend.backend()


@pytest.fixture(scope="module")
def encoder_and_video():
    encoder = FourDSEncoder(width=32, depth=2, mlp_dim=64, num_heads=2, num_frames=4,
                            image_size=(32, 32))
    video = np.random.default_rng(0).uniform(0, 1, (2, 4, 32, 32, 3)).astype("float32")
    return encoder, ops.convert_to_tensor(video)


def test_attention_kernel_choice_on_this_cpu():
    assert layers.heads_first_attention_is_faster() == (BACKEND == "jax")


@pytest.mark.skipif(BACKEND != "torch", reason="PyTorch SDPA")
def test_torch_forward_runs_the_fused_sdpa_kernel(encoder_and_video):
    import torch
    encoder, video = encoder_and_video
    forward = compile_forward(encoder.call, encoder.variables)
    with torch.profiler.profile() as profile:
        forward(video)
    names = {event.name for event in profile.events()}
    assert "aten::scaled_dot_product_attention" in names
    assert any(name.startswith("aten::_scaled_dot_product_") for name in names - {
        "aten::scaled_dot_product_attention"})  # a fused kernel, not the math fallback


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow XLA")
def test_tensorflow_forward_is_xla_compiled(encoder_and_video):
    encoder, video = encoder_and_video
    forward = compile_forward(encoder.call, encoder.variables)
    hlo = forward.experimental_get_compiler_ir(video)(stage="hlo")  # only for jit_compile
    assert hlo.count("exponential(") == encoder.depth  # one softmax per block, in XLA
    plain = compile_forward(encoder.call, encoder.variables, tf_xla=False)
    np.testing.assert_allclose(ops.convert_to_numpy(plain(video)),
                               ops.convert_to_numpy(forward(video)), rtol=1e-4, atol=1e-5)


def test_readout_attention_matches_generic_kernel():
    """AttentionReadout runs through layers.multi_head_attention; same result as the generic
    keras.ops.dot_product_attention to float32 rounding (many queries, and one)."""
    rng = np.random.default_rng(1)
    features = ops.convert_to_tensor(rng.standard_normal((2, 4, 6, 16)).astype("float32"))
    for num_queries in (5, 1):
        readout = AttentionReadout(num_classes=3, num_params=8, num_heads=2,
                                   num_queries=num_queries)
        ours = ops.convert_to_numpy(readout(features))
        chosen = layers.multi_head_attention
        layers.multi_head_attention = ops.dot_product_attention
        try:
            generic = ops.convert_to_numpy(readout(features))
        finally:
            layers.multi_head_attention = chosen
        np.testing.assert_allclose(ours, generic, rtol=1e-5, atol=1e-6)
        trained = ops.convert_to_numpy(readout(features, training=True))  # generic kernel
        np.testing.assert_allclose(trained, ours, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("block_elements, shape", [
    (2 ** 22, (2, 24, 3, 8)),  # all scores in one block
    (24 * 24 * 2, (2, 24, 3, 8)),  # (batch x head) pairs two at a time
    (24 * 24 * 4, (5, 24, 3, 8)),  # 15 pairs: no divisor of 15 is 4, so groups of 3
    (1, (1, 24, 2, 8)),  # a block smaller than one head: one pair at a time
])
def test_heads_first_attention_in_blocks_matches_generic(monkeypatch, block_elements, shape):
    """Blocked heads-first attention (pairs of (batch, head) run in groups) gives the
    generic attention's result, with the grouping visible in the traced graph on jax."""
    monkeypatch.setattr(layers, "SCORE_BLOCK_ELEMENTS", block_elements)
    rng = np.random.default_rng(1)
    query, key, value = (ops.convert_to_tensor(rng.normal(size=shape).astype("float32"))
                         for _ in range(3))
    expected = ops.convert_to_numpy(ops.dot_product_attention(query, key, value))
    got = ops.convert_to_numpy(layers.heads_first_attention(query, key, value))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    if BACKEND == "jax":
        import jax
        fresh = lambda q, k, v: layers.heads_first_attention(q, k, v)  # noqa: E731 (no trace cache)
        text = str(jax.make_jaxpr(fresh)(query, key, value))
        pairs = shape[0] * shape[2]
        assert ("while" in text or "scan" in text) == (pairs * 24 * 24 > block_elements)


def test_largest_divisor_at_most():
    assert [layers._largest_divisor_at_most(12, k) for k in (0, 1, 5, 6, 100)] == [1, 1, 4, 6, 12]
    assert layers._largest_divisor_at_most(15, 4) == 3
