"""ATE and RPE against evo (`evo_ape --align --correct_scale`, `evo_rpe --delta 1`)."""
import numpy as np
import pytest

from keras4ds.metrics import camera_pose_metrics

pytestmark = pytest.mark.backend_independent
evo_metrics = pytest.importorskip("evo.core.metrics")
from evo.core.trajectory import PosePath3D  # noqa: E402


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _trajectory(rng, frames):
    """Camera-to-world poses `(T, 4, 4)` along a smooth random path."""
    poses = np.tile(np.eye(4), (frames, 1, 1))
    poses[0, :3, :3] = _rotation(rng)
    for t in range(1, frames):
        poses[t, :3, :3] = poses[t - 1, :3, :3] @ _small_rotation(rng, 0.2)
        poses[t, :3, 3] = poses[t - 1, :3, 3] + rng.normal(0, 0.3, 3)
    return poses


def _noisy(rng, poses):
    """A predicted trajectory: the true one in another frame and scale, plus noise."""
    rotation, scale, shift = _rotation(rng), 1.7, rng.normal(size=3)
    out = poses.copy()
    out[:, :3, :3] = np.einsum("ij,tjk->tik", rotation, poses[:, :3, :3] @ np.stack(
        [_small_rotation(rng) for _ in poses]))
    out[:, :3, 3] = scale * poses[:, :3, 3] @ rotation.T + shift + rng.normal(0, 0.1, (len(poses), 3))
    return out


def _small_rotation(rng, angle=0.05):
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _evo(gt, pred):
    reference, estimate = PosePath3D(poses_se3=list(gt)), PosePath3D(poses_se3=list(pred))
    estimate.align(reference, correct_scale=True)
    values = {}
    for name, metric in (
        ("ate", evo_metrics.APE(evo_metrics.PoseRelation.translation_part)),
        ("rpe_trans", evo_metrics.RPE(evo_metrics.PoseRelation.translation_part, 1,
                                      evo_metrics.Unit.frames)),
        ("rpe_rot", evo_metrics.RPE(evo_metrics.PoseRelation.rotation_angle_deg, 1,
                                    evo_metrics.Unit.frames)),
    ):
        metric.process_data((reference, estimate))
        values[name] = metric.get_statistic(evo_metrics.StatisticsType.rmse)
    return values


def test_ate_and_rpe_equal_evo_per_video_then_averaged():
    rng = np.random.default_rng(0)
    gt = np.stack([_trajectory(rng, 12) for _ in range(3)])
    pred = np.stack([_noisy(rng, g) for g in gt])
    ours = camera_pose_metrics(pred, gt)
    theirs = [_evo(g, p) for g, p in zip(gt, pred)]
    for key in ("ate", "rpe_trans", "rpe_rot"):
        assert ours[key] > 0.01, (key, ours[key])  # the noise is measured, not zero
        assert ours[key] == pytest.approx(np.mean([t[key] for t in theirs]), rel=1e-6), key
