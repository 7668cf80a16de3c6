"""Camera-pose metrics for a video's per-frame camera poses.

Poses are `(B, T, 4, 4)` or `(B, T, 3, 4)` rigid transforms `[R | t]`, one per
frame of each of B videos, either camera-to-world (`convention='c2w'`, the
default: `t` is the camera centre) or world-to-camera (`'w2c'`, the OpenCV
extrinsics `x_cam = R x_world + t`).

Metrics (what `camera_pose_metrics` returns):

* `end_point_error` - the 4DS paper scores camera pose by a mean end-point
  error; its exact formula was not available to us, so this is our definition:
  both trajectories are expressed relative to their own first camera (pose of
  frame t in the coordinates of frame 0), and the error is the Euclidean
  distance between predicted and true camera positions, averaged over the
  frames after the first, then over videos.  No scale alignment: it is in the
  units of the true poses.
* `rra_{tau}`, `rta_{tau}`, `auc_{tau}` - relative-pose accuracy as in the
  PoseDiffusion / VGGSfM / DUSt3R evaluations.  For every frame pair i < j of a
  video the relative pose taking camera i to camera j is `E_j E_i^-1` (E the
  world-to-camera matrices).  The rotation error is the angle of
  `R_gt^T R_pred` between true and predicted relative rotations; the translation
  error is the angle between the relative translation directions, sign
  ignored (`min(a, 180 - a)`), and 90 degrees when either translation is zero
  (as the reference's normalisation gives).  Pairs of all videos are pooled:
  `rra_tau` = fraction of pairs with rotation error < tau degrees, `rta_tau`
  likewise for translation, `auc_tau` = the mean over k = 1..tau of the fraction
  of pairs whose max(rotation, translation) error is < k (<= tau for the last),
  i.e. the cumulative 1-degree histogram of PoseDiffusion's `calculate_auc_np`
  (named mAA in DUSt3R).  (VGGT's CO3D script pairs `E_i E_j^-1` instead:
  rotation errors are the same, translation errors are measured in the other
  camera's frame.)
* `ate` - absolute trajectory error: the predicted camera centres are aligned
  to the true ones with the Umeyama similarity (rotation, translation and
  scale, Sim(3)) and `ate` is the RMSE of the remaining position differences;
  per video, then the mean over videos (evo `ape --align --correct_scale`).
* `rpe_trans`, `rpe_rot` - relative pose error between consecutive frames
  after the same Sim(3) alignment: for each t, `E = (Q_t^-1 Q_t+1)^-1
  (P_t^-1 P_t+1)` with Q true and P aligned predicted camera-to-world poses;
  `rpe_trans` is the RMSE of |translation(E)|, `rpe_rot` the RMSE of the angle of
  rotation(E) in degrees; per video, then the mean over videos (evo `rpe
  --delta 1 --align --correct_scale`).
"""

import numpy as np
from keras import ops as keras_ops

from keras4ds.metrics import _ops
from keras4ds.metrics._base import SumMetric, per_video_weight, weighted_sum

CONVENTIONS = ("c2w", "w2c")
_VIDEO_KEYS = ("end_point_error", "ate", "rpe_trans", "rpe_rot")


def _matvec(ops, m, v):
    return ops.einsum("...ij,...j->...i", m, v)


def _transpose(ops, m):
    return ops.swapaxes(m, -1, -2)


def rotation_angle_kernel(ops, rot):
    """Angle in degrees of rotation matrices `(..., 3, 3)`.

    atan2(|axis * 2 sin|, 2 cos) stays accurate for small and large angles alike,
    unlike arccos((trace - 1) / 2) in float32.
    """
    two_cos = rot[..., 0, 0] + rot[..., 1, 1] + rot[..., 2, 2] - 1.0
    axis = ops.stack(
        [rot[..., 2, 1] - rot[..., 1, 2], rot[..., 0, 2] - rot[..., 2, 0], rot[..., 1, 0] - rot[..., 0, 1]],
        axis=-1,
    )
    two_sin = ops.sqrt(_ops.dot3(axis, axis))
    return ops.arctan2(two_sin, two_cos) * (180.0 / np.pi)


def _direction_angle(ops, a, b):
    """Angle in degrees between the lines of `a` and `b` (sign ignored); 90 if one is 0."""
    cross = _ops.cross3(ops, a, b)
    angle = ops.arctan2(ops.sqrt(_ops.dot3(cross, cross)), ops.abs(_ops.dot3(a, b)))
    degenerate = ops.logical_or(_ops.dot3(a, a) == 0, _ops.dot3(b, b) == 0)
    return ops.where(degenerate, 90.0, angle * (180.0 / np.pi))


