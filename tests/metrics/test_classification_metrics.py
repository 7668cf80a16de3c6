"""Top-1 / top-5 accuracy: hand-worked cases, a loop reference, Keras agreement."""

import keras
import numpy as np
import pytest
from keras import ops

from keras4ds.metrics import TopKAccuracy, topk_accuracy


def reference_topk(scores, labels, k):
    """Correct when fewer than k classes score strictly higher than the true class."""
    hits = 0
    for row, label in zip(scores, labels):
        rank = sum(1 for c, s in enumerate(row) if s > row[label])
        hits += rank < k
    return hits / len(labels)


@pytest.mark.backend_independent
def test_hand_worked():
    scores = np.array([
        [0.1, 0.5, 0.2, 0.0, 0.0, 0.0, 0.9],  # label 6: top-1
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],  # label 4: 4 higher -> top-5 only
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],  # label 5: 5 higher -> neither
        [0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1],  # label 1: tied with the top -> top-1
    ])
    labels = np.array([6, 4, 5, 1])
    assert topk_accuracy(scores, labels) == {"top1": 0.5, "top5": 0.75}
    one_hot = np.eye(7)[labels]
    assert topk_accuracy(scores, one_hot, ks=(1, 2, 7)) == {"top1": 0.5, "top2": 0.5, "top7": 1.0}


@pytest.mark.backend_independent
def test_matches_loop_reference_and_errors():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, (50, 10)).astype(float)  # many ties
    labels = rng.integers(0, 10, 50)
    result = topk_accuracy(scores, labels, ks=(1, 3, 5))
    assert result == {f"top{k}": reference_topk(scores, labels, k) for k in (1, 3, 5)}
    with pytest.raises(ValueError, match="Labels"):
        topk_accuracy(scores, labels + 10)
    with pytest.raises(ValueError, match="non-finite"):
        topk_accuracy(np.full((1, 3), np.nan), [0])


def test_keras_metric_matches_numpy_and_runs_in_evaluate():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(37, 12)).astype("float32")
    labels = rng.integers(0, 12, 37)
    metric = TopKAccuracy()
    metric.update_state(labels[:20], scores[:20])
    metric.update_state(np.eye(12)[labels[20:]], scores[20:])
    expected = topk_accuracy(scores, labels)
    result = {k: float(ops.convert_to_numpy(v)) for k, v in metric.result().items()}
    assert result == pytest.approx(expected)
    # In a compiled model's evaluate loop (batches of 8) the dict result is flattened into the logs.
    model = keras.Sequential([keras.Input((12,)), keras.layers.Identity()])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[TopKAccuracy()])
    logs = model.evaluate(scores, labels, batch_size=8, verbose=0, return_dict=True)
    assert logs["top1"] == pytest.approx(expected["top1"]) and logs["top5"] == pytest.approx(expected["top5"])
