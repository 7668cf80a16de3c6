"""Camera-pose metrics: Umeyama, hand-worked cases, a loop reference, Keras agreement."""

import math

import numpy as np
import pytest
from keras import ops
from scipy.spatial.transform import Rotation

from keras4ds.metrics import CameraPoseMetrics, camera_pose_metrics, relative_pose_errors, umeyama


def pose(rotation=None, centre=(0.0, 0.0, 0.0)):
    """A 4x4 camera-to-world matrix."""
    p = np.eye(4)
    if rotation is not None:
        p[:3, :3] = rotation.as_matrix()
    p[:3, 3] = centre
    return p


def random_trajectories(seed, batch=3, frames=6, rot_noise=0.08, pos_noise=0.15):
    rng = np.random.default_rng(seed)
    gt = np.tile(np.eye(4), (batch, frames, 1, 1))
    rotations = Rotation.random(batch * frames, random_state=seed).as_matrix()
    gt[..., :3, :3] = rotations.reshape(batch, frames, 3, 3)
    gt[..., :3, 3] = np.cumsum(rng.normal(size=(batch, frames, 3)), axis=1)
    noise = np.tile(np.eye(4), (batch, frames, 1, 1))
    rotations = Rotation.from_rotvec(rng.normal(0, rot_noise, (batch * frames, 3))).as_matrix()
    noise[..., :3, :3] = rotations.reshape(batch, frames, 3, 3)
    noise[..., :3, 3] = rng.normal(0, pos_noise, (batch, frames, 3))
    pred = gt @ noise
    pred[..., :3, 3] *= 1.7  # a scale error, which ATE/RPE's Sim(3) alignment removes
    return pred, gt


def reference_pose_metrics(pred, gt, thresholds=(5, 15, 30), max_threshold=30):
    """PoseDiffusion/VGGSfM pair errors and AUC, evo-style ATE/RPE, written with loops."""
    rot_errors, trans_errors, video_values = [], [], []
    for pred_v, gt_v in zip(pred, gt):
        w2c_pred = [np.linalg.inv(p) for p in pred_v]
        w2c_gt = [np.linalg.inv(p) for p in gt_v]
        frames = len(pred_v)
        for i in range(frames):
            for j in range(i + 1, frames):
                rel_gt = w2c_gt[j] @ np.linalg.inv(w2c_gt[i])
                rel_pred = w2c_pred[j] @ np.linalg.inv(w2c_pred[i])
                q_gt = Rotation.from_matrix(rel_gt[:3, :3]).as_quat()
                q_pred = Rotation.from_matrix(rel_pred[:3, :3]).as_quat()
                loss_q = max(1 - np.dot(q_gt, q_pred) ** 2, 1e-15)
                rot_errors.append(math.degrees(math.acos(1 - 2 * loss_q)))
                t_gt = rel_gt[:3, 3] / (np.linalg.norm(rel_gt[:3, 3]) + 1e-15)
                t_pred = rel_pred[:3, 3] / (np.linalg.norm(rel_pred[:3, 3]) + 1e-15)
                loss_t = max(1 - np.dot(t_gt, t_pred) ** 2, 1e-15)
                angle = math.degrees(math.acos(math.sqrt(1 - loss_t)))
                trans_errors.append(min(angle, abs(180 - angle)))
        # End-point error: positions in the first camera's frame.
        first_pred, first_gt = np.linalg.inv(pred_v[0]), np.linalg.inv(gt_v[0])
        epe = np.mean([
            np.linalg.norm((first_pred @ pred_v[t])[:3, 3] - (first_gt @ gt_v[t])[:3, 3])
            for t in range(1, frames)
        ])
        # Sim(3) alignment: Kabsch rotation (scipy), then the optimal scale for it.
        x = pred_v[:, :3, 3] - pred_v[:, :3, 3].mean(0)
        y = gt_v[:, :3, 3] - gt_v[:, :3, 3].mean(0)
        rot, _ = Rotation.align_vectors(y, x)
        scale = np.sum(y * rot.apply(x)) / np.sum(x * x)
        shift = gt_v[:, :3, 3].mean(0) - scale * rot.apply(pred_v[:, :3, 3].mean(0))
        aligned = []
        for p in pred_v:
            a = np.eye(4)
            a[:3, :3] = rot.as_matrix() @ p[:3, :3]
            a[:3, 3] = scale * rot.apply(p[:3, 3]) + shift
            aligned.append(a)
        ate = math.sqrt(np.mean([np.sum((a[:3, 3] - g[:3, 3]) ** 2) for a, g in zip(aligned, gt_v)]))
        rpe_t, rpe_r = [], []
        for t in range(frames - 1):
            step_gt = np.linalg.inv(gt_v[t]) @ gt_v[t + 1]
            step_pred = np.linalg.inv(aligned[t]) @ aligned[t + 1]
            err = np.linalg.inv(step_gt) @ step_pred
            rpe_t.append(np.linalg.norm(err[:3, 3]))
            rpe_r.append(math.degrees(Rotation.from_matrix(err[:3, :3]).magnitude()))
        rpe_t, rpe_r = math.sqrt(np.mean(np.square(rpe_t))), math.sqrt(np.mean(np.square(rpe_r)))
        video_values.append([epe, ate, rpe_t, rpe_r])
    rot_errors, trans_errors = np.array(rot_errors), np.array(trans_errors)
    worst = np.maximum(rot_errors, trans_errors)
    histogram, _ = np.histogram(worst, bins=np.arange(max_threshold + 1))
    out = dict(zip(["end_point_error", "ate", "rpe_trans", "rpe_rot"], np.mean(video_values, axis=0)))
    out[f"auc_{max_threshold}"] = np.mean(np.cumsum(histogram / len(worst)))
    for tau in thresholds:
        out[f"rra_{tau}"] = np.mean(rot_errors < tau)
        out[f"rta_{tau}"] = np.mean(trans_errors < tau)
    return out, rot_errors, trans_errors