def _camera_frames(ops, poses, convention):
    """(R_c2w, centre, R_w2c, t_w2c) of `(..., 3|4, 4)` poses."""
    rot, trans = poses[..., :3, :3], poses[..., :3, 3]
    if convention == "c2w":
        rot_w2c = _transpose(ops, rot)
        return rot, trans, rot_w2c, -_matvec(ops, rot_w2c, trans)
    rot_c2w = _transpose(ops, rot)
    return rot_c2w, -_matvec(ops, rot_c2w, trans), rot, trans


def umeyama_kernel(ops, src, dst, with_scale=True):
    """Similarity `(scale, R, t)` minimising sum |dst - (scale R src + t)|^2.

    `src`, `dst`: `(..., N, 3)`.  Umeyama (1991): SVD of the cross-covariance,
    reflection removed with S = diag(1, 1, sign(det U det V)), scale =
    trace(D S) / var(src).  A degenerate `src` (all points equal) gets scale 0.
    """
    num = src.shape[-2]
    mean_src = ops.mean(src, axis=-2, keepdims=True)
    mean_dst = ops.mean(dst, axis=-2, keepdims=True)
    src_c, dst_c = src - mean_src, dst - mean_dst
    cov = ops.einsum("...ni,...nj->...ij", dst_c, src_c) / num
    u, d, vt = ops.svd(cov)
    flip = _ops.det3(ops, u) * _ops.det3(ops, vt) < 0
    ones = ops.ones_like(d[..., 0])
    signs = ops.stack([ones, ones, ops.where(flip, -ones, ones)], axis=-1)
    rot = ops.matmul(u * signs[..., None, :], vt)
    if with_scale:
        var_src = ops.sum(src_c * src_c, axis=(-2, -1)) / num
        scale = ops.divide_no_nan(ops.sum(d * signs, axis=-1), var_src)
    else:
        scale = ones
    trans = mean_dst[..., 0, :] - scale[..., None] * _matvec(ops, rot, mean_src[..., 0, :])
    return scale, rot, trans


def _pair_errors(ops, pred, gt, convention):
    """Rotation and translation angle errors `(B, P)` over pairs i < j (row-major)."""
    first, second = np.triu_indices(pred.shape[1], k=1)
    errors = []
    for poses in (pred, gt):
        _, _, rot, trans = _camera_frames(ops, poses, convention)
        rot_i, rot_j = ops.take(rot, first, axis=1), ops.take(rot, second, axis=1)
        rel_rot = ops.matmul(rot_j, _transpose(ops, rot_i))
        rel_trans = ops.take(trans, second, axis=1) - _matvec(ops, rel_rot, ops.take(trans, first, axis=1))
        errors.append((rel_rot, rel_trans))
    (rot_p, trans_p), (rot_g, trans_g) = errors
    rot_err = rotation_angle_kernel(ops, ops.matmul(_transpose(ops, rot_g), rot_p))
    return rot_err, _direction_angle(ops, trans_g, trans_p)


def _video_errors(ops, pred, gt, convention):
    """Per-video `(B, 4)`: end-point error, ATE, RPE translation, RPE rotation."""
    rot_p, pos_p, _, _ = _camera_frames(ops, pred, convention)
    rot_g, pos_g, _, _ = _camera_frames(ops, gt, convention)

    def from_first(rot, pos):  # camera positions in the first camera's frame
        return ops.einsum("bji,btj->bti", rot[:, 0], pos - pos[:, :1])

    epe_frames = ops.sqrt(ops.sum(ops.square(from_first(rot_p, pos_p) - from_first(rot_g, pos_g)), -1))
    epe = ops.mean(epe_frames[:, 1:], axis=-1)

    scale, rot_a, trans_a = umeyama_kernel(ops, pos_p, pos_g)
    aligned = scale[:, None, None] * ops.einsum("bij,btj->bti", rot_a, pos_p) + trans_a[:, None]
    ate = ops.sqrt(ops.mean(ops.sum(ops.square(aligned - pos_g), axis=-1), axis=-1))

    def steps(rot, pos):  # consecutive relative poses P_t^-1 P_t+1
        rot_t = _transpose(ops, rot[:, :-1])
        return ops.matmul(rot_t, rot[:, 1:]), _matvec(ops, rot_t, pos[:, 1:] - pos[:, :-1])

    step_rot_p, step_pos_p = steps(rot_p, pos_p)
    step_rot_g, step_pos_g = steps(rot_g, pos_g)
    # The alignment's rotation cancels in P_t^-1 P_t+1; only its scale is left.
    trans_err = ops.sum(ops.square(scale[:, None, None] * step_pos_p - step_pos_g), axis=-1)
    rot_err = rotation_angle_kernel(ops, ops.matmul(_transpose(ops, step_rot_g), step_rot_p))
    rpe_trans = ops.sqrt(ops.mean(trans_err, axis=-1))
    rpe_rot = ops.sqrt(ops.mean(ops.square(rot_err), axis=-1))
    return ops.stack([epe, ate, rpe_trans, rpe_rot], axis=-1)


