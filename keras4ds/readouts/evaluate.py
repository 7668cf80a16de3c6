"""Task metrics of probe predictions, and the trivial baselines they must beat."""
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