@pytest.mark.backend_independent
def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(4, 12, 3))
    rot = Rotation.random(4, random_state=1).as_matrix()
    scale = np.array([0.5, 1.0, 2.5, 10.0])
    trans = rng.normal(size=(4, 3))
    dst = scale[:, None, None] * np.einsum("bij,bnj->bni", rot, src) + trans[:, None]
    s, r, t = umeyama(src, dst)
    np.testing.assert_allclose(s, scale, rtol=1e-10)
    np.testing.assert_allclose(r, rot, atol=1e-10)
    np.testing.assert_allclose(t, trans, atol=1e-10)
    # Rigid fit (no scale) of a rigid motion; and a mirrored target still gives a rotation.
    s, r, t = umeyama(src[0], src[0] @ rot[0].T + trans[0], with_scale=False)
    assert s == 1.0
    np.testing.assert_allclose(r, rot[0], atol=1e-10)
    _, r, _ = umeyama(src[0], src[0] * np.array([1.0, 1.0, -1.0]))
    assert np.linalg.det(r) == pytest.approx(1.0)
    # All source points equal: no scale can be fitted; scale 0 maps to the target mean.
    s, _, t = umeyama(np.zeros((5, 3)), src[0, :5])
    assert s == 0.0
    np.testing.assert_allclose(t, src[0, :5].mean(0))


@pytest.mark.backend_independent
def test_hand_worked_yaw_error():
    # Frame 1 is 1 m along x; the prediction has it right but yawed by 10.5 degrees.
    gt = np.stack([pose(), pose(centre=(1, 0, 0))])[None]
    pred = np.stack([pose(), pose(Rotation.from_euler("z", 10.5, degrees=True), (1, 0, 0))])[None]
    rot_err, trans_err = relative_pose_errors(pred, gt)
    # Relative rotation off by 10.5 degrees; the relative translation (the first
    # camera's centre seen from the second camera) turns with the camera: 10.5 too.
    np.testing.assert_allclose(rot_err, [[10.5]])
    np.testing.assert_allclose(trans_err, [[10.5]])
    m = camera_pose_metrics(pred, gt)
    assert (m["rra_5"], m["rta_5"], m["rra_15"], m["rta_15"]) == (0.0, 0.0, 1.0, 1.0)
    assert m["auc_30"] == pytest.approx(20 / 30)  # fraction below k is 1 for k = 11..30
    assert m["end_point_error"] == pytest.approx(0.0, abs=1e-12)  # positions are exact
    assert m["ate"] == pytest.approx(0.0, abs=1e-12)
    assert m["rpe_trans"] == pytest.approx(0.0, abs=1e-12)
    assert m["rpe_rot"] == pytest.approx(10.5)


@pytest.mark.backend_independent
def test_hand_worked_end_point_error_and_translation_edge_cases():
    gt = np.stack([pose(), pose(centre=(2, 0, 0)), pose(centre=(4, 0, 0))])[None]
    pred = np.stack([pose(), pose(centre=(2, 1, 0)), pose(centre=(-4, 0, 0))])[None]
    m = camera_pose_metrics(pred, gt)
    assert m["end_point_error"] == pytest.approx((1 + 8) / 2)
    _, trans_err = relative_pose_errors(pred, gt)
    # Pair (0, 2) moves the opposite way: the sign is ignored, so 0 degrees.
    assert trans_err[0, 1] == pytest.approx(0.0, abs=1e-6)
    assert trans_err[0, 0] == pytest.approx(math.degrees(math.atan2(1, 2)))
    # A camera that does not move gives no direction: 90 degrees, as in the reference.
    still = np.stack([pose(), pose()])[None]
    _, trans_err = relative_pose_errors(still, gt[:, :2])
    assert trans_err[0, 0] == 90.0
    # Identity prediction (the trivial baseline): Umeyama collapses it to the mean.
    identity = np.tile(np.eye(4), (1, 3, 1, 1))
    m = camera_pose_metrics(identity, gt)
    assert m["ate"] == pytest.approx(math.sqrt(8 / 3))


