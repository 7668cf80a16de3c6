"""Readout task losses (each in its task's module): hand-worked values and numpy references.

The losses are keras.ops code, so every test runs on the backend of the pass.
"""
import math

import numpy as np
import pytest
from keras import ops

from keras4ds.readouts.boxes import box_losses, generalized_iou
from keras4ds.readouts.depth import depth_l1, scale_invariant_log
from keras4ds.readouts.points import tapir_losses
from keras4ds.readouts.pose import pose_losses, rotation_from_6d


def tensor(x):
    return ops.convert_to_tensor(np.asarray(x, "float32"))


def value(x):
    return ops.convert_to_numpy(x).astype(np.float64)


# --- numpy references, written from the definitions -------------------------------------

def reference_depth_l1(pred, gt):
    valid = np.isfinite(gt) & (gt > 0)
    return np.abs(pred[valid] - gt[valid]).mean()


def reference_silog(pred, gt, variance_focus=0.85, min_depth=1e-3):
    valid = np.isfinite(gt) & (gt > 0)
    d = np.log(np.maximum(pred[valid], min_depth)) - np.log(gt[valid])
    return math.sqrt(max((d ** 2).mean() - variance_focus * d.mean() ** 2, 0.0) + 1e-8)


def reference_huber(x, delta):
    return np.where(np.abs(x) <= delta, 0.5 * x ** 2, delta * (np.abs(x) - 0.5 * delta))


def reference_bce(logits, labels):
    """-(y log s(z) + (1 - y) log(1 - s(z))), via log s(z) = -logaddexp(0, -z)."""
    return labels * np.logaddexp(0, -logits) + (1 - labels) * np.logaddexp(0, logits)


def reference_tapir(pred, vis, cert, gt, visible, raster=256.0, delta=4.0, threshold=6.0):
    position, certainty, n = 0.0, 0.0, 0
    for index in np.ndindex(visible.shape):
        if not visible[index]:
            continue
        distance = float(np.hypot(*((pred[index] - gt[index]) * raster)))
        position += reference_huber(distance, delta)  # of the distance, as tapnet
        certainty += reference_bce(cert[index], float(distance <= threshold))
        n += 1
    return position / n, reference_bce(vis, visible.astype(float)).mean(), certainty / n


def reference_giou(a, b):
    """GIoU of one pair of [ymin, xmin, ymax, xmax] boxes, with scalar arithmetic."""
    def area(box):
        return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)
    inter = area([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])])
    union = area(a) + area(b) - inter
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return inter / union - (hull - union) / hull


def reference_rotation_from_6d(x):
    """Gram-Schmidt on the two 3-vectors, one matrix at a time."""
    a1, a2 = x[:3], x[3:]
    b1 = a1 / np.linalg.norm(a1)
    u2 = a2 - (b1 @ a2) * b1
    b2 = u2 / np.linalg.norm(u2)
    return np.stack([b1, b2, np.cross(b1, b2)])


def rodrigues(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


# --- depth ---------------------------------------------------------------------------------

def depth_case():
    """`(1, 1, 2, 3, 1)` depth where half the ground truth is invalid (0, NaN, -1)."""
    pred = np.array([1.0, 2.0, 3.0, 4.0, 50.0, 60.0]).reshape(1, 1, 2, 3, 1)
    gt = np.array([2.0, 1.0, 3.0, 0.0, np.nan, -1.0]).reshape(1, 1, 2, 3, 1)
    return pred, gt


def test_depth_l1_by_hand_ignores_invalid_pixels():
    pred, gt = depth_case()
    # valid pixels 0, 1, 2: |1 - 2| + |2 - 1| + |3 - 3| = 2 over 3 pixels
    assert value(depth_l1(tensor(pred), tensor(gt))) == pytest.approx(2 / 3, rel=1e-6)


def test_scale_invariant_log_by_hand():
    pred, gt = depth_case()
    # valid d = log(1/2), log(2), 0: E[d^2] = 2 log(2)^2 / 3, E[d] = 0
    expected = math.sqrt(2 * math.log(2) ** 2 / 3 + 1e-8)
    assert value(scale_invariant_log(tensor(pred), tensor(gt))) == pytest.approx(expected, rel=1e-5)
    # a global scale of the prediction: d = log 3 everywhere, E[d^2] - l E[d]^2 = (1 - l) log(3)^2
    scaled = np.where(np.isfinite(gt) & (gt > 0), 3 * gt, 7.0)
    for focus in (0.85, 0.5):
        expected = math.sqrt((1 - focus) * math.log(3) ** 2 + 1e-8)
        got = value(scale_invariant_log(tensor(scaled), tensor(gt), variance_focus=focus))
        assert got == pytest.approx(expected, rel=1e-5), focus
    # variance_focus 1 is fully scale invariant: only the 1e-8 floor is left
    got = value(scale_invariant_log(tensor(scaled), tensor(gt), variance_focus=1.0))
    assert got == pytest.approx(1e-4, abs=2e-4)


def test_scale_invariant_log_clamps_the_prediction_at_min_depth():
    gt = np.ones((1, 1, 1, 2, 1))
    pred = np.array([0.0, -5.0]).reshape(gt.shape)  # both clamp to 1e-3: d = log(1e-3)
    expected = math.sqrt(0.15 * math.log(1e-3) ** 2 + 1e-8)
    assert value(scale_invariant_log(tensor(pred), tensor(gt))) == pytest.approx(expected, rel=1e-5)


def test_depth_losses_match_numpy_on_random_maps_with_invalid_pixels():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 10.0, (2, 3, 4, 5, 1))
    gt[rng.random(gt.shape) < 0.3] = 0.0
    gt[rng.random(gt.shape) < 0.1] = np.nan
    gt[rng.random(gt.shape) < 0.05] = np.inf
    pred = rng.uniform(0.0, 12.0, gt.shape)
    np.testing.assert_allclose(value(depth_l1(tensor(pred), tensor(gt))),
                               reference_depth_l1(pred, gt), rtol=1e-5)
    np.testing.assert_allclose(value(scale_invariant_log(tensor(pred), tensor(gt))),
                               reference_silog(pred, gt), rtol=1e-5)
    # the invalid pixels' predictions play no part
    changed = np.where(np.isfinite(gt) & (gt > 0), pred, 1e6)
    np.testing.assert_allclose(value(depth_l1(tensor(changed), tensor(gt))),
                               reference_depth_l1(pred, gt), rtol=1e-5)


