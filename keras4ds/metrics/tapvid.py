"""TAP-Vid point-tracking metrics, as google-deepmind/tapnet computes them.

Definition (tapnet `evaluation_datasets.compute_tapvid_metrics`):

* Inputs are in *raster* coordinates of a 256x256 image, spanning `[0, 256]`:
  tapnet's readers multiply the stored `[0, 1]` coordinates by the image size
  (see `to_tapvid_raster`).
* The query frame of each track is `round(t)` (numpy rounding, halves to even).
  Evaluated frames: `query_mode='strided'` - every frame except the query frame;
  `query_mode='first'` - only the frames *after* the query frame (the points
  before it are known to be occluded in that protocol).  The query frame itself
  is never scored.
* A prediction is *within* `d` pixels when `|pred - gt|^2 < d^2` (strict), for
  `d` in 1, 2, 4, 8, 16.
* Per video, summing over all tracks and evaluated frames together:
  - `occlusion_accuracy` = #(pred_occluded == gt_occluded) / #evaluated;
  - `pts_within_d` = #(within d and gt visible) / #(gt visible);
  - `jaccard_d` = TP / (#gt visible + FP), TP = within d, gt visible and predicted
    visible; FP = predicted visible and (gt occluded or not within d);
  - `average_pts_within_thresh`, `average_jaccard`: plain means over the five d.
* A ratio whose denominator is zero (no evaluated frame, no visible point) is
  NaN, as numpy's 0/0 is in tapnet, and NaN carries into the averages.  The
  benchmark number is the plain mean of the per-video values over all videos.
"""

import numpy as np
from keras import ops as keras_ops

from keras4ds.metrics import _ops
from keras4ds.metrics._base import SumMetric, per_video_weight, weighted_sum

TAPVID_THRESHOLDS = (1, 2, 4, 8, 16)
TAPVID_KEYS = (
    ("occlusion_accuracy",)
    + tuple(f"pts_within_{d}" for d in TAPVID_THRESHOLDS)
    + tuple(f"jaccard_{d}" for d in TAPVID_THRESHOLDS)
    + ("average_pts_within_thresh", "average_jaccard")
)
QUERY_MODES = ("first", "strided")
_ARGS = ("query_points", "gt_occluded", "gt_tracks", "pred_occluded", "pred_tracks")


def _check_query_mode(query_mode):
    if query_mode not in QUERY_MODES:
        raise ValueError(f"Unknown query mode {query_mode!r}; expected one of {QUERY_MODES}.")


def _check_shapes(arrays, names=_ARGS):
    """Shape checks of the five inputs, named `names` in messages (static shapes)."""
    query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks = arrays
    query, gt_occ, gt, pred_occ, pred = names
    _ops.check_shape(query, query_points, ("B", "N", 3), " as (t, y, x)")
    _ops.check_shape(gt, gt_tracks, ("B", "N", "T", 2), " as (x, y)")
    _ops.check_same_shape(**{gt: gt_tracks, pred: pred_tracks})
    _ops.check_same_shape(
        **{gt_occ: gt_occluded, pred_occ: pred_occluded, f"{gt}[..., 0]": gt_tracks[..., 0]}
    )
    _ops.check_same_shape(
        **{f"{query}[..., 0]": query_points[..., 0], f"{gt_occ}[..., 0]": gt_occluded[..., 0]}
    )


def _check_query_points(query_points, num_frames):
    """Query frames must round into `[0, T)` and `y, x` lie in the 256x256 raster."""
    query_frame = np.round(query_points[..., 0])
    if ((query_frame < 0) | (query_frame >= num_frames)).any():
        raise ValueError(
            f"Query frames (`query_points[..., 0]`) must round into [0, {num_frames}); "
            f"got {query_frame.min()}..{query_frame.max()}."
        )
    yx = query_points[..., 1:]
    if ((yx < 0) | (yx > 256)).any():
        raise ValueError(
            "`query_points` y, x must lie in the 256x256 raster [0, 256] (see "
            f"`to_tapvid_raster`); got y in {yx[..., 0].min()}..{yx[..., 0].max()}, "
            f"x in {yx[..., 1].min()}..{yx[..., 1].max()}."
        )