@pytest.mark.backend_independent
def test_ate_and_rpe_ignore_a_global_similarity():
    pred, gt = random_trajectories(3)
    move = pose(Rotation.from_euler("xyz", [10, 20, 30], degrees=True), (1, -2, 3))
    moved = move @ pred
    moved[..., :3, 3] = 3.0 * moved[..., :3, 3]
    a, b = camera_pose_metrics(pred, gt), camera_pose_metrics(moved, gt)
    for key in ("ate", "rpe_trans", "rpe_rot", "rra_5", "rta_5", "auc_30"):
        assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), key


@pytest.mark.backend_independent
@pytest.mark.parametrize("seed", range(3))
def test_matches_loop_reference_on_random_inputs(seed):
    pred, gt = random_trajectories(seed, rot_noise=0.05 + 0.1 * seed)
    expected, rot_ref, trans_ref = reference_pose_metrics(pred, gt)
    rot_err, trans_err = relative_pose_errors(pred, gt)
    np.testing.assert_allclose(rot_err.ravel(), rot_ref, atol=1e-6)
    np.testing.assert_allclose(trans_err.ravel(), trans_ref, atol=1e-6)
    actual = camera_pose_metrics(pred, gt)
    assert set(actual) == set(expected)
    for key in expected:
        assert actual[key] == pytest.approx(expected[key], rel=1e-7, abs=1e-9), key


@pytest.mark.backend_independent
def test_world_to_camera_convention_and_3x4_input():
    pred, gt = random_trajectories(4)
    c2w = camera_pose_metrics(pred, gt)
    w2c_pred, w2c_gt = np.linalg.inv(pred)[..., :3, :], np.linalg.inv(gt)[..., :3, :]
    w2c = camera_pose_metrics(w2c_pred, w2c_gt, convention="w2c")
    assert w2c == pytest.approx(c2w)


@pytest.mark.backend_independent
def test_input_errors():
    pred, gt = random_trajectories(0)
    with pytest.raises(ValueError, match="Shape mismatch"):
        camera_pose_metrics(pred[:, :3], gt)
    with pytest.raises(ValueError, match="2 frames"):
        camera_pose_metrics(pred[:, :1], gt[:, :1])
    bad = pred.copy()
    bad[0, 1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        camera_pose_metrics(bad, gt)
    bad = pred.copy()
    bad[0, 1, :3, :3] *= 2
    with pytest.raises(ValueError, match="rotation matrices"):
        camera_pose_metrics(bad, gt)
    with pytest.raises(ValueError, match="convention"):
        camera_pose_metrics(pred, gt, convention="opengl")


def test_keras_metric_matches_numpy_across_batches():
    pred, gt = random_trajectories(6, batch=5, frames=8)
    metric = CameraPoseMetrics(thresholds=(5, 15), auc_thresholds=(30, 5))
    for part in (slice(0, 2), slice(2, 3), slice(3, 5)):
        metric.update_state(gt[part].astype("float32"), pred[part].astype("float32"))
    expected = camera_pose_metrics(pred, gt, thresholds=(5, 15), auc_thresholds=(30, 5))
    result = {k: float(ops.convert_to_numpy(v)) for k, v in metric.result().items()}
    assert set(result) == set(expected)
    for key in expected:
        # float32 angles can move a pair across a threshold only if it sits within ~1e-4 degrees.
        assert result[key] == pytest.approx(expected[key], rel=2e-4, abs=2e-5), key


def test_keras_metric_sample_weight_and_small_angles():
    # 0.01 degree errors: float32 must still resolve them (atan2, not arccos).
    gt = np.stack([pose(), pose(centre=(1, 0, 0)), pose(centre=(2, 0, 0))])[None].repeat(2, 0)
    pred = gt.copy()
    pred[0, 1, :3, :3] = Rotation.from_euler("y", 0.01, degrees=True).as_matrix()
    pred[1] = np.tile(np.eye(4), (3, 1, 1))  # garbage video, weighted out
    metric = CameraPoseMetrics()
    metric.update_state(gt.astype("float32"), pred.astype("float32"), sample_weight=np.array([1.0, 0.0]))
    expected = camera_pose_metrics(pred[:1], gt[:1])
    result = {k: float(ops.convert_to_numpy(v)) for k, v in metric.result().items()}
    assert expected["rpe_rot"] == pytest.approx(0.01)  # both steps are off by 0.01 degrees
    for key in expected:
        assert result[key] == pytest.approx(expected[key], rel=1e-3, abs=1e-6), key
