"""What lets MAE learn at small budgets: a prediction layer initialised near zero, so the first
loss is the predict-the-mean loss, not 1.3x it (see benchmarks/mae.md)."""
import numpy as np
import pytest
from keras import ops

from .helpers import TINY_VIDEO_SHAPE, tiny_mae


@pytest.mark.parametrize("decoder", ["standard", "cross"])
def test_untrained_mae_predicts_near_zero_so_its_first_loss_is_the_mean_baseline(decoder):
    mae = tiny_mae(decoder)
    video = np.random.default_rng(0).random((2, *TINY_VIDEO_SHAPE)).astype("float32")
    prediction, target = mae({"video": video, "mask": mae.sample_mask(2, seed=1)})
    # Small but not zero: gradients reach the encoder from the first step.
    assert 0.03 < float(np.std(ops.convert_to_numpy(prediction))) < 0.2
    # Norm-pix targets have zero mean and unit variance per tubelet, so predicting zero
    # scores 1; a Glorot-initialised prediction layer started near 1.3.
    loss = float(ops.convert_to_numpy(mae.compute_loss(y_pred=(prediction, target))))
    assert abs(loss - 1.0) < 0.05
