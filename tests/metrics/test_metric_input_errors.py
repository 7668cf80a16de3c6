"""Every metric refuses empty, mismatched, non-finite or out-of-range input, naming it.

The numpy functions check shapes and values; the Keras metrics check shapes, on static
shapes, so also inside a compiled step (TensorFlow traces with the batch size unknown).
"""
import numpy as np
import pytest
from test_box_metrics import random_tracks
from test_depth_metrics import random_depth
from test_metrics_compiled import compiled_update
from test_pose_metrics import random_trajectories
from test_tapvid_metrics import random_case

from keras4ds.metrics import (
    BoxTrackingIoU,
    CameraPoseMetrics,
    DepthMetrics,
    TapVidMetrics,
    TopKAccuracy,
    box_iou,
    box_tracking_iou,
    camera_pose_metrics,
    depth_metrics,
    tapvid_metrics,
    to_tapvid_raster,
    topk_accuracy,
    umeyama,
)


def run_update(metric, y_true, y_pred, weight, compiled):
    """`metric.update_state`, eagerly or inside a compiled step (batch size unknown in TF)."""
    if compiled:
        compiled_update(metric, y_true, y_pred, weight)
    else:
        metric.update_state(y_true, y_pred, weight)


def tapvid_keras_args(case):
    y_true = {"query_points": case["query_points"], "occluded": case["gt_occluded"],
              "tracks": case["gt_tracks"]}
    return y_true, {"occluded": case["pred_occluded"], "tracks": case["pred_tracks"]}


# --- TAP-Vid -------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1], ids=["no_video", "no_track"])
def test_tapvid_refuses_an_empty_input(axis):
    case = {k: np.take(v, [], axis=axis) for k, v in random_case(0).items()}
    with pytest.raises(ValueError, match=r"`query_points` is empty \(shape \((0, 7|3, 0), 3\)\)"):
        tapvid_metrics(**case, query_mode="first")


@pytest.mark.parametrize("coordinate,value", [(1, 256.5), (2, -1.0)], ids=["y", "x"])
def test_tapvid_refuses_query_points_outside_the_raster(coordinate, value):
    case = random_case(1)
    case["query_points"][0, 2, coordinate] = value
    with pytest.raises(ValueError, match=r"`query_points` y, x must lie in the 256x256 raster"):
        tapvid_metrics(**case, query_mode="strided")


def test_tapvid_refuses_query_points_of_the_wrong_rank():
    case = random_case(2)
    case["query_points"] = case["query_points"][..., 1:]
    with pytest.raises(ValueError, match=r"`query_points` must be \(B, N, 3\) as \(t, y, x\)"):
        tapvid_metrics(**case, query_mode="first")


def test_tapvid_keras_metric_refuses_queries_for_other_tracks():
    y_true, y_pred = tapvid_keras_args(random_case(3))
    y_true["query_points"] = y_true["query_points"][:, :1]  # one query would broadcast over 7 tracks
    with pytest.raises(ValueError, match=r"Shape mismatch: y_true\['query_points'\]\[\.\.\., 0\]\(3, 1\)"):
        TapVidMetrics().update_state(y_true, y_pred)


def test_to_tapvid_raster_refuses_coordinates_that_do_not_fit_the_format():
    with pytest.raises(ValueError, match=r"`coords` must be \(\.\.\., 3\) as \(t, y, x\)"):
        to_tapvid_raster(np.zeros((4, 2)), "unit", coordinate_format="tyx")
    with pytest.raises(ValueError, match=r"`from_size` must be \(height, width\), both > 0"):
        to_tapvid_raster(np.zeros((4, 2)), (0, 64))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_tapvid_keras_metric_refuses_mismatched_tracks(compiled):
    y_true, y_pred = tapvid_keras_args(random_case(4))
    y_pred["tracks"] = y_pred["tracks"][:, :, :-1]
    with pytest.raises(ValueError, match=r"Shape mismatch: y_true\['tracks'\]\(.*\), y_pred\['tracks'\]"):
        run_update(TapVidMetrics(), y_true, y_pred, np.ones(3, "float32"), compiled)


