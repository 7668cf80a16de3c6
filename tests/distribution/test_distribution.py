"""Data- and model-parallel MAE steps on 8 fake CPU devices (subprocess: XLA_FLAGS must be
set before JAX starts)."""
import os

import keras
import pytest

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distribution_child.py")


@pytest.mark.backend_independent
def test_single_data_and_model_parallel_agree_and_weights_follow_the_layout_map(child_result):
    for out in child_result([CHILD]).values():
        _check(out)


def _check(out):
    assert out["devices"] == 8
    for name in ("data", "model"):
        assert abs(out[name] - out["single"]) <= 1e-5 * abs(out["single"]), out
        assert out[name + "_max_grad_rel"] < 1e-5, out
    assert out["unmatched"] == [] and out["mismatched"] == [], out
    assert out["sharded"] > out["num_weights"] // 2


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="checks the non-JAX error")
def test_model_parallel_off_jax_is_a_clear_error():
    from keras4ds.distribution import model_parallel

    with pytest.raises(NotImplementedError, match="needs the JAX backend"):
        model_parallel((1, 1))
