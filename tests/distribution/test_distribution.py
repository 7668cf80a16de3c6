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


@pytest.mark.backend_independent
def test_the_default_decoder_fits_every_model_axis_its_width_does(child_result):
    out = child_result([os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "decoder_heads_child.py")])
    heads, spec, loss = out["mesh_1x3"]  # 8 heads do not split 3 ways: 12 of width 4
    assert heads == 12 and "model" in spec and loss > 0
    heads, spec, _ = out["mesh_2x4"]  # 8 split 4 ways: unchanged
    assert heads == 8 and "model" in spec
    assert "decoder_heads=8 cannot be split over the model axis of 3" in out["explicit_8_on_3"]


def test_fitting_heads():
    from keras4ds.distribution import fitting_heads

    assert [fitting_heads(512, 8, m) for m in (1, 2, 4, 8, 16, 32)] == [8, 8, 8, 8, 16, 32]
    assert fitting_heads(48, 8, 3) == 12
    with pytest.raises(ValueError, match="no head count >= 8 divides width 20"):
        fitting_heads(20, 8, 3)