def test_depth_losses_are_finite_and_zero_when_no_pixel_is_valid():
    gt = np.zeros((1, 1, 2, 2, 1))
    gt[0, 0, 0, 0] = np.nan
    pred = np.ones_like(gt)
    assert value(depth_l1(tensor(pred), tensor(gt))) == 0.0
    assert value(scale_invariant_log(tensor(pred), tensor(gt))) == pytest.approx(1e-4, rel=1e-3)


# --- points ------------------------------------------------------------------------------

def test_tapir_losses_by_hand():
    # one track, three frames; errors in raster pixels (raster 256): 1 px, (6, 8) = 10 px, 100 px
    gt = np.full((1, 1, 3, 2), 0.5)
    pred = gt + np.array([[1.0, 0.0], [6.0, 8.0], [100.0, 0.0]]) / 256
    visible = np.array([[[1.0, 1.0, 0.0]]])
    vis_logits = np.array([[[2.0, -1.0, 3.0]]])
    cert_logits = np.array([[[0.0, 1.0, 5.0]]])
    position, visibility, certainty = tapir_losses(
        tensor(pred), tensor(vis_logits), tensor(cert_logits), tensor(gt), tensor(visible))
    # Huber(delta 4) of the distance: 0.5 * 1^2 = 0.5 and 4 * (10 - 2) = 32 (per coordinate
    # it would be 16 + 24); the occluded frame is left out
    assert value(position) == pytest.approx((0.5 + 32.0) / 2, rel=1e-5)
    # BCE against visible (1, 1, 0) on every frame
    expected = (math.log1p(math.exp(-2)) + math.log1p(math.exp(1)) + math.log1p(math.exp(3))) / 3
    assert value(visibility) == pytest.approx(expected, rel=1e-5)
    # certainty labels on visible frames: 1 px <= 6 -> 1, 10 px > 6 -> 0
    expected = (math.log(2) + math.log1p(math.exp(1))) / 2
    assert value(certainty) == pytest.approx(expected, rel=1e-5)


def test_tapir_losses_options_and_large_logits():
    gt = np.zeros((1, 1, 2, 2))
    pred = gt + np.array([[3.0, 4.0], [0.0, 0.0]]) / 8  # 5 px at raster 8 (exact in binary)
    visible = np.ones((1, 1, 2))
    vis = np.array([[[-100.0, 100.0]]])  # BCE 100 and 0 (not inf: computed from logits)
    cert = np.zeros((1, 1, 2))
    position, visibility, certainty = tapir_losses(
        tensor(pred), tensor(vis), tensor(cert), tensor(gt), tensor(visible),
        raster=8.0, huber_delta=1.0, certainty_threshold=5.0)
    # Huber of the 5 px distance (not of each coordinate): 1 * (5 - 0.5), and 0
    assert value(position) == pytest.approx(4.5 / 2, rel=1e-5)
    assert value(visibility) == pytest.approx(50.0, rel=1e-5)
    assert value(certainty) == pytest.approx(math.log(2), rel=1e-5)  # both within 5 px (<=)


