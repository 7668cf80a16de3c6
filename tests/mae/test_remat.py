"""Remat of the encoder blocks: same loss and gradients, blocks really recomputed."""
import keras
import numpy as np
import pytest

from .helpers import TINY_VIDEO_SHAPE, tiny_encoder, tiny_mae


def _pair():
    """Two MAEs with equal weights and mask seeds, the second with `remat=True` blocks."""
    maes = []
    for remat in (False, True):
        keras.utils.set_random_seed(0)
        encoder = tiny_encoder(depth=2)
        if remat:
            encoder = type(encoder).from_config({**encoder.get_config(), "remat": True})
        maes.append(tiny_mae(encoder=encoder, seed=3))
    for source, target in zip(maes[0].variables, maes[1].variables):
        target.assign(keras.ops.convert_to_numpy(source))  # a copy: fit donates buffers
    return maes


def _count_block_calls(mae):
    """Wrap each encoder block's `call` to count its forward executions (Python calls)."""
    counter = [0]
    for block in mae.encoder.blocks:
        def counted(x, training=None, _call=block.call):
            counter[0] += 1
            return _call(x, training=training)
        block.call = counted
    return counter


def _loss_and_grads(mae, batch):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss_fn(trainable, non_trainable, batch):
            (pred, target), _ = mae.stateless_call(trainable, non_trainable, batch)
            return keras.ops.mean((pred - target) ** 2)

        args = ([v.value for v in mae.trainable_variables],
                [v.value for v in mae.non_trainable_variables], batch)
        jaxpr = str(jax.make_jaxpr(loss_fn)(*args))
        loss, grads = jax.jit(jax.value_and_grad(loss_fn))(*args)
        return float(loss), [np.asarray(g) for g in grads], jaxpr.count("remat")
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function  # graph mode, as in fit (keras#21207: remat with kwargs fails there)
        def step(batch):
            with tf.GradientTape() as tape:
                loss = mae.compute_loss(y_pred=mae(batch))
            return loss, tape.gradient(loss, mae.trainable_variables)

        loss, grads = step(batch)
        return float(loss), [tf.convert_to_tensor(g).numpy() for g in grads], None
    loss = mae.compute_loss(y_pred=mae(batch))
    loss.backward()
    return float(loss.detach()), [v.value.grad.numpy() for v in mae.trainable_variables], None


def test_remat_gives_the_same_loss_and_gradients_and_recomputes_the_blocks():
    plain, remat = _pair()
    assert remat.encoder.remat and not plain.encoder.remat
    video = np.random.default_rng(0).random((2, *TINY_VIDEO_SHAPE)).astype("float32")
    batch = {"video": video, "mask": plain.sample_mask(2, seed=5)}
    counts = [_count_block_calls(plain), _count_block_calls(remat)]
    loss0, grads0, remat0 = _loss_and_grads(plain, batch)
    loss1, grads1, remat1 = _loss_and_grads(remat, batch)
    assert loss1 == pytest.approx(loss0, rel=1e-6)
    scale = max(float(np.abs(g).max()) for g in grads0)
    for g0, g1 in zip(grads0, grads1):
        np.testing.assert_allclose(g1, g0, rtol=0, atol=1e-5 * scale)
    if keras.backend.backend() == "jax":
        # One checkpointed (remat) region per encoder block, none without remat.
        assert (remat0, remat1) == (0, 2)
    else:
        # The backward pass runs each block's forward again.
        assert counts[0][0] == 2 and counts[1][0] == 4, (counts[0][0], counts[1][0])


def test_fit_step_with_remat_equals_fit_step_without():
    from keras4ds.mae import make_optimizer

    video = np.random.default_rng(1).random((2, *TINY_VIDEO_SHAPE)).astype("float32")
    weights = []
    for mae in _pair():
        batch = {"video": video, "mask": mae.sample_mask(2, seed=6)}
        mae.compile(optimizer=make_optimizer(1e-3, steps=2, warmup_steps=1))
        mae.fit(batch, epochs=1, batch_size=2, verbose=0, shuffle=False)
        weights.append([keras.ops.convert_to_numpy(v) for v in mae.trainable_variables])
    for w0, w1 in zip(*weights):
        np.testing.assert_allclose(w1, w0, rtol=1e-5, atol=1e-6)


def test_remat_round_trips_through_the_config():
    encoder = tiny_encoder()
    config = {**encoder.get_config(), "remat": True}
    assert type(encoder).from_config(config).get_config()["remat"] is True
    assert encoder.get_config()["remat"] is False


def test_remat_encoder_uses_current_weights_between_calls():
    """A cached remat trace must not keep old weights (keras#20936 with RematScope)."""
    encoder = type(tiny_encoder()).from_config({**tiny_encoder().get_config(), "remat": True})
    video = np.random.default_rng(2).random((1, *TINY_VIDEO_SHAPE)).astype("float32")
    first = keras.ops.convert_to_numpy(encoder(video))
    kernel = encoder.blocks[0].mlp.dense_out.kernel
    kernel.assign(kernel * 2.0)
    second = keras.ops.convert_to_numpy(encoder(video))
    assert np.abs(second - first).max() > 1e-3
