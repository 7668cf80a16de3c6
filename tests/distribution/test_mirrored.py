"""MirroredStrategy data parallelism on TensorFlow (2 logical CPU devices, in a subprocess:
they must be configured before TensorFlow initialises)."""
import os

import keras
import pytest

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mirrored_child.py")


@pytest.mark.backend_independent
def test_mirrored_step_equals_single_device_step_on_the_global_batch(child_result):
    out = child_result([CHILD])
    assert out["devices"] == 2
    step = out["sgd"]
    assert step["replicas"] == 2
    assert step["mirrored_loss"] == pytest.approx(step["single_loss"], rel=1e-6)
    assert step["max_update"] > 1e-3, step  # the step moved the weights...
    assert step["max_weight_error"] < 1e-6, step  # ...as the single-device step did


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="checks the non-TF error")
def test_mirrored_strategy_off_tensorflow_is_a_clear_error():
    from keras4ds.distribution import mirrored_strategy

    with pytest.raises(NotImplementedError, match="needs the TensorFlow backend"):
        mirrored_strategy()
