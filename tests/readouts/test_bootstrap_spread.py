"""Bootstrap spreads of task metrics over eval clips."""
import numpy as np
import pytest

from keras4ds.readouts.evaluate import bootstrap_spread, task_metrics

pytestmark = pytest.mark.backend_independent


def _depth(count, noise, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1, 5, (count, 2, 4, 4, 1)).astype(np.float32)
    pred = truth * (1 + noise * rng.standard_normal(truth.shape)).astype(np.float32)
    return {"video": np.zeros((count, 2, 4, 4, 3), np.float32)}, {"depth": truth}, pred


def test_spread_is_zero_for_identical_clips_and_shrinks_with_more_clips():
    inputs, targets, pred = _depth(1, 0.2)
    tile = lambda tree, n: {k: np.repeat(v, n, 0) for k, v in tree.items()}  # noqa: E731
    same = bootstrap_spread("depth", tile(inputs, 8), tile(targets, 8), np.repeat(pred, 8, 0),
                            resamples=20)
    assert same["abs_rel"] == pytest.approx(0.0, abs=1e-7)
    few = bootstrap_spread("depth", *_depth(8, 0.2)[:2], _depth(8, 0.2)[2], resamples=100)
    many = bootstrap_spread("depth", *_depth(128, 0.2)[:2], _depth(128, 0.2)[2], resamples=100)
    assert 0 < many["abs_rel"] < few["abs_rel"]


def test_spread_brackets_the_metric_and_is_seeded():
    inputs, targets, pred = _depth(64, 0.3)
    value = task_metrics("depth", inputs, targets, pred)["abs_rel"]
    first = bootstrap_spread("depth", inputs, targets, pred, resamples=50, seed=3)
    assert first == bootstrap_spread("depth", inputs, targets, pred, resamples=50, seed=3)
    assert 0 < first["abs_rel"] < value
    assert set(first) == set(task_metrics("depth", inputs, targets, pred))


def test_spread_of_dict_predictions_and_too_few_clips():
    pose = np.broadcast_to(np.eye(4, dtype=np.float32), (6, 3, 4, 4)).copy()
    truth = pose.copy()
    truth[:, 1:, :3, 3] = np.random.default_rng(0).normal(size=(6, 2, 3))
    spread = bootstrap_spread("pose", {"video": np.zeros((6, 3, 4, 4, 3))}, {"pose": truth},
                              {"pose": pose}, resamples=30)
    assert spread["end_point_error"] > 0
    with pytest.raises(ValueError, match="at least 2 eval clips"):
        bootstrap_spread("pose", {"video": np.zeros((1, 3, 4, 4, 3))}, {"pose": truth[:1]},
                         {"pose": pose[:1]})


def test_the_mean_of_per_clip_values_is_the_set_metric():
    """What the resamples average: true for depth (frame means) and pose (frame means)."""
    inputs, targets, pred = _depth(16, 0.3)
    whole = task_metrics("depth", inputs, targets, pred)["abs_rel"]
    single = [task_metrics("depth", {"video": inputs["video"][[i]]}, {"depth": targets["depth"][[i]]},
                           pred[[i]])["abs_rel"] for i in range(16)]
    assert np.mean(single) == pytest.approx(whole, rel=1e-5)


def test_a_clip_with_nothing_to_score_is_left_out():
    rng = np.random.default_rng(0)
    boxes = np.tile(np.array([0.2, 0.2, 0.5, 0.5], np.float32), (4, 1, 3, 1))
    pred = boxes + rng.normal(0, 0.05, boxes.shape).astype(np.float32)
    visible = np.ones((4, 1, 3), np.float32)
    visible[0] = 0  # clip 0: no visible box, nothing to score
    inputs = {"video": np.zeros((4, 3, 4, 4, 3)), "query_boxes": boxes[:, :, 0]}
    targets = {"boxes": boxes, "box_visible": visible}
    spread = bootstrap_spread("boxes", inputs, targets, pred, resamples=30)
    assert np.isfinite(spread["box_iou"]) and spread["box_iou"] > 0
    with pytest.raises(ValueError, match="none of the 2 eval clips"):
        bootstrap_spread("boxes", {k: v[:2] for k, v in inputs.items()},
                         {"boxes": boxes[:2], "box_visible": np.zeros_like(visible[:2])},
                         pred[:2])
