"""Task losses, written with keras.ops (jax, tensorflow, torch)."""
from keras import ops


def _masked_mean(values, mask):
    mask = ops.cast(mask, values.dtype)
    return ops.sum(values * mask) / ops.maximum(ops.sum(mask), 1.0)


def valid_depth(depth):
    """Valid-pixel mask of true depth: finite and > 0."""
    return ops.logical_and(ops.isfinite(depth), depth > 0)


def depth_l1(pred, gt):
    """Mean |pred - gt| over valid pixels of `(B, T, H, W, 1)` depth."""
    valid = valid_depth(gt)
    return _masked_mean(ops.abs(pred - ops.where(valid, gt, 0.0)), valid)


def scale_invariant_log(pred, gt, variance_focus=0.85, min_depth=1e-3):
    """Eigen et al.'s scale-invariant log loss (BTS form): sqrt(E[d^2] - l E[d]^2),
    d = log(pred) - log(gt) on valid pixels; pred is clamped at `min_depth`."""
    valid = valid_depth(gt)
    d = ops.log(ops.maximum(pred, min_depth)) - ops.log(ops.where(valid, gt, 1.0))
    mean_sq, mean = _masked_mean(d * d, valid), _masked_mean(d, valid)
    return ops.sqrt(ops.maximum(mean_sq - variance_focus * mean * mean, 0.0) + 1e-8)


def huber(x, delta):
    abs_x = ops.abs(x)
    return ops.where(abs_x <= delta, 0.5 * x * x, delta * (abs_x - 0.5 * delta))


def binary_cross_entropy_logits(logits, labels):
    labels = ops.cast(labels, logits.dtype)
    return ops.maximum(logits, 0.0) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


def tapir_losses(pred_tracks, vis_logits, cert_logits, gt_tracks, gt_visible, raster=256.0,
                 huber_delta=4.0, certainty_threshold=6.0):
    """TAPIR-style point losses `(position, visibility, certainty)`.

    Tracks `(B, Q, T, 2)` in [0, 1] units, compared in pixels of a `raster` image: Huber
    (delta `huber_delta` px) of the Euclidean distance on visible points, as tapnet's
    `huber_loss`; BCE of the visibility logit against visibility; BCE of the certainty
    logit against "within `certainty_threshold` px", on visible points.
    """
    visible = ops.cast(gt_visible, pred_tracks.dtype)
    diff = (pred_tracks - gt_tracks) * raster
    sq_dist = ops.sum(diff * diff, axis=-1)
    distance = ops.sqrt(sq_dist + 1e-12)  # the epsilon keeps the gradient finite at 0
    position = _masked_mean(huber(distance, huber_delta), visible)
    visibility = ops.mean(binary_cross_entropy_logits(vis_logits, visible))
    within = sq_dist <= certainty_threshold ** 2
    certainty = _masked_mean(
        binary_cross_entropy_logits(cert_logits, ops.stop_gradient(ops.cast(within, visible.dtype))),
        visible)
    return position, visibility, certainty


def generalized_iou(pred, gt):
    """GIoU of `[..., 4]` boxes [ymin, xmin, ymax, xmax] (empty boxes have area 0)."""
    def area(b):
        return ops.maximum(b[..., 2] - b[..., 0], 0.0) * ops.maximum(b[..., 3] - b[..., 1], 0.0)

    inter = (ops.maximum(ops.minimum(pred[..., 2], gt[..., 2]) - ops.maximum(pred[..., 0], gt[..., 0]), 0.0)
             * ops.maximum(ops.minimum(pred[..., 3], gt[..., 3])
                           - ops.maximum(pred[..., 1], gt[..., 1]), 0.0))
    union = area(pred) + area(gt) - inter
    hull = ((ops.maximum(pred[..., 2], gt[..., 2]) - ops.minimum(pred[..., 0], gt[..., 0]))
            * (ops.maximum(pred[..., 3], gt[..., 3]) - ops.minimum(pred[..., 1], gt[..., 1])))
    iou = inter / ops.maximum(union, 1e-7)
    return iou - (hull - union) / ops.maximum(hull, 1e-7)


def box_losses(pred, gt, mask):
    """`(L1, 1 - GIoU)` of `(B, K, T, 4)` boxes over frames where `mask` `(B, K, T)`."""
    l1 = _masked_mean(ops.sum(ops.abs(pred - gt), axis=-1), mask)
    return l1, _masked_mean(1.0 - generalized_iou(pred, gt), mask)


def _cross(a, b):
    """Cross product on the last axis (torch's `cross` picks the first axis of size 3)."""
    return ops.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                      a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                      a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def rotation_from_6d(x):
    """`(..., 6)` -> rotation matrices `(..., 3, 3)` (Zhou et al. 2019, rows b1, b2, b3)."""
    def normalize(v):
        return v / ops.sqrt(ops.maximum(ops.sum(v * v, axis=-1, keepdims=True), 1e-12))

    b1 = normalize(x[..., :3])
    a2 = x[..., 3:]
    b2 = normalize(a2 - ops.sum(b1 * a2, axis=-1, keepdims=True) * b1)
    b3 = _cross(b1, b2)
    return ops.stack([b1, b2, b3], axis=-2)


TRANSLATION_LOSSES = ("l1", "l2", "huber")


def check_translation_loss(name):
    """Raise a clear error unless `name` is one of `TRANSLATION_LOSSES`."""
    if name not in TRANSLATION_LOSSES:
        raise ValueError(f"translation_loss must be one of {TRANSLATION_LOSSES}; got {name!r}")


def pose_losses(pred_rotation, pred_translation, gt_pose, translation_loss="l1", scale=1.0):
    """`(rotation L1, translation loss)` against true relative poses `(B, T, 4, 4)`.

    translation_loss, on translation errors divided by `scale` (the scene unit): 'l1' (sum
    of |error| over x, y, z), 'l2' (squared Euclidean error) or 'huber' (Huber with delta 1
    on each coordinate, summed)."""
    check_translation_loss(translation_loss)
    rotation = ops.mean(ops.sum(ops.abs(pred_rotation - gt_pose[..., :3, :3]), axis=(-2, -1)))
    error = (pred_translation - gt_pose[..., :3, 3]) / scale
    if translation_loss == "l1":
        per_frame = ops.abs(error)
    elif translation_loss == "l2":
        per_frame = error * error
    else:
        per_frame = huber(error, 1.0)
    return rotation, ops.mean(ops.sum(per_frame, axis=-1))
