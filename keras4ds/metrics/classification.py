"""Top-k classification accuracy.

A sample is correct at k when fewer than k classes score strictly higher than
its true class.  Ties therefore count in the true class's favour, the rule of
`tf.math.in_top_k` (a class tied with the k-th score is inside the top k), and
the result does not depend on how a backend's sort orders equal scores.
"""

import numpy as np
from keras import ops as keras_ops

from keras4ds.metrics import _ops
from keras4ds.metrics._base import SumMetric, per_video_weight, weighted_sum


def _topk_kernel(ops, scores, labels, ks):
    """Per-sample hits `(B, len(ks))` as floats."""
    true_score = ops.take_along_axis(scores, labels[:, None], axis=-1)
    higher = _ops.count(ops, scores > true_score, axis=-1)
    return ops.stack([ops.where(higher < k, 1.0, 0.0) for k in ks], axis=-1)


def _sparse_labels(ops, labels, scores_rank):
    """Integer labels `(B,)` from integer or one-hot labels."""
    if len(labels.shape) == scores_rank:
        labels = ops.argmax(labels, axis=-1)
    return ops.cast(ops.reshape(labels, (-1,)), "int32")


def topk_accuracy(scores, labels, ks=(1, 5)):
    """Top-k accuracies of class scores.

    Args:
      scores: `(B, C)` logits or probabilities (any monotonic score).
      labels: `(B,)` integer class ids, or `(B, C)` one-hot.
      ks: the k values.

    Returns:
      dict `{"top{k}": fraction of samples correct at k}`; ties count as correct
      (see the module docstring).
    """
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (B, C); got {scores.shape}.")
    _ops.check_finite("scores", scores)
    labels = _sparse_labels(_ops.NUMPY, np.asarray(labels), 2)
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(f"{labels.shape[0]} labels for {scores.shape[0]} score rows.")
    if ((labels < 0) | (labels >= scores.shape[1])).any():
        raise ValueError(f"Labels must lie in [0, {scores.shape[1]}).")
    hits = _topk_kernel(_ops.NUMPY, scores, labels, ks)
    return {f"top{k}": float(hits[:, i].mean()) for i, k in enumerate(ks)}


class TopKAccuracy(SumMetric):
    """Stateful top-k accuracies, equal to `topk_accuracy` over all samples seen.

    `update_state(y_true, y_pred, sample_weight=None)`: integer or one-hot
    labels, `(B, C)` scores, optional `(B,)` weights.  `result()` is a dict
    `{"top{k}": ...}`.
    """

    def __init__(self, ks=(1, 5), name="top_k_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ks = tuple(int(k) for k in ks)
        self.hits = self.add_sum("hits", (len(self.ks),))
        self.total = self.add_sum("total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras_ops
        scores = ops.cast(y_pred, "float32")
        labels = _sparse_labels(ops, y_true, len(scores.shape))
        weight = per_video_weight(sample_weight, labels)
        self.hits.assign_add(weighted_sum(_topk_kernel(ops, scores, labels, self.ks), weight))
        self.total.assign_add(ops.sum(weight))

    def result(self):
        return {f"top{k}": self.hits[i] / self.total for i, k in enumerate(self.ks)}

    def get_config(self):
        return {**super().get_config(), "ks": self.ks}
