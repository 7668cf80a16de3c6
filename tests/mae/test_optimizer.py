import numpy as np
from keras import ops

from keras4ds.mae import make_optimizer
from keras4ds.mae.optimizer import warmup_cosine_schedule

from .helpers import tiny_mae


def test_schedule_warms_up_then_decays_to_zero():
    lr = warmup_cosine_schedule(1e-3, steps=100, warmup_steps=10)
    values = [float(ops.convert_to_numpy(lr(step))) for step in (0, 5, 10, 55, 100)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0], atol=1e-7)


def test_weight_decay_skips_norms_biases_position_embeddings_and_mask_token():
    mae = tiny_mae()
    optimizer = make_optimizer(0.1, steps=10, warmup_steps=0, weight_decay=0.5, clipnorm=None)
    variables = mae.trainable_variables
    for v in variables:  # non-zero everywhere, so that decay shows on every weight
        v.assign(np.full(v.shape, 0.5, "float32"))
    before = [ops.convert_to_numpy(v) for v in variables]
    optimizer.apply_gradients([(ops.zeros(v.shape), v) for v in variables])
    decayed = {v.path for v, b in zip(variables, before)
               if not np.allclose(ops.convert_to_numpy(v), b)}
    no_decay = {"gamma", "beta", "bias", "embeddings", "position_embedding", "mask_token"}
    for v in variables:
        assert (v.path in decayed) == (v.name not in no_decay), v.path
    assert any(p.endswith("attention/query/kernel") for p in decayed)
    assert any(p.endswith("tubelet_embedding/kernel") for p in decayed)
