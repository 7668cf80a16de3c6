"""Our box IoU and top-k accuracy against Keras' own (`compute_iou`, `SparseTopKCategoricalAccuracy`)."""
import keras
import numpy as np
import pytest

from keras4ds.metrics import box_iou, topk_accuracy


def _boxes(rng, count):
    """[ymin, xmin, ymax, xmax] boxes with sides of at least 0.1 (Keras adds 1e-7 to the
    union, which moves the IoU of tiny boxes by more than float32 rounding)."""
    start = rng.uniform(0, 0.8, (count, 2))
    return np.concatenate([start, start + rng.uniform(0.1, 0.6, (count, 2))], axis=-1)


def test_box_iou_equals_keras_compute_iou_on_matching_pairs():
    rng = np.random.default_rng(0)
    pred, gt = _boxes(rng, 200), _boxes(rng, 200)
    gt[:20] = pred[:20]  # identical pairs
    gt[20:40] = pred[20:40] + [2, 2, 2, 2]  # disjoint pairs
    theirs = keras.ops.convert_to_numpy(keras.utils.bounding_boxes.compute_iou(
        pred.astype("float32"), gt.astype("float32"), bounding_box_format="yxyx"))
    np.testing.assert_allclose(box_iou(pred, gt), np.diagonal(theirs), atol=1e-5)
    np.testing.assert_allclose(box_iou(pred[:, None], gt[None]), theirs, atol=1e-5)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_topk_accuracy_equals_keras_sparse_top_k(k):
    rng = np.random.default_rng(k)
    scores = rng.normal(size=(300, 10)).astype("float32")
    labels = rng.integers(0, 10, 300)
    keras_metric = keras.metrics.SparseTopKCategoricalAccuracy(k=k)
    keras_metric.update_state(labels, scores)
    ours = topk_accuracy(scores, labels, ks=(k,))[f"top{k}"]
    assert ours == pytest.approx(float(keras_metric.result()), abs=1e-6)
