"""MirroredStrategy data parallelism on TensorFlow (2 logical CPU devices, in a subprocess:
they must be configured before TensorFlow initialises)."""
import os

import keras
import pytest

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mirrored_child.py")


@pytest.fixture(scope="module")
def mirrored(child_result):
    return child_result([CHILD])


@pytest.mark.backend_independent
def test_mirrored_step_equals_single_device_step_on_the_global_batch(mirrored):
    out = mirrored
    assert out["devices"] == 2
    step = out["sgd"]
    assert step["replicas"] == 2
    assert step["mirrored_loss"] == pytest.approx(step["single_loss"], rel=1e-6)
    assert step["max_update"] > 1e-3, step  # the step moved the weights...
    assert step["max_weight_error"] < 1e-6, step  # ...as the single-device step did


@pytest.mark.backend_independent
def test_mirrored_pretrain_reads_every_batch_of_a_list(mirrored):
    # Keras' generator adapter drops batches under MirroredStrategy; pretrain feeds lists
    # through tf.data there, so each mirrored step sees the same batch as the single one.
    runs = mirrored["pretrain"]
    assert len(runs["mirrored"]) == len(runs["single"]) == 3
    assert len(set(runs["single"])) == 3  # three different batches
    assert runs["mirrored"] == pytest.approx(runs["single"], rel=1e-5)
    assert "one-shot iterator" in runs["one_shot_error"]


@pytest.mark.backend_independent
def test_mirrored_replicas_draw_the_masks_one_device_draws(mirrored):
    # Each replica keeps its rows of one global draw; drawing its own rows from the shared
    # seed state would give both halves of a batch the same masks, and other losses.
    runs = mirrored["pretrain"]
    assert len(set(runs["single_drawn_masks"])) == 3
    assert runs["mirrored_drawn_masks"] == pytest.approx(runs["single_drawn_masks"], rel=1e-5)


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="checks the non-TF error")
def test_mirrored_strategy_off_tensorflow_is_a_clear_error():
    from keras4ds.distribution import mirrored_strategy

    with pytest.raises(NotImplementedError, match="needs the TensorFlow backend"):
        mirrored_strategy()