def _pair_counts(ops, rot_err, trans_err, thresholds, auc_thresholds):
    """Per-video counts `(B, K)`: rot < tau, trans < tau for each tau, then AUC bins.

    The bins of AUC@tau count max(rot, trans) < k for k = 1 .. tau - 1 and <= tau
    for the last (numpy's histogram closes its last bin).
    """

    def below(err, edges):  # (B, P) errors against edges -> (B, len(edges)) counts
        edges = ops.cast(np.asarray(edges, np.float64), err.dtype)
        return _ops.count(ops, err[..., None] < edges, axis=1)

    worst = ops.maximum(rot_err, trans_err)
    columns = [below(rot_err, thresholds), below(trans_err, thresholds)]
    for tau in auc_thresholds:
        columns += [below(worst, range(1, tau)), _ops.count(ops, worst <= tau, axis=-1)[:, None]]
    return ops.concatenate(columns, axis=-1)


def _pooled_metrics(counts, num_pairs, video_values, num_videos, thresholds, auc_thresholds):
    """The metric dict from pooled pair counts `(K,)` and summed video values `(4,)`."""
    fractions = counts / num_pairs
    out = {key: video_values[i] / num_videos for i, key in enumerate(_VIDEO_KEYS)}
    n = len(thresholds)
    for i, tau in enumerate(thresholds):
        out[f"rra_{tau}"] = fractions[i]
        out[f"rta_{tau}"] = fractions[n + i]
    start = 2 * n
    for tau in auc_thresholds:
        out[f"auc_{tau}"] = sum(fractions[start + k] for k in range(tau)) / tau
        start += tau
    return out


def _check_options(convention, thresholds, auc_thresholds):
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}; got {convention!r}.")
    for tau in auc_thresholds:
        if int(tau) != tau or tau < 1:
            raise ValueError(f"AUC thresholds are whole degrees >= 1; got {tau!r}.")


def _check_shapes(pred, gt, names=("pred", "gt")):
    """Shape checks of `(B, T, 3|4, 4)` poses, T >= 2 (static shapes)."""
    _ops.check_same_shape(**{names[0]: pred, names[1]: gt})
    _ops.check_shape(names[0], pred, ("B", "T", (3, 4), 4), " as [R | t] poses")
    num_frames = _ops.static_shape(pred)[1]
    if num_frames is not None and num_frames < 2:
        raise ValueError(
            f"Pose metrics need at least 2 frames per video; `{names[0]}` has T={num_frames}."
        )


def _check_poses(pred, gt):
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    _check_shapes(pred, gt)
    _ops.check_finite("pred", pred)
    _ops.check_finite("gt", gt)
    for name, poses in (("pred", pred), ("gt", gt)):
        rot = poses[..., :3, :3]
        gram_error = np.abs(np.swapaxes(rot, -1, -2) @ rot - np.eye(3)).max()
        if gram_error > 1e-3 or (np.linalg.det(rot) <= 0).any():
            raise ValueError(
                f"`{name}` rotations are not rotation matrices (R^T R - I up to {gram_error:.2g})."
            )
    return pred, gt


