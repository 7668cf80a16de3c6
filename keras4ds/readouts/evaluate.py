"""Task metrics of probe predictions, and the trivial baselines they must beat."""
import warnings

import numpy as np

from keras4ds import metrics
from keras4ds.readouts.batches import check_task


def baseline_predictions(task, inputs, targets, train_targets):
    """The trivial answer for each eval example: mean train depth everywhere, identity
    pose, static points (visible everywhere), the first-frame box, the majority class."""
    check_task(task)
    if task == "depth":
        depth = train_targets["depth"]
        mean = float(depth[np.isfinite(depth) & (depth > 0)].mean())
        return np.full_like(targets["depth"], mean)
    if task == "pose":
        return {"pose": np.broadcast_to(np.eye(4, dtype=np.float32), targets["pose"].shape).copy()}
    if task == "points":
        q = inputs["query_points"]
        start = np.stack([q[..., 2], q[..., 1]], axis=-1)[:, :, None]
        tracks = np.broadcast_to(start, targets["tracks"].shape).copy()
        return {"tracks": tracks, "visible": np.ones(tracks.shape[:-1], bool)}
    if task == "boxes":
        return np.broadcast_to(inputs["query_boxes"][:, :, None], targets["boxes"].shape).copy()
    counts = np.bincount(train_targets["label"])
    scores = np.zeros((len(targets["label"]), max(counts.size, int(targets["label"].max()) + 1)))
    scores[:, counts.argmax()] = 1.0
    return scores


def task_metrics(task, inputs, targets, predictions):
    """The task's metrics as a dict of floats.

    depth: `depth_metrics` (no alignment, and `median_*` with median scaling);
    pose: `camera_pose_metrics` (camera-to-first-camera poses); points: `tapvid_metrics`
    in 'first' query mode on the 256x256 raster, the plain mean over videos as tapnet's
    evaluation and `keras4ds.metrics.TapVidMetrics` take it (a video with nothing to
    score is NaN and makes the mean NaN); boxes: `box_tracking_iou` (objects visible in
    frame 0); classify: "top1" and "top5" of `predictions` `(B, C)` (logits or
    probabilities), top5 counting the best min(5, C) classes.
    """
    check_task(task)
    if task == "depth":
        pred = np.asarray(predictions, np.float32)
        result = metrics.depth_metrics(pred, targets["depth"])
        median = metrics.depth_metrics(np.maximum(pred, 1e-3), targets["depth"], alignment="median")
        return {**result, **{f"median_{k}": v for k, v in median.items()}}
    if task == "pose":
        return metrics.camera_pose_metrics(predictions["pose"], targets["pose"], convention="c2w")
    if task == "points":
        per_video = metrics.tapvid_metrics(
            metrics.to_tapvid_raster(inputs["query_points"], "unit", coordinate_format="tyx"),
            targets["visible"] < 0.5,
            metrics.to_tapvid_raster(targets["tracks"], "unit"),
            ~np.asarray(predictions["visible"], bool),
            metrics.to_tapvid_raster(np.asarray(predictions["tracks"], np.float32), "unit"),
            query_mode="first")
        return {k: float(np.mean(v)) for k, v in per_video.items()}
    if task == "boxes":
        visible = targets["box_visible"] > 0.5
        visible = visible & visible[:, :, :1]
        return {"box_iou": float(metrics.box_tracking_iou(np.asarray(predictions, np.float32),
                                                          targets["boxes"], visible))}
    scores = np.asarray(predictions, np.float32)
    top = min(5, scores.shape[-1])
    accuracy = metrics.topk_accuracy(scores, targets["label"], ks=(1, top))
    return {"top1": accuracy["top1"], "top5": accuracy[f"top{top}"]}


# Level of the intervals whose non-overlap is a two-sided 5% test of two independent
# estimates with equal standard errors (Goldstein & Healy, 1995): 1.96 / sqrt(2) = 1.39 SE.
# Estimates on the same eval clips are not independent: for them it is stricter.
NON_OVERLAP_LEVEL = 0.834


def _take(tree, index):
    if isinstance(tree, dict):
        return {k: _take(v, index) for k, v in tree.items()}
    return np.asarray(tree)[index]


# How the metrics say that a clip has nothing to score (`box_tracking_iou`, `depth_metrics`).
_NOTHING_TO_SCORE = ("No box to score", "No valid pixel")


def _clip_metrics(task, inputs, targets, predictions, index):
    """`task_metrics` of clip `index` alone, or None when it has nothing to score (no
    visible box, no valid depth pixel)."""
    try:
        return task_metrics(task, _take(inputs, [index]), _take(targets, [index]),
                            _take(predictions, [index]))
    except ValueError as error:
        if str(error).startswith(_NOTHING_TO_SCORE):
            return None
        raise


def bootstrap_spread(task, inputs, targets, predictions, resamples=200, level=NON_OVERLAP_LEVEL,
                     seed=0):
    """Half-widths of bootstrap intervals of every `task_metrics` value over eval clips.

    Each clip is scored on its own once; a resample draws B clips with replacement and
    takes the mean of their values (ignoring clips with nothing to score), which is what
    `task_metrics` computes on the whole set for these metrics (means over frames of
    equally long clips, or over videos). `resamples` draws, seeded (every call with the
    same B draws the same clips, so two encoders scored on the same clips are resampled
    alike); each metric's central `level` interval. For two independent results, intervals
    at the default level that do not overlap are about a two-sided 5% test; results scored
    on the same clips share their clip-to-clip variation, so for them non-overlap is a
    stricter test than a paired one. Returns
    `{metric: half-width}` in the metric's units (NaN where no resample gave a value).
    """
    count = len(np.asarray(targets[next(iter(targets))]))
    if count < 2:
        raise ValueError(f"bootstrap_spread needs at least 2 eval clips; got {count}")
    per_clip = [_clip_metrics(task, inputs, targets, predictions, i) for i in range(count)]
    keys = next((list(clip) for clip in per_clip if clip is not None), None)
    if keys is None:
        raise ValueError(f"bootstrap_spread: none of the {count} eval clips has anything to "
                         f"score for task {task!r}")
    draws = np.random.default_rng(seed).integers(0, count, (resamples, count))
    tail = 100 * (1 - level) / 2
    spread = {}
    for key in keys:
        values = np.asarray([np.nan if clip is None else clip[key] for clip in per_clip],
                            np.float64)[draws]
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(values, axis=1)
        means = means[np.isfinite(means)]
        low, high = np.percentile(means, [tail, 100 - tail]) if means.size else (np.nan, np.nan)
        spread[key] = float((high - low) / 2)
    return spread