def _tapvid_kernel(ops, query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks, query_mode):
    """Per-video TAP-Vid metrics `{key: (B,)}`; occlusion arrays must be boolean."""
    num_frames = gt_tracks.shape[2]
    query_frame = ops.cast(ops.round(query_points[..., 0]), "int32")[..., None]
    frames = ops.arange(num_frames, dtype="int32")
    if query_mode == "first":
        evaluated = frames > query_frame
    else:
        evaluated = ops.not_equal(frames, query_frame)

    def per_video(mask):
        return _ops.count(ops, ops.logical_and(mask, evaluated), axis=(1, 2))

    visible = ops.logical_not(gt_occluded)
    pred_visible = ops.logical_not(pred_occluded)
    num_visible = per_video(visible)
    metrics = {
        "occlusion_accuracy": _ops.div_or_nan(
            ops, per_video(ops.equal(pred_occluded, gt_occluded)), per_video(evaluated)
        )
    }
    sq_dist = ops.sum(ops.square(pred_tracks - gt_tracks), axis=-1)
    for d in TAPVID_THRESHOLDS:
        within = sq_dist < d * d
        correct = ops.logical_and(within, visible)
        true_pos = per_video(ops.logical_and(correct, pred_visible))
        false_pos = per_video(ops.logical_and(pred_visible, ops.logical_not(correct)))
        metrics[f"pts_within_{d}"] = _ops.div_or_nan(ops, per_video(correct), num_visible)
        metrics[f"jaccard_{d}"] = _ops.div_or_nan(ops, true_pos, num_visible + false_pos)
    for prefix, key in (("pts_within", "average_pts_within_thresh"), ("jaccard", "average_jaccard")):
        metrics[key] = sum(metrics[f"{prefix}_{d}"] for d in TAPVID_THRESHOLDS) / len(
            TAPVID_THRESHOLDS
        )
    return metrics


def tapvid_metrics(query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks, query_mode):
    """TAP-Vid metrics per video, exactly as tapnet's `compute_tapvid_metrics`.

    Args:
      query_points: `(B, N, 3)` query points as `(t, y, x)`; `t` is a frame index
        (rounded to the nearest integer), `y, x` raster pixels in `[0, 256]` (not used
        by the metrics, but checked: values outside are another convention, e.g. pixels
        of a larger frame or `[-1, 1]` coordinates).
      gt_occluded: `(B, N, T)` bool, True where the point is occluded.
      gt_tracks: `(B, N, T, 2)` true positions as `(x, y)` raster pixels at 256x256.
      pred_occluded: `(B, N, T)` predicted occlusion (nonzero = occluded).
      pred_tracks: `(B, N, T, 2)` predicted positions, like `gt_tracks`.
      query_mode: 'first' (score only the frames after the query frame) or
        'strided' (score every frame but the query frame).

    Returns:
      A dict of float arrays of shape `(B,)`, one value per video:
      `occlusion_accuracy`, `pts_within_{1,2,4,8,16}`, `jaccard_{1,2,4,8,16}`,
      `average_pts_within_thresh` (<delta^x_avg) and `average_jaccard` (AJ).  They
      are fractions in [0, 1] (papers print them times 100) and NaN for a video
      with nothing to score (see the module docstring).  The benchmark value is
      the plain mean over videos.  Positions are compared in the precision they
      are given in (float32 stays float32, like tapnet).

    Raises:
      ValueError, naming the input: unknown `query_mode`, wrong rank or shapes that
        do not match, no video, track or frame (B, N or T = 0; with no track tapnet
        answers NaN for every video, from 0/0), NaN or inf in `query_points`, `pred_tracks`
        or in `gt_tracks` at a visible point (true positions of occluded points may
        be NaN), a query frame outside `[0, T)` (tapnet would index another frame or
        fail), or a query `y, x` outside the raster `[0, 256]`.
    """
    _check_query_mode(query_mode)
    query_points = _ops.as_float(query_points)
    gt_tracks, pred_tracks = _ops.as_float(gt_tracks), _ops.as_float(pred_tracks)
    gt_occluded = np.asarray(gt_occluded).astype(bool)
    pred_occluded = np.asarray(pred_occluded).astype(bool)
    _check_shapes((query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks))
    _ops.check_finite("query_points", query_points)
    _ops.check_finite("pred_tracks", pred_tracks)
    _ops.check_finite("gt_tracks", gt_tracks, where=~gt_occluded[..., None], at="visible points")
    _check_query_points(query_points, gt_tracks.shape[2])
    return _tapvid_kernel(
        _ops.NUMPY, query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks, query_mode
    )


def _check_raster_size(name, size):
    """A `(height, width)` raster size must be two positive numbers."""
    if np.shape(size) != (2,) or not np.all(np.asarray(size, np.float64) > 0):
        raise ValueError(f"`{name}` must be (height, width), both > 0; got {size!r}.")