def gradient(fn, x):
    """d fn(x) / dx on the backend of the pass."""
    import keras
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        return np.asarray(jax.grad(fn)(tensor(x)))
    if backend == "tensorflow":
        import tensorflow as tf
        x = tf.Variable(np.asarray(x, "float32"))
        with tf.GradientTape() as tape:
            y = fn(x)
        return tape.gradient(y, x).numpy()
    import torch
    x = torch.tensor(np.asarray(x, "float32"), requires_grad=True)
    fn(x).backward()
    return x.grad.numpy()


def test_tapir_position_gradient_is_finite_at_zero_error():
    gt = np.full((1, 2, 2, 2), 0.25)
    visible = np.ones((1, 2, 2))
    pred = gt.copy()
    pred[0, 1, 1] += [3 / 256, 4 / 256]  # 5 px: beyond delta 4, gradient 4 * (3, 4) / 5 px

    def position(tracks):
        return tapir_losses(tracks, tensor(visible), tensor(visible), tensor(gt),
                                   tensor(visible))[0]
    grad = gradient(position, pred)
    expected = np.zeros_like(pred)
    expected[0, 1, 1] = 256 * 4 * np.array([0.6, 0.8]) / 4  # d/d(units), over 4 visible
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)


def test_tapir_losses_match_numpy():
    rng = np.random.default_rng(1)
    shape = (2, 5, 6)
    gt = rng.uniform(0, 1, shape + (2,))
    pred = gt + rng.normal(0, 8 / 256, gt.shape)
    visible = rng.random(shape) < 0.7
    vis, cert = rng.normal(0, 3, shape), rng.normal(0, 3, shape)
    got = tapir_losses(tensor(pred), tensor(vis), tensor(cert), tensor(gt), tensor(visible))
    for name, g, want in zip(("position", "visibility", "certainty"), got,
                             reference_tapir(pred, vis, cert, gt, visible)):
        np.testing.assert_allclose(value(g), want, rtol=1e-4, err_msg=name)


# --- boxes -------------------------------------------------------------------------------

@pytest.mark.parametrize("pred, gt, expected", [
    ([0, 0, 2, 2], [1, 1, 3, 3], 1 / 7 - 2 / 9),   # inter 1, union 7, hull 9
    ([0, 0, 2, 2], [0, 0, 2, 2], 1.0),
    ([0, 0, 1, 1], [2, 2, 3, 3], -7 / 9),           # disjoint: inter 0, union 2, hull 9
    ([0, 0, 1, 4], [0, 2, 1, 6], 2 / 6 - 0 / 6),    # overlap 2, union 6 = hull
    ([2, 2, 0, 0], [0, 0, 2, 2], 0.0),              # inverted pred: area 0, hull = gt
])
def test_generalized_iou_by_hand(pred, gt, expected):
    assert value(generalized_iou(tensor(pred), tensor(gt))) == pytest.approx(expected, abs=1e-6)


def random_boxes(rng, shape):
    corner = rng.uniform(0, 1, shape + (2,))
    return np.concatenate([corner, corner + rng.uniform(0.05, 0.5, shape + (2,))], axis=-1)


def test_generalized_iou_matches_numpy_and_is_symmetric():
    rng = np.random.default_rng(2)
    pred, gt = random_boxes(rng, (3, 4, 5)), random_boxes(rng, (3, 4, 5))
    got = value(generalized_iou(tensor(pred), tensor(gt)))
    want = np.array([reference_giou(p, g) for p, g in zip(pred.reshape(-1, 4), gt.reshape(-1, 4))])
    np.testing.assert_allclose(got.reshape(-1), want, rtol=1e-5, atol=1e-6)
    assert (got >= -1).all() and (got <= 1).all()
    np.testing.assert_allclose(value(generalized_iou(tensor(gt), tensor(pred))), got, atol=1e-6)


def test_box_losses_by_hand_and_mask():
    gt = np.zeros((1, 1, 3, 4))
    gt[..., 2:] = 2.0  # [0, 0, 2, 2] in every frame
    pred = gt.copy()
    pred[0, 0, 1] = [1, 1, 3, 3]
    pred[0, 0, 2] = [50, 50, 60, 60]  # masked out
    mask = np.array([[[True, True, False]]])
    l1, giou = box_losses(tensor(pred), tensor(gt), tensor(mask))
    assert value(l1) == pytest.approx((0 + 4) / 2, rel=1e-6)
    assert value(giou) == pytest.approx((0 + 1 - (1 / 7 - 2 / 9)) / 2, rel=1e-5)


