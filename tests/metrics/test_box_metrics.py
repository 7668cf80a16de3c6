"""Box IoU and box-tracking score: hand-worked cases, edge cases, a loop reference, Keras."""

import numpy as np
import pytest
from keras import ops

from keras4ds.metrics import BoxTrackingIoU, box_iou, box_tracking_iou


def reference_iou(a, b):
    """IoU of two [ymin, xmin, ymax, xmax] boxes from the area formula."""
    def area(box):
        return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)

    inter = [max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])]
    union = area(a) + area(b) - area(inter)
    return area(inter) / union if union > 0 else 0.0


def reference_tracking(pred, gt, visible):
    """Mean IoU over visible frames after the first, per track, then per video."""
    videos = []
    for b in range(len(pred)):
        tracks = []
        for n in range(pred.shape[1]):
            ious = [
                reference_iou(pred[b, n, t], gt[b, n, t])
                for t in range(1, pred.shape[2])
                if visible[b, n, t]
            ]
            if ious:
                tracks.append(np.mean(ious))
        videos.append(np.mean(tracks) if tracks else np.nan)
    return np.array(videos)


def random_tracks(seed, batch=3, num_tracks=4, frames=5):
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 80, (batch, num_tracks, frames, 2))
    size = rng.uniform(0, 30, (batch, num_tracks, frames, 2))
    gt = np.concatenate([corner, corner + size], axis=-1)
    pred = gt + rng.normal(0, 6, gt.shape)
    visible = rng.random((batch, num_tracks, frames)) < 0.7
    visible[0, 1] = False  # a padded track
    return pred, gt, visible


@pytest.mark.backend_independent
def test_box_iou_hand_worked():
    assert box_iou([0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(1 / 7)  # overlap 1, union 7
    assert box_iou([0, 0, 2, 4], [0, 0, 2, 4]) == 1.0
    assert box_iou([0, 0, 2, 2], [0, 1, 2, 3]) == pytest.approx(2 / 6)
    assert box_iou([0, 0, 1, 1], [1, 1, 2, 2]) == 0.0  # touching corners
    assert box_iou([0, 0, 4, 4], [1, 1, 2, 2]) == pytest.approx(1 / 16)  # contained


@pytest.mark.backend_independent
def test_box_iou_empty_and_degenerate_boxes_give_zero():
    empty, inverted = [2, 2, 2, 2], [3, 3, 1, 1]
    with np.errstate(all="raise"):
        values = box_iou(np.array([empty, empty, inverted, inverted, [0, 0, 2, 0]]),
                         np.array([empty, [0, 0, 4, 4], [0, 0, 4, 4], inverted, [0, 0, 2, 0]]))
    np.testing.assert_array_equal(values, 0.0)


@pytest.mark.backend_independent
def test_box_iou_matches_reference_and_broadcasts():
    pred, gt, _ = random_tracks(0)
    pred[0, 0, 0] = [5, 5, 1, 1]  # inverted
    iou = box_iou(pred, gt)
    assert iou.shape == pred.shape[:-1]
    expected = [reference_iou(p, g) for p, g in zip(pred.reshape(-1, 4), gt.reshape(-1, 4))]
    np.testing.assert_allclose(iou.ravel(), expected, rtol=1e-12)
    assert box_iou(gt[0, 0, :1], gt[0, 0]).shape == (5,)


@pytest.mark.backend_independent
def test_tracking_score_hand_worked():
    unit = [0, 0, 1, 1]
    half = [0, 0, 1, 0.5]  # IoU with unit = 0.5
    gt = np.array([[[unit, unit, unit, unit], [unit, unit, unit, unit]]], float)
    pred = np.array([[[[9, 9, 9, 9], unit, half, half], [unit, unit, half, unit]]], float)
    visible = np.array([[[True, True, True, False], [True, True, True, True]]])
    # Frame 0 never counts.  Track 0: frames 1, 2 visible -> (1 + 0.5) / 2 = 0.75.
    # Track 1: frames 1, 2, 3 -> (1 + 0.5 + 1) / 3.  Video: the mean of the two.
    expected = (0.75 + 2.5 / 3) / 2
    assert box_tracking_iou(pred, gt, visible) == pytest.approx(expected)
    all_frames = box_tracking_iou(pred, gt)  # default: every frame visible
    assert all_frames == pytest.approx(((1 + 0.5 + 0.5) / 3 + 2.5 / 3) / 2)


@pytest.mark.backend_independent
def test_tracking_score_edge_cases():
    pred, gt, visible = random_tracks(1, batch=2)
    visible[1] = False
    visible[1, 0, 0] = True  # visible only in the first frame: nothing to score
    per_video = box_tracking_iou(pred, gt, visible, reduction="none")
    assert np.isnan(per_video[1]) and not np.isnan(per_video[0])
    assert box_tracking_iou(pred, gt, visible) == pytest.approx(per_video[0])
    with pytest.raises(ValueError, match="No box to score"):
        box_tracking_iou(pred[1:], gt[1:], visible[1:])
    with pytest.raises(ValueError, match="Shape mismatch"):
        box_tracking_iou(pred[:, :, :3], gt)
    empty = np.zeros_like(gt)  # empty predicted boxes score 0, not NaN
    assert box_tracking_iou(empty, gt) == 0.0


@pytest.mark.backend_independent
@pytest.mark.parametrize("seed", range(3))
def test_tracking_score_matches_loop_reference(seed):
    pred, gt, visible = random_tracks(seed)
    np.testing.assert_allclose(
        box_tracking_iou(pred, gt, visible, reduction="none"),
        reference_tracking(pred, gt, visible),
        rtol=1e-12,
    )


def test_keras_metric_matches_numpy_across_batches():
    pred, gt, visible = random_tracks(4, batch=5)
    visible[3] = False  # a video with no scored track is left out
    metric = BoxTrackingIoU()
    for part in (slice(0, 2), slice(2, 5)):
        metric.update_state({"boxes": gt[part], "visible": visible[part]}, pred[part].astype("float32"))
    expected = box_tracking_iou(pred, gt, visible)
    assert float(ops.convert_to_numpy(metric.result())) == pytest.approx(expected, rel=1e-5)
    metric.reset_state()
    metric.update_state(gt, {"boxes": pred}, sample_weight=np.array([0.0, 1, 1, 1, 1]))
    expected = box_tracking_iou(pred[1:], gt[1:])
    assert float(ops.convert_to_numpy(metric.result())) == pytest.approx(expected, rel=1e-5)


@pytest.mark.backend_independent
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_boxes_are_refused_naming_the_input(bad):
    pred, gt, visible = random_tracks(5)
    for name in ("pred", "gt"):
        boxes = {"pred": pred.copy(), "gt": gt.copy()}
        boxes[name][0, 0, 2, 1] = bad
        with pytest.raises(ValueError, match=f"`{name}` must be finite .* 1 non-finite"):
            box_iou(boxes["pred"], boxes["gt"])
        with pytest.raises(ValueError, match=f"`{name}` must be finite"):
            box_tracking_iou(boxes["pred"], boxes["gt"], visible | True)


@pytest.mark.backend_independent
def test_true_boxes_may_be_nan_where_the_object_is_not_visible():
    pred, gt, visible = random_tracks(6)
    visible[0, 0, 3] = False
    missing = gt.copy()
    missing[0, 0, 3] = np.nan
    assert box_tracking_iou(pred, missing, visible) == box_tracking_iou(pred, gt, visible)
    visible[0, 0, 3] = True
    with pytest.raises(ValueError, match="`gt` must be finite at all its visible frames"):
        box_tracking_iou(pred, missing, visible)
