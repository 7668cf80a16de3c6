"""Depth metrics: AbsRel, RMSE and delta < 1.25^k, with optional alignment.

Definitions, on the valid pixels of a group (see `average`), `d` predicted
depth after alignment, `g` true depth:

* `abs_rel` = mean(|d - g| / g);
* `rmse`    = sqrt(mean((d - g)^2)), in the units of `g`;
* `delta{k}` = mean(max(d / g, g / d) < 1.25^k) for k = 1, 2, 3; a predicted
  depth <= 0 counts as outside every threshold.

Averaging (the common convention of monodepth2, Marigold and Depth Anything,
which compute the metrics per image and then average over images): with the
default `average='frame'` each metric is computed on the valid pixels of each
frame and the per-frame values are averaged with equal weight per frame; so
`rmse` is the mean of per-frame RMSEs.  `average='video'` pools the pixels of
each video (all its frames) and averages per-video values; `average='pixel'`
pools every valid pixel of the whole input (of every batch, in the Keras
metric).  Frames (or videos) with no valid pixel are left out of the average.

Valid pixels: `g` finite and `> 0` (zero marks missing depth in ScanNet, NYU,
KITTI), inside `(min_depth, max_depth)` when given, and `valid` when given.

Alignment, fitted on the valid pixels of each frame (`align_per='frame'`) or
of each video (`'video'`), in depth (`space='depth'`) or disparity = 1/depth
(`space='disparity'`) space:

* `'none'`: the prediction is used as is;
* `'median'`: multiply by median(g) / median(pred) (monodepth2's median scaling);
* `'scale_shift'`: least-squares `s * pred + t` (MiDaS / Marigold / Depth
  Anything affine-invariant evaluation).

In disparity space the ground truth becomes `1 / g`, the prediction `1 / pred`
(or `pred` itself with `pred_is_disparity=True`, for models that output
disparity), the fit is made there and the result is turned back into depth;
with `max_depth` the aligned disparity is first floored at `1 / max_depth`
(MiDaS' depth cap).  After alignment, the depth is clipped to
`[min_depth, max_depth]` for the bounds that are given (monodepth2, Marigold).
"""

import numpy as np
from keras import ops as keras_ops

from keras4ds.metrics import _ops
from keras4ds.metrics._base import SumMetric

DEPTH_KEYS = ("abs_rel", "rmse", "delta1", "delta2", "delta3")
ALIGNMENTS = ("none", "median", "scale_shift")
_GROUPS = ("frame", "video")


def _check_options(alignment, align_per, average, space):
    for value, allowed, what in (
        (alignment, ALIGNMENTS, "alignment"),
        (align_per, _GROUPS, "align_per"),
        (average, _GROUPS + ("pixel",), "average"),
        (space, ("depth", "disparity"), "space"),
    ):
        if value not in allowed:
            raise ValueError(f"{what} must be one of {allowed}; got {value!r}.")


def _squeeze_channel(x):
    """Drop a trailing channel axis of size 1: `(..., H, W, 1)` -> `(..., H, W)`."""
    shape = x.shape
    return x[..., 0] if len(shape) >= 3 and shape[-1] == 1 else x


def _check_shapes(pred, gt, names=("pred", "gt")):
    """Shape checks of predicted and true depth maps (static shapes).

    A trailing channel axis of size 1 on either is ignored, as the metrics drop it.
    """
    shapes = [_ops.static_shape(_squeeze_channel(x)) for x in (pred, gt)]
    if not _ops.shapes_agree(*shapes):
        raise ValueError(
            f"Shape mismatch: {names[0]}{_ops.static_shape(pred)}, {names[1]}"
            f"{_ops.static_shape(gt)}; they must be equal (but for a channel axis of size 1)."
        )
    if len(shapes[0]) < 2:
        raise ValueError(
            f"`{names[0]}` must be depth maps (H, W), (N, H, W) or (B, T, H, W), with an "
            f"optional channel axis of size 1; got shape {_ops.static_shape(pred)}."
        )
    _ops.check_nonempty(names[0], pred)