def test_box_losses_match_numpy():
    rng = np.random.default_rng(3)
    pred, gt = random_boxes(rng, (2, 3, 4)), random_boxes(rng, (2, 3, 4))
    mask = rng.random((2, 3, 4)) < 0.6
    l1, giou = box_losses(tensor(pred), tensor(gt), tensor(mask))
    np.testing.assert_allclose(value(l1), np.abs(pred - gt).sum(-1)[mask].mean(), rtol=1e-5)
    want = np.mean([1 - reference_giou(p, g) for p, g in zip(pred[mask], gt[mask])])
    np.testing.assert_allclose(value(giou), want, rtol=1e-5)


# --- pose --------------------------------------------------------------------------------

def test_rotation_from_6d_of_the_identity_and_of_non_orthonormal_input():
    for six in ([1, 0, 0, 0, 1, 0], [2, 0, 0, 1, 3, 0]):  # the second is scaled and skewed
        np.testing.assert_allclose(value(rotation_from_6d(tensor(six))), np.eye(3), atol=1e-6)


def test_a_known_rotation_round_trips_through_6d():
    rotation = rodrigues([1.0, -2.0, 0.5], 1.1)
    six = np.concatenate([rotation[0], rotation[1]])  # rows b1, b2
    np.testing.assert_allclose(value(rotation_from_6d(tensor(six))), rotation, atol=1e-6)
    about_z = rodrigues([0, 0, 1], math.pi / 2)  # rows (0, -1, 0), (1, 0, 0), (0, 0, 1)
    np.testing.assert_allclose(value(rotation_from_6d(tensor([0, -1, 0, 1, 0, 0]))),
                               about_z, atol=1e-6)


def test_rotation_from_6d_is_orthonormal_with_det_one_and_matches_numpy():
    rng = np.random.default_rng(4)
    six = rng.normal(size=(2, 5, 6))
    got = value(rotation_from_6d(tensor(six)))
    assert got.shape == (2, 5, 3, 3)
    np.testing.assert_allclose(got @ np.swapaxes(got, -1, -2), np.broadcast_to(np.eye(3), got.shape),
                               atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(got), 1.0, atol=1e-5)
    want = np.array([reference_rotation_from_6d(x) for x in six.reshape(-1, 6)]).reshape(got.shape)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_pose_losses_by_hand():
    gt = np.tile(np.eye(4), (1, 2, 1, 1))
    gt[0, :, :3, 3] = [1.0, 2.0, 3.0]
    rotation = np.tile(np.eye(3), (1, 2, 1, 1))
    rotation[0, 0, 0, 1] = 0.3  # L1 0.3 in frame 0, 0 in frame 1
    translation = np.array([[[1.5, 2.0, 1.0], [1.0, 2.0, 3.0]]])  # errors (0.5, 0, -2) and 0
    expected = {"l1": 2.5 / 2, "l2": 4.25 / 2, "huber": (0.125 + 1.5) / 2}
    halved = {"l1": 1.25 / 2, "l2": 1.0625 / 2, "huber": (0.03125 + 0.5) / 2}  # scale 2
    for name in expected:
        rot, trans = pose_losses(tensor(rotation), tensor(translation), tensor(gt), name)
        assert value(rot) == pytest.approx(0.15, rel=1e-5)
        assert value(trans) == pytest.approx(expected[name], rel=1e-5), name
        _, trans = pose_losses(tensor(rotation), tensor(translation), tensor(gt), name, scale=2.0)
        assert value(trans) == pytest.approx(halved[name], rel=1e-5), name


def test_pose_losses_match_numpy():
    rng = np.random.default_rng(5)
    gt = np.tile(np.eye(4), (2, 3, 1, 1))
    gt[..., :3, :3] = [[rodrigues(rng.normal(size=3), rng.uniform(0, 1)) for _ in range(3)]
                       for _ in range(2)]
    gt[..., :3, 3] = rng.normal(size=(2, 3, 3))
    rotation = gt[..., :3, :3] + rng.normal(0, 0.1, (2, 3, 3, 3))
    translation = gt[..., :3, 3] + rng.normal(0, 2.0, (2, 3, 3))
    error = (translation - gt[..., :3, 3]) / 1.5
    per_frame = {"l1": np.abs(error), "l2": error ** 2, "huber": reference_huber(error, 1.0)}
    for name, terms in per_frame.items():
        rot, trans = pose_losses(tensor(rotation), tensor(translation), tensor(gt), name, 1.5)
        np.testing.assert_allclose(value(rot), np.abs(rotation - gt[..., :3, :3]).sum((-2, -1)).mean(),
                                   rtol=1e-5)
        np.testing.assert_allclose(value(trans), terms.sum(-1).mean(), rtol=1e-5, err_msg=name)
    with pytest.raises(ValueError, match="translation_loss must be one of"):
        pose_losses(tensor(rotation), tensor(translation), tensor(gt), "cosine")