def umeyama(src, dst, with_scale=True):
    """Umeyama's least-squares similarity: `dst ~ scale * R @ src + t`.

    Args:
      src, dst: `(..., N, 3)` corresponding points.
      with_scale: fit the scale too (Sim(3)); False fits a rigid motion (SE(3)).

    Returns:
      `(scale (...,), R (..., 3, 3), t (..., 3))` as numpy float64 arrays.

    Raises:
      ValueError, naming the input: shapes that differ or are not `(..., N, 3)`,
        no point (N = 0), or NaN or inf.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    _ops.check_same_shape(src=src, dst=dst)
    if src.ndim < 2 or src.shape[-1] != 3:
        raise ValueError(f"`src` and `dst` must be (..., N, 3) points; got shape {src.shape}.")
    _ops.check_nonempty("src", src)
    _ops.check_finite("src", src)
    _ops.check_finite("dst", dst)
    return umeyama_kernel(_ops.NUMPY, src, dst, with_scale)


def relative_pose_errors(pred, gt, convention="c2w"):
    """Rotation and translation angle errors (degrees) for every frame pair i < j.

    Returns two `(B, T(T-1)/2)` arrays, pairs in row-major order (0,1), (0,2), ...
    (definitions in the module docstring).  Raises ValueError as `camera_pose_metrics`.
    """
    _check_options(convention, (), ())
    pred, gt = _check_poses(pred, gt)
    return _pair_errors(_ops.NUMPY, pred, gt, convention)


def camera_pose_metrics(pred, gt, convention="c2w", thresholds=(5, 15, 30), auc_thresholds=(30,)):
    """Camera-pose metrics of predicted against true per-frame poses.

    Args:
      pred, gt: `(B, T, 4, 4)` or `(B, T, 3, 4)` poses, T >= 2.
      convention: 'c2w' (camera-to-world, default) or 'w2c' (world-to-camera).
      thresholds: angles in degrees for `rra_{tau}` and `rta_{tau}`.
      auc_thresholds: whole degrees for `auc_{tau}` (AUC@30 by default).

    Returns:
      dict of floats: `end_point_error`, `ate`, `rpe_trans`, `rpe_rot` (per video,
      averaged over videos), `rra_{tau}`, `rta_{tau}`, `auc_{tau}` (pooled over all
      frame pairs of all videos).  Definitions in the module docstring.

    Raises:
      ValueError, naming the input: shapes that differ or are not `(B, T, 3|4, 4)`,
        an empty input (B = 0), T < 2, NaN or inf, rotations that are not rotation
        matrices, or an unknown option.
    """
    _check_options(convention, thresholds, auc_thresholds)
    pred, gt = _check_poses(pred, gt)
    rot_err, trans_err = _pair_errors(_ops.NUMPY, pred, gt, convention)
    counts = _pair_counts(_ops.NUMPY, rot_err, trans_err, thresholds, auc_thresholds)
    videos = _video_errors(_ops.NUMPY, pred, gt, convention)
    metrics = _pooled_metrics(
        counts.sum(0), rot_err.size, videos.sum(0), len(videos), thresholds, auc_thresholds
    )
    return {key: float(value) for key, value in metrics.items()}


class CameraPoseMetrics(SumMetric):
    """Stateful camera-pose metrics, equal to `camera_pose_metrics` over all videos seen.

    `update_state(y_true, y_pred, sample_weight=None)` with `(B, T, 4, 4)` or
    `(B, T, 3, 4)` true and predicted poses; `sample_weight` an optional `(B,)`
    weight per video (0 drops a padded video).  State: pair counts under each
    threshold and histogram bin, number of pairs, sums of the per-video errors
    and number of videos, so batching does not change the result.  Shapes are
    checked as in `camera_pose_metrics` (static shapes, so also in a compiled step);
    values (NaN, rotation matrices) are not.
    """

    def __init__(
        self, convention="c2w", thresholds=(5, 15, 30), auc_thresholds=(30,), name="camera_pose", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        _check_options(convention, thresholds, auc_thresholds)
        self.convention = convention
        self.thresholds = tuple(thresholds)
        self.auc_thresholds = tuple(int(t) for t in auc_thresholds)
        num_counts = 2 * len(self.thresholds) + sum(self.auc_thresholds)
        self.pair_counts = self.add_sum("pair_counts", (num_counts,))
        self.num_pairs = self.add_sum("num_pairs")
        self.video_sums = self.add_sum("video_sums", (len(_VIDEO_KEYS),))
        self.num_videos = self.add_sum("num_videos")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras_ops
        y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
        _check_shapes(y_pred, y_true, names=("y_pred", "y_true"))
        gt, pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
        rot_err, trans_err = _pair_errors(ops, pred, gt, self.convention)
        counts = _pair_counts(ops, rot_err, trans_err, self.thresholds, self.auc_thresholds)
        weight = per_video_weight(sample_weight, gt[:, 0, 0, 0])
        self.pair_counts.assign_add(weighted_sum(counts, weight))
        self.num_pairs.assign_add(ops.sum(weight) * rot_err.shape[1])
        self.video_sums.assign_add(weighted_sum(_video_errors(ops, pred, gt, self.convention), weight))
        self.num_videos.assign_add(ops.sum(weight))

    def result(self):
        return _pooled_metrics(
            self.pair_counts, self.num_pairs, self.video_sums, self.num_videos,
            self.thresholds, self.auc_thresholds,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "convention": self.convention,
            "thresholds": self.thresholds,
            "auc_thresholds": self.auc_thresholds,
        }
