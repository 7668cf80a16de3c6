"""Held-out reconstruction loss of a `MaskedAutoencoder`."""
import numpy as np
from keras import ops


def heldout_loss(mae, videos, mask_seed=777, batch=8):
    """(held-out MSE, predict-the-mean MSE) of `mae` on `videos` `(B, T, H, W, 3)` floats in
    [0, 1] with fixed seeded masks, over every masked tubelet (whatever part of them the
    decoder trains on), so decoders compare on the same targets; the baseline predicts
    every target as the mean held-out target (1.0 for norm-pix targets is the mean of a
    tubelet)."""
    masks = mae.sample_mask(len(videos), seed=mask_seed)
    predictions, targets = [], []
    for i in range(0, len(videos), batch):
        prediction, target = mae.masked_predictions(videos[i:i + batch], masks[i:i + batch])
        predictions.append(ops.convert_to_numpy(prediction))
        targets.append(ops.convert_to_numpy(target))
    predictions, targets = np.concatenate(predictions), np.concatenate(targets)
    baseline = np.mean((targets - targets.mean(axis=(0, 1))) ** 2)
    return float(np.mean((predictions - targets) ** 2)), float(baseline)