def test_tapvid_keras_metric_refuses_an_empty_input():
    case = {k: v[:, :0] for k, v in random_case(5).items()}
    with pytest.raises(ValueError, match=r"`y_true\['query_points'\]` is empty"):
        TapVidMetrics().update_state(*tapvid_keras_args(case))


def test_keras_metric_refuses_a_weight_per_video_of_another_batch():
    y_true, y_pred = tapvid_keras_args(random_case(6, batch=3))
    with pytest.raises(ValueError,
                       match=r"`sample_weight` must hold one weight per video, \(B,\) with B = 3"):
        TapVidMetrics().update_state(y_true, y_pred, sample_weight=np.ones(2, "float32"))


# --- top-k accuracy ------------------------------------------------------------------


def test_topk_refuses_an_empty_input():
    with pytest.raises(ValueError, match=r"`scores` is empty \(shape \(0, 5\)\)"):
        topk_accuracy(np.zeros((0, 5)), np.zeros(0, int))


@pytest.mark.parametrize("labels,message", [
    (np.zeros((4, 1), int), r"`labels` must be \(B,\) class ids or \(B, C\) one-hot .* got shape \(4, 1\)"),
    (np.zeros(3, int), r"`labels` must be \(B,\) class ids .* got shape \(3,\)"),
    (np.array([0.0, 1.5, 2.0, 1.0]), r"`labels` must be whole class ids"),
], ids=["column", "count", "fractions"])
def test_topk_refuses_labels_that_do_not_fit_the_scores(labels, message):
    scores = np.random.default_rng(0).normal(size=(4, 5))
    with pytest.raises(ValueError, match=message):
        topk_accuracy(scores, labels)


def test_topk_refuses_k_below_one():
    with pytest.raises(ValueError, match=r"`ks` must be whole numbers >= 1; got \(0, 5\)"):
        topk_accuracy(np.eye(3), np.arange(3), ks=(0, 5))
    with pytest.raises(ValueError, match=r"`ks` must be whole numbers >= 1"):
        TopKAccuracy(ks=(1.5,))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_topk_keras_metric_refuses_labels_for_other_rows(compiled):
    scores = np.random.default_rng(1).normal(size=(6, 9)).astype("float32")
    labels = np.zeros((6, 4), "float32")  # one-hot over 4 classes for 9 scores
    with pytest.raises(ValueError, match=r"`y_true` must be \(B,\) class ids or \(B, C\) one-hot"):
        run_update(TopKAccuracy(), labels, scores, np.ones(6, "float32"), compiled)


def test_topk_keras_metric_refuses_an_empty_input():
    with pytest.raises(ValueError, match=r"`y_pred` is empty"):
        TopKAccuracy().update_state(np.zeros(0, "int32"), np.zeros((0, 9), "float32"))


# --- depth ---------------------------------------------------------------------------


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_depth_keras_metric_refuses_mismatched_shapes(compiled):
    pred, gt = random_depth(0)
    mask = np.ones_like(gt, "float32")
    with pytest.raises(ValueError, match=r"Shape mismatch: y_pred\(.*\), y_true\(.*\); they must be equal"):
        run_update(DepthMetrics(), gt.astype("float32"), pred[:, :, :-1].astype("float32"), mask, compiled)


def test_depth_keras_metric_refuses_a_mask_that_does_not_broadcast():
    pred, gt = random_depth(1)
    mask = np.ones(gt.shape[:-1] + (gt.shape[-1] - 1,), "float32")
    with pytest.raises(ValueError, match=r"`sample_weight` \(the valid-pixel mask\) of shape"):
        DepthMetrics().update_state(gt.astype("float32"), pred.astype("float32"), sample_weight=mask)


def test_depth_keras_metric_refuses_an_empty_batch():
    pred, gt = random_depth(2)
    with pytest.raises(ValueError, match=r"`y_pred` is empty"):
        DepthMetrics().update_state(gt[:0].astype("float32"), pred[:0].astype("float32"))


