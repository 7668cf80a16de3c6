"""Box IoU and the box-tracking score.

Boxes are `[ymin, xmin, ymax, xmax]` in any consistent units.  A box with
`ymax <= ymin` or `xmax <= xmin` is empty (area 0); the IoU of two boxes whose
union has zero area is 0, never NaN.

Box-tracking score (the 4DS object-tracking readout: the first-frame box is
given as the query, boxes in the other frames are predicted): for each track
the mean IoU over the frames *after the first* in which the object is visible;
then the mean over the tracks of a video that have at least one such frame;
then the mean over videos that have at least one such track.
"""

import numpy as np
from keras import ops as keras_ops

from keras4ds.metrics import _ops
from keras4ds.metrics._base import SumMetric, per_video_weight, weighted_sum


def _iou_kernel(ops, pred, gt):
    def extent(box, low, high):
        return ops.maximum(box[..., high] - box[..., low], 0.0)

    inter_h = ops.maximum(ops.minimum(pred[..., 2], gt[..., 2]) - ops.maximum(pred[..., 0], gt[..., 0]), 0.0)
    inter_w = ops.maximum(ops.minimum(pred[..., 3], gt[..., 3]) - ops.maximum(pred[..., 1], gt[..., 1]), 0.0)
    inter = inter_h * inter_w
    union = extent(pred, 0, 2) * extent(pred, 1, 3) + extent(gt, 0, 2) * extent(gt, 1, 3) - inter
    return ops.where(union > 0, inter / ops.where(union > 0, union, 1.0), 0.0)


def _tracking_kernel(ops, pred, gt, visible):
    """Per-video score `(B,)` (NaN when no track is scored) for `(B, N, T, 4)` boxes."""
    iou = _iou_kernel(ops, pred[:, :, 1:], gt[:, :, 1:])
    scored = visible[:, :, 1:]
    frames = _ops.count(ops, scored, axis=-1)
    per_track = _ops.div_or_nan(ops, ops.sum(ops.where(scored, iou, 0.0), axis=-1), frames)
    tracked = frames > 0
    return _ops.div_or_nan(
        ops, ops.sum(ops.where(tracked, per_track, 0.0), axis=-1), _ops.count(ops, tracked, axis=-1)
    )


def _check_shapes(pred, gt, visible=None, names=("pred", "gt", "visible")):
    """Shape checks of `(B, N, T, 4)` box tracks and their `(B, N, T)` visibility, if given."""
    _ops.check_same_shape(**{names[0]: pred, names[1]: gt})
    _ops.check_shape(names[0], pred, ("B", "N", "T", 4), " as [ymin, xmin, ymax, xmax]")
    if visible is not None:
        _ops.check_same_shape(**{names[2]: visible, f"{names[0]}[..., 0]": pred[..., 0]})


def box_iou(pred, gt):
    """IoU of boxes `[..., 4]` as `[ymin, xmin, ymax, xmax]`, elementwise (broadcasting).

    Empty or inverted boxes have area 0; IoU is 0 when the union is empty.
    Returns a float array of the broadcast shape without the last axis (empty for
    no boxes, as elementwise numpy functions are).  Raises ValueError, naming
    `pred` or `gt`, on a last axis other than 4, shapes that do not broadcast, or
    NaN or infinite coordinates.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    for name, boxes in (("pred", pred), ("gt", gt)):
        if boxes.shape[-1:] != (4,):
            raise ValueError(
                f"`{name}` must be (..., 4) boxes as [ymin, xmin, ymax, xmax]; got shape {boxes.shape}."
            )
    try:
        np.broadcast_shapes(pred.shape, gt.shape)
    except ValueError:
        raise ValueError(f"`pred` {pred.shape} and `gt` {gt.shape} do not broadcast together.") from None
    _ops.check_finite("pred", pred)
    _ops.check_finite("gt", gt)
    return _iou_kernel(_ops.NUMPY, pred, gt)


def box_tracking_iou(pred, gt, visible=None, reduction="mean"):
    """Box-tracking score: mean IoU over frames after the first, per track, then per video.

    Args:
      pred, gt: `(B, N, T, 4)` boxes, `[ymin, xmin, ymax, xmax]`, for N tracks of
        each of B videos (add N = 1 for one object per video).
      visible: optional `(B, N, T)` bool, True where the object is visible in the
        frame (default all frames); padded tracks are all False.
      reduction: 'mean' (float: mean over videos with a scored track) or 'none'
        (`(B,)` per-video scores, NaN for a video with no scored track).

    Raises:
      ValueError, naming the input: mismatched shapes or not `(B, N, T, 4)`, an
        empty input (B, N or T = 0), NaN or inf in `pred`, or in `gt` at a visible
        frame (true boxes of frames where the object is not visible may be NaN).
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    visible = None if visible is None else np.asarray(visible).astype(bool)
    _check_shapes(pred, gt, visible)
    visible = np.ones(pred.shape[:-1], bool) if visible is None else visible
    _ops.check_finite("pred", pred)
    _ops.check_finite("gt", gt, where=visible[..., None], at="visible frames")
    per_video = _tracking_kernel(_ops.NUMPY, pred, gt, visible)
    if reduction == "none":
        return per_video
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'none'; got {reduction!r}.")
    scored = ~np.isnan(per_video)
    if not scored.any():
        raise ValueError("No box to score: no track is visible in any frame after the first.")
    return float(per_video[scored].mean())


class BoxTrackingIoU(SumMetric):
    """Stateful box-tracking score, equal to `box_tracking_iou` over all videos seen.

    `update_state(y_true, y_pred, sample_weight=None)`: `y_true` is the true
    boxes `(B, N, T, 4)` or a dict with `boxes` and optional `visible`
    `(B, N, T)`; `y_pred` the predicted boxes (or a dict with `boxes`);
    `sample_weight` an optional `(B,)` weight per video.  State: the weighted sum
    of per-video scores and the summed weight of videos with a scored track.
    Shapes are checked as in `box_tracking_iou` (static shapes, so also in a
    compiled step); values are not (a NaN box gives NaN).
    """

    def __init__(self, name="box_tracking_iou", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_sum("total")
        self.num_videos = self.add_sum("num_videos")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras_ops
        visible, names = None, ("y_pred", "y_true", "visible")
        if isinstance(y_true, dict):
            visible = y_true.get("visible")
            y_true = y_true["boxes"]
            names = ("y_pred", "y_true['boxes']", "y_true['visible']")
        if isinstance(y_pred, dict):
            y_pred = y_pred["boxes"]
        y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
        visible = None if visible is None else ops.convert_to_tensor(visible)
        _check_shapes(y_pred, y_true, visible, names)
        gt, pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
        visible = ops.ones_like(gt[..., 0], dtype="bool") if visible is None else ops.not_equal(visible, 0)
        per_video = _tracking_kernel(ops, pred, gt, visible)
        scored = ops.logical_not(ops.isnan(per_video))
        weight = ops.where(scored, per_video_weight(sample_weight, per_video), 0.0)
        self.total.assign_add(weighted_sum(per_video, weight))
        self.num_videos.assign_add(ops.sum(weight))

    def result(self):
        return self.total / self.num_videos
