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


def _check_ks(ks):
    ks = tuple(ks)
    if not ks or not all(int(k) == k and k >= 1 for k in ks):
        raise ValueError(f"`ks` must be whole numbers >= 1; got {ks!r}.")
    return tuple(int(k) for k in ks)


def _check_shapes(scores, labels, names=("scores", "labels")):
    """Shape checks of `scores` `(B, C)` and `labels` `(B,)` or `(B, C)` (static shapes)."""
    _ops.check_shape(names[0], scores, ("B", "C"))
    scores_shape, labels_shape = _ops.static_shape(scores), _ops.static_shape(labels)
    if not (
        _ops.shapes_agree(labels_shape, scores_shape[:1])
        or _ops.shapes_agree(labels_shape, scores_shape)
    ):
        raise ValueError(
            f"`{names[1]}` must be (B,) class ids or (B, C) one-hot for `{names[0]}` of "
            f"shape (B, C) = {scores_shape}; got shape {labels_shape}."
        )


def topk_accuracy(scores, labels, ks=(1, 5)):
    """Top-k accuracies of class scores.

    Args:
      scores: `(B, C)` logits or probabilities (any monotonic score).
      labels: `(B,)` integer class ids, or `(B, C)` one-hot.
      ks: the k values.

    Returns:
      dict `{"top{k}": fraction of samples correct at k}`; ties count as correct
      (see the module docstring).

    Raises:
      ValueError, naming the input: `scores` not `(B, C)` or empty (B = 0),
        `labels` of another shape, NaN or inf in `scores`, class ids that are not
        whole numbers in `[0, C)`, or `ks` not whole numbers >= 1.
    """
    ks = _check_ks(ks)
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels)
    _check_shapes(scores, labels)
    _ops.check_finite("scores", scores)
    if labels.ndim == 1 and not np.array_equal(labels, np.round(labels)):
        raise ValueError("`labels` must be whole class ids; got non-integer values.")
    labels = _sparse_labels(_ops.NUMPY, labels, 2)
    if ((labels < 0) | (labels >= scores.shape[1])).any():
        raise ValueError(
            f"Labels must lie in [0, {scores.shape[1]}) (the columns of `scores`); "
            f"`labels` has {labels.min()}..{labels.max()}."
        )
    hits = _topk_kernel(_ops.NUMPY, scores, labels, ks)
    return {f"top{k}": float(hits[:, i].mean()) for i, k in enumerate(ks)}


class TopKAccuracy(SumMetric):
    """Stateful top-k accuracies, equal to `topk_accuracy` over all samples seen.

    `update_state(y_true, y_pred, sample_weight=None)`: integer or one-hot
    labels, `(B, C)` scores, optional `(B,)` weights.  `result()` is a dict
    `{"top{k}": ...}`.  Shapes are checked as in `topk_accuracy` (static shapes,
    so also in a compiled step); label values and NaN scores are not.
    """

    def __init__(self, ks=(1, 5), name="top_k_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ks = _check_ks(ks)
        self.hits = self.add_sum("hits", (len(self.ks),))
        self.total = self.add_sum("total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras_ops
        y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
        _check_shapes(y_pred, y_true, names=("y_pred", "y_true"))
        scores = ops.cast(y_pred, "float32")
        labels = _sparse_labels(ops, y_true, len(scores.shape))
        weight = per_video_weight(sample_weight, labels)
        self.hits.assign_add(weighted_sum(_topk_kernel(ops, scores, labels, self.ks), weight))
        self.total.assign_add(ops.sum(weight))

    def result(self):
        return {f"top{k}": self.hits[i] / self.total for i, k in enumerate(self.ks)}

    def get_config(self):
        return {**super().get_config(), "ks": self.ks}
