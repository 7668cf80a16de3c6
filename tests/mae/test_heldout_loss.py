"""The held-out MAE loss compares decoders on the same targets: every masked tubelet."""
import numpy as np
import pytest
from keras import ops
from tiny_models import tiny_mae

from keras4ds.mae import heldout_loss

VIDEOS = np.random.default_rng(0).uniform(size=(3, 4, 16, 16, 3)).astype("float32")


def test_a_partial_decoder_is_scored_on_every_masked_tubelet():
    mae = tiny_mae("cross", target_ratio=0.25)
    mask = mae.sample_mask(len(VIDEOS), seed=5)
    training_prediction, _ = mae({"video": VIDEOS, "mask": mask})
    assert training_prediction.shape[1] == mae.num_targets < mae.num_masked
    prediction, target = mae.masked_predictions(VIDEOS, mask)
    assert tuple(prediction.shape) == tuple(target.shape) == (3, mae.num_masked, mae.patch_dim)
    # The targets are exactly the masked tubelets' (in some order).
    every, _, _ = mae.targets(VIDEOS)
    masked = np.stack([ops.convert_to_numpy(every)[b][mask[b]] for b in range(len(VIDEOS))])
    np.testing.assert_allclose(np.sort(ops.convert_to_numpy(target).sum(-1), axis=1),
                               np.sort(masked.sum(-1), axis=1), rtol=1e-5, atol=1e-5)
    loss, baseline = heldout_loss(mae, VIDEOS)
    expected_masks = mae.sample_mask(len(VIDEOS), seed=777)
    p, t = mae.masked_predictions(VIDEOS, expected_masks)
    expected = np.mean((ops.convert_to_numpy(p) - ops.convert_to_numpy(t)) ** 2)
    assert loss == pytest.approx(float(expected), rel=1e-5)
    assert baseline > 0