def _check_mask(sample_weight, y_true):
    """The Keras metric's mask must broadcast to `y_true` (static shapes)."""
    shape, target = _ops.static_shape(sample_weight), _ops.static_shape(y_true)
    pairs = zip(shape[::-1], target[::-1])
    if len(shape) > len(target) or not all(a in (1, None) or b is None or a == b for a, b in pairs):
        raise ValueError(
            f"`sample_weight` (the valid-pixel mask) of shape {shape} does not broadcast to "
            f"`y_true` of shape {target}."
        )


def _videos_frames_pixels(shape):
    """`(V, F, P)` grouping of a `(..., H, W)` shape (V may be None in a graph)."""
    shape = tuple(shape)
    pixels = shape[-1] * shape[-2]
    if len(shape) == 2:
        return 1, 1, pixels
    if len(shape) == 3:
        return shape[0], 1, pixels
    return shape[0], int(np.prod(shape[1:-2])), pixels


def _masked_median(ops, x, mask):
    """Median over the last axis of the entries where `mask`; NaN-free garbage if none."""
    n = ops.sum(ops.cast(mask, "int32"), axis=-1, keepdims=True)
    ordered = ops.sort(ops.where(mask, x, float("inf")), axis=-1)
    lower = ops.take_along_axis(ordered, ops.maximum((n - 1) // 2, 0), axis=-1)
    upper = ops.take_along_axis(ordered, ops.maximum(n // 2, 0), axis=-1)
    return ops.where(n > 0, (lower + upper) / 2, 1.0)


def _fit(ops, pred, gt, mask, alignment):
    """Align `pred` to `gt` per row of `(G, n)` arrays, using entries where `mask`."""
    if alignment == "median":
        scale = ops.divide_no_nan(_masked_median(ops, gt, mask), _masked_median(ops, pred, mask))
        return scale * pred
    # Least squares on the centred values: s = cov(p, g) / var(p), t = mean(g) - s mean(p).
    # A constant prediction (var(p) = 0) gets s = 0, t = mean(g): the same fitted
    # values as the minimum-norm least-squares solution.
    def masked_sum(x):
        return ops.sum(ops.where(mask, x, 0.0), axis=-1, keepdims=True)

    n = ops.maximum(masked_sum(ops.ones_like(pred)), 1.0)
    mean_p, mean_g = masked_sum(pred) / n, masked_sum(gt) / n
    var_p = masked_sum(ops.square(pred - mean_p))
    cov = masked_sum((pred - mean_p) * (gt - mean_g))
    scale = ops.divide_no_nan(cov, var_p)
    return scale * pred + (mean_g - scale * mean_p)


def _depth_kernel(
    ops, pred, gt, valid, alignment, align_per, average, space, pred_is_disparity, min_depth, max_depth
):
    """Per-group sums `(G, 5)` and valid-pixel counts `(G,)`.

    The five sums are sum(|d-g|/g), sum((d-g)^2), and the three delta counts;
    groups are frames (`average='frame'` or `'pixel'`) or videos.
    """
    _, frames, pixels = _videos_frames_pixels(pred.shape)
    pred = ops.reshape(pred, (-1, frames, pixels))
    gt = ops.reshape(gt, (-1, frames, pixels))
    mask = ops.logical_and(ops.isfinite(gt), gt > 0)
    if valid is not None:
        mask = ops.logical_and(mask, ops.reshape(valid, (-1, frames, pixels)))
    if min_depth is not None:
        mask = ops.logical_and(mask, gt > min_depth)
    if max_depth is not None:
        mask = ops.logical_and(mask, gt < max_depth)
    gt = ops.where(mask, gt, 1.0)  # keeps NaN/inf/0 of invalid pixels out of every sum

    if alignment != "none" or space == "disparity" or pred_is_disparity:
        to_disparity = space == "disparity"
        target = 1.0 / gt if to_disparity else gt
        source = pred if pred_is_disparity == to_disparity else 1.0 / pred
        if alignment != "none":
            rows = (-1, frames * pixels) if align_per == "video" else (-1, pixels)
            fitted = _fit(
                ops,
                ops.reshape(source, rows),
                ops.reshape(target, rows),
                ops.reshape(mask, rows),
                alignment,
            )
            source = ops.reshape(fitted, (-1, frames, pixels))
        if to_disparity:
            if max_depth is not None:
                source = ops.maximum(source, 1.0 / max_depth)
            pred = 1.0 / source
        else:
            pred = source
    if min_depth is not None:
        pred = ops.maximum(pred, min_depth)
    if max_depth is not None:
        pred = ops.minimum(pred, max_depth)

    error = pred - gt
    safe_pred = ops.where(pred > 0, pred, 1.0)
    ratio = ops.where(pred > 0, ops.maximum(pred / gt, gt / safe_pred), float("inf"))
    per_pixel = [ops.abs(error) / gt, error * error] + [
        ops.where(ratio < 1.25**k, 1.0, 0.0) for k in (1, 2, 3)
    ]
    axis = (1, 2) if average == "video" else 2
    sums = ops.stack(
        [ops.sum(ops.where(mask, term, 0.0), axis=axis) for term in per_pixel], axis=-1
    )
    counts = _ops.count(ops, mask, axis=axis)
    return ops.reshape(sums, (-1, 5)), ops.reshape(counts, (-1,))


def _group_metrics(ops, sums, counts):
    """Metrics per group `(G, 5)` from its sums; NaN rows for empty groups."""
    means = _ops.div_or_nan(ops, sums, counts[:, None])
    return ops.concatenate([means[:, :1], ops.sqrt(means[:, 1:2]), means[:, 2:]], axis=-1)


def depth_metrics(
    pred,
    gt,
    valid=None,
    alignment="none",
    *,
    align_per="frame",
    average="frame",
    space="depth",
    pred_is_disparity=False,
    min_depth=None,
    max_depth=None,
    reduction="mean",
):
    """Depth metrics AbsRel, RMSE, delta1/2/3 (see the module docstring for the exact rules).

    Args:
      pred: predicted depth (or disparity with `pred_is_disparity=True`), shape
        `(H, W)` (one image), `(N, H, W)` (N images), `(B, T, H, W)` (B videos),
        any of these with a trailing channel axis of size 1.
      gt: true depth, same shape (a channel axis on only one of them is ignored);
        pixels that are 0, negative, NaN or inf are invalid.
      valid: optional boolean mask of the same shape (True = use the pixel).
      alignment: 'none', 'median' or 'scale_shift'.
      align_per: fit the alignment per 'frame' or per 'video' (the first axis
        of a 4-D input; for `(N, H, W)` each image is its own video).
      average: 'frame' (default: metrics per frame, then the mean over frames),
        'video' (pixels pooled per video, then the mean over videos) or 'pixel'
        (all valid pixels pooled).
      space: 'depth' or 'disparity', the space the alignment is fitted in.
      pred_is_disparity: `pred` holds disparity (1/depth) rather than depth.
      min_depth, max_depth: optional bounds; pixels with gt outside
        `(min_depth, max_depth)` are invalid and aligned predictions are clipped.
      reduction: 'mean' (floats) or 'none' (arrays with one value per frame or
        video, NaN where it has no valid pixel; not for `average='pixel'`).

    Returns:
      dict with `abs_rel`, `rmse`, `delta1`, `delta2`, `delta3`.

    Raises:
      ValueError: mismatched shapes, fewer than 2 axes, an empty input (an axis of
        size 0), a non-finite prediction, a non-positive prediction that must be
        inverted (disparity conversions), no valid pixel at all, or an unknown
        option.
    """
    _check_options(alignment, align_per, average, space)
    if reduction not in ("mean", "none") or (reduction == "none" and average == "pixel"):
        raise ValueError("reduction must be 'mean', or 'none' with average 'frame' or 'video'.")
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    _check_shapes(pred, gt)
    if valid is not None:
        valid = np.asarray(valid).astype(bool)
        _ops.check_same_shape(pred=pred, valid=valid)
        valid = _squeeze_channel(valid)
    pred, gt = _squeeze_channel(pred), _squeeze_channel(gt)
    _ops.check_finite("pred", pred)
    inverts_pred = pred_is_disparity != (space == "disparity") and (
        alignment != "none" or space == "disparity" or pred_is_disparity
    )
    if inverts_pred and (pred <= 0).any():
        raise ValueError(
            "pred has values <= 0 but must be inverted (depth <-> disparity) for "
            f"space={space!r}, pred_is_disparity={pred_is_disparity}."
        )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sums, counts = _depth_kernel(
            _ops.NUMPY, pred, gt, valid, alignment, align_per, average, space,
            pred_is_disparity, min_depth, max_depth,
        )
    if not counts.any():
        raise ValueError("No valid pixel: every gt is 0, negative, non-finite, masked or out of range.")
    if average == "pixel":
        per_group = _group_metrics(np, sums.sum(0, keepdims=True), counts.sum(0, keepdims=True))
    else:
        per_group = _group_metrics(np, sums, counts)
    if reduction == "none":
        leading = pred.shape[:-2] if average == "frame" else pred.shape[:1]
        return {key: per_group[:, i].reshape(leading) for i, key in enumerate(DEPTH_KEYS)}
    scored = per_group[counts > 0] if average != "pixel" else per_group
    return {key: float(scored[:, i].mean()) for i, key in enumerate(DEPTH_KEYS)}


class DepthMetrics(SumMetric):
    """Stateful depth metrics, equal to `depth_metrics` over everything seen.

    Takes the options of `depth_metrics` (alignment, align_per, average, space,
    pred_is_disparity, min_depth, max_depth).  `update_state(y_true, y_pred,
    sample_weight=None)`: `y_true` true depth, `y_pred` predicted depth, shapes
    as in `depth_metrics`; `sample_weight`, if given, is the valid-pixel mask
    (nonzero = valid), broadcastable to `y_true`.

    State: for `average='frame'`/`'video'` the sums over frames (videos) of each
    per-frame (per-video) metric and the number of frames (videos) with a valid
    pixel; for `'pixel'` the per-pixel sums and the pixel count.  So `result()`
    equals `depth_metrics` on all the data at once, whatever the batching.
    Frames without a valid pixel are skipped.  Shapes are checked as in
    `depth_metrics` (static shapes, so also in a compiled step; `sample_weight`
    must broadcast to `y_true`); values are not (a NaN prediction gives NaN).

    No data: where `depth_metrics` raises "No valid pixel", `result()` gives NaN
    for every metric, explicitly, as long as no valid pixel has been seen since
    the last reset (tapnet's convention for a ratio with nothing to count; an
    error cannot be raised from a compiled update).
    """

    def __init__(
        self,
        alignment="none",
        align_per="frame",
        average="frame",
        space="depth",
        pred_is_disparity=False,
        min_depth=None,
        max_depth=None,
        name="depth",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        _check_options(alignment, align_per, average, space)
        self.options = dict(
            alignment=alignment, align_per=align_per, average=average, space=space,
            pred_is_disparity=pred_is_disparity, min_depth=min_depth, max_depth=max_depth,
        )
        self.totals = self.add_sum("totals", (len(DEPTH_KEYS),))
        self.count = self.add_sum("count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras_ops
        y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
        _check_shapes(y_pred, y_true, names=("y_pred", "y_true"))
        if sample_weight is not None:
            sample_weight = ops.convert_to_tensor(sample_weight)
            _check_mask(sample_weight, y_true)
        y_true = ops.cast(y_true, "float32")
        gt, pred = _squeeze_channel(y_true), _squeeze_channel(ops.cast(y_pred, "float32"))
        valid = None
        if sample_weight is not None:
            weight = ops.cast(sample_weight, "float32") * ops.ones_like(y_true)
            valid = _squeeze_channel(ops.not_equal(weight, 0))
        sums, counts = _depth_kernel(ops, pred, gt, valid, **self.options)
        if self.options["average"] == "pixel":
            self.totals.assign_add(ops.sum(sums, axis=0))
            self.count.assign_add(ops.sum(counts))
            return
        per_group = _group_metrics(ops, sums, counts)
        scored = counts > 0
        self.totals.assign_add(ops.sum(ops.where(scored[:, None], per_group, 0.0), axis=0))
        self.count.assign_add(_ops.count(ops, scored, axis=0))

    def result(self):
        totals, count = (keras_ops.convert_to_tensor(v) for v in (self.totals, self.count))
        means = _ops.div_or_nan(keras_ops, totals, count)
        if self.options["average"] == "pixel":
            means = keras_ops.concatenate([means[:1], keras_ops.sqrt(means[1:2]), means[2:]])
        return {key: means[i] for i, key in enumerate(DEPTH_KEYS)}

    def get_config(self):
        return {**super().get_config(), **self.options}