def to_tapvid_raster(coords, from_size, coordinate_format="xy", to_size=(256, 256)):
    """Convert point coordinates to the TAP-Vid raster convention (or between rasters).

    Raster coordinates put the image's top-left corner at 0 and its bottom-right
    corner at `(width, height)`, so converting only scales (tapnet's
    `convert_grid_coordinates` and its readers multiply by the size; no half-pixel
    shift).

    Args:
      coords: `(..., 2)` as `(x, y)` when `coordinate_format='xy'`, or `(..., 3)`
        as `(t, y, x)` when `'tyx'` (the frame index `t` is kept as is).
      from_size: what `coords` are relative to: `(height, width)` of a pixel
        raster, `'unit'` for normalised `[0, 1]` coordinates (TAP-Vid's stored
        format), or `'signed'` for `[-1, 1]` coordinates (-1 = top/left edge).
      coordinate_format: `'xy'` or `'tyx'`.
      to_size: `(height, width)` of the target raster; TAP-Vid metrics use 256x256.

    Returns:
      The converted coordinates, same shape; numpy in, numpy out, and a backend
      tensor in gives a backend tensor out.

    Raises:
      ValueError, naming the argument: a last axis of `coords` that does not fit
        `coordinate_format`, or a size that is not two positive numbers.
    """
    if coordinate_format not in ("xy", "tyx"):
        raise ValueError(f"coordinate_format must be 'xy' or 'tyx'; got {coordinate_format!r}.")
    channels = len(coordinate_format)
    if _ops.static_shape(coords)[-1:] not in ((channels,), (None,)):
        raise ValueError(
            f"`coords` must be (..., {channels}) as ({', '.join(coordinate_format)}) for "
            f"coordinate_format={coordinate_format!r}; got shape {_ops.static_shape(coords)}."
        )
    _check_raster_size("to_size", to_size)
    height, width = to_size
    if from_size == "unit":
        offset, (from_h, from_w) = 0.0, (1.0, 1.0)
    elif from_size == "signed":
        offset, (from_h, from_w) = 1.0, (2.0, 2.0)
    elif isinstance(from_size, str):
        raise ValueError(f"from_size must be (height, width), 'unit' or 'signed'; got {from_size!r}.")
    else:
        _check_raster_size("from_size", from_size)
        offset, (from_h, from_w) = 0.0, from_size
    sx, sy = width / from_w, height / from_h
    if coordinate_format == "xy":
        scale, shift = [sx, sy], [offset * sx, offset * sy]
    else:
        scale, shift = [1.0, sy, sx], [0.0, offset * sy, offset * sx]
    if isinstance(coords, (np.ndarray, list, tuple)):
        coords = _ops.as_float(coords)
        return coords * np.asarray(scale, coords.dtype) + np.asarray(shift, coords.dtype)
    dtype = coords.dtype
    return coords * keras_ops.convert_to_tensor(scale, dtype) + keras_ops.convert_to_tensor(shift, dtype)


class TapVidMetrics(SumMetric):
    """Stateful TAP-Vid metrics: the mean over videos of `tapvid_metrics`.

    `update_state(y_true, y_pred, sample_weight=None)`:
      y_true: a dict with `query_points` `(B, N, 3)` (t, y, x), `occluded`
        `(B, N, T)` and `tracks` `(B, N, T, 2)` (x, y) in 256x256 raster pixels
        (`target_points` is accepted for `tracks`, as tapnet names it).
      y_pred: a dict with `occluded` `(B, N, T)` (nonzero = occluded; threshold
        probabilities yourself) and `tracks` `(B, N, T, 2)`.
      sample_weight: optional `(B,)` weight per video; 0 drops a (padded) video.

    The state is the weighted sum of each per-video metric and the sum of the
    weights, so `result()` is exactly the mean of `tapvid_metrics` over all videos
    seen, however they were batched or split over replicas.  As in tapnet, one
    NaN video (nothing to score) makes the mean NaN.  Shapes are checked as in
    `tapvid_metrics` (static shapes, so also in a compiled step); values are not:
    NaN, query frames outside `[0, T)` or query points outside the raster cannot be
    checked inside a compiled step, so keep them valid.

    `result()` returns a dict with the keys of `tapvid_metrics`.
    """

    def __init__(self, query_mode="first", name="tapvid", **kwargs):
        super().__init__(name=name, **kwargs)
        _check_query_mode(query_mode)
        self.query_mode = query_mode
        self.totals = self.add_sum("totals", (len(TAPVID_KEYS),))
        self.num_videos = self.add_sum("num_videos")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras_ops
        track_key = "tracks" if "tracks" in y_true else "target_points"
        arrays = (y_true["query_points"], y_true["occluded"], y_true[track_key],
                  y_pred["occluded"], y_pred["tracks"])
        arrays = tuple(ops.convert_to_tensor(x) for x in arrays)
        _check_shapes(arrays, names=(
            "y_true['query_points']", "y_true['occluded']", f"y_true['{track_key}']",
            "y_pred['occluded']", "y_pred['tracks']",
        ))
        query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks = arrays
        query_points = ops.cast(query_points, "float32")
        metrics = _tapvid_kernel(
            ops,
            query_points,
            ops.not_equal(gt_occluded, 0),
            ops.cast(gt_tracks, "float32"),
            ops.not_equal(pred_occluded, 0),
            ops.cast(pred_tracks, "float32"),
            self.query_mode,
        )
        weight = per_video_weight(sample_weight, query_points[:, 0, 0])
        values = ops.stack([metrics[k] for k in TAPVID_KEYS], axis=-1)
        self.totals.assign_add(weighted_sum(values, weight))
        self.num_videos.assign_add(ops.sum(weight))

    def result(self):
        means = self.totals / self.num_videos
        return {key: means[i] for i, key in enumerate(TAPVID_KEYS)}

    def get_config(self):
        return {**super().get_config(), "query_mode": self.query_mode}