def test_depth_refuses_an_empty_input_and_a_single_row():
    pred, gt = random_depth(3)
    with pytest.raises(ValueError, match=r"`pred` is empty \(shape \(2, 0, "):
        depth_metrics(pred[:, :0], gt[:, :0])
    with pytest.raises(ValueError, match=r"`pred` must be depth maps \(H, W\)"):
        depth_metrics(pred[0, 0, 0], gt[0, 0, 0])


def test_depth_accepts_a_channel_axis_on_one_side_only():
    pred, gt = random_depth(4)
    expected = depth_metrics(pred, gt)
    assert depth_metrics(pred[..., None], gt) == expected


# --- camera pose ---------------------------------------------------------------------


def test_pose_refuses_non_finite_true_poses():
    pred, gt = random_trajectories(0)
    gt = gt.copy()
    gt[0, 1, 0, 3] = np.nan
    with pytest.raises(ValueError, match=r"`gt` must be finite at all its entries; got 1 non-finite"):
        camera_pose_metrics(pred, gt)


def test_pose_refuses_an_empty_input():
    pred, gt = random_trajectories(1)
    with pytest.raises(ValueError, match=r"`pred` is empty \(shape \(0, "):
        camera_pose_metrics(pred[:0], gt[:0])


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_pose_keras_metric_refuses_poses_that_are_not_rigid_transforms(compiled):
    pred, gt = (x[..., :3].astype("float32") for x in random_trajectories(2))  # (B, T, 4, 3)
    with pytest.raises(ValueError, match=r"`y_pred` must be \(B, T, 3\|4, 4\) as \[R \| t\] poses"):
        run_update(CameraPoseMetrics(), gt, pred, np.ones(len(gt), "float32"), compiled)


def test_pose_keras_metric_refuses_a_single_frame():
    pred, gt = (x[:, :1].astype("float32") for x in random_trajectories(3))
    with pytest.raises(ValueError, match=r"at least 2 frames per video; `y_pred` has T=1"):
        CameraPoseMetrics().update_state(gt, pred)


def test_umeyama_refuses_no_points_and_non_finite_points():
    with pytest.raises(ValueError, match=r"`src` is empty \(shape \(0, 3\)\)"):
        umeyama(np.zeros((0, 3)), np.zeros((0, 3)))
    dst = np.ones((5, 3))
    dst[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"`dst` must be finite"):
        umeyama(np.random.default_rng(0).normal(size=(5, 3)), dst)
    with pytest.raises(ValueError, match=r"`src` and `dst` must be \(\.\.\., N, 3\) points"):
        umeyama(np.zeros((5, 2)), np.zeros((5, 2)))


# --- boxes ---------------------------------------------------------------------------


def test_box_iou_refuses_boxes_that_do_not_fit():
    with pytest.raises(ValueError, match=r"`gt` must be \(\.\.\., 4\) boxes"):
        box_iou(np.zeros((3, 4)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"`pred` \(3, 4\) and `gt` \(2, 4\) do not broadcast"):
        box_iou(np.zeros((3, 4)), np.zeros((2, 4)))


def test_box_tracking_refuses_an_input_without_tracks():
    pred, gt, visible = random_tracks(0)
    with pytest.raises(ValueError, match=r"`pred` is empty \(shape \(.*, 0, .*, 4\)\)"):
        box_tracking_iou(pred[:, :0], gt[:, :0], visible[:, :0])


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_box_keras_metric_refuses_visibility_of_other_frames(compiled):
    pred, gt, visible = random_tracks(1)
    y_true = {"boxes": gt.astype("float32"), "visible": visible[..., :-1]}
    with pytest.raises(ValueError, match=r"Shape mismatch: y_true\['visible'\]\(.*\), y_pred\[\.\.\., 0\]"):
        run_update(BoxTrackingIoU(), y_true, pred.astype("float32"), np.ones(len(gt), "float32"), compiled)
