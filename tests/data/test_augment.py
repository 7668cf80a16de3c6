"""Per-clip augmentation keeps the ground truth of the procedural scenes consistent."""
import numpy as np
import pytest
from test_synthetic import _project

from keras4ds.data import synthetic
from keras4ds.data.augment import augment_clip, augment_dataset, boxes_from_segmentation
from keras4ds.data.synthetic import generate_clip_with_scene

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def sample():
    return generate_clip_with_scene(21, num_frames=6, height=32, width=40, num_tracks=128)


def _np(d):
    return {k: np.asarray(v) for k, v in d.items()}


def check_consistency(clip, extras, extra_tol=0.03):
    """The ground-truth checks of test_synthetic, on an (augmented) clip."""
    pw, ids = extras["track_points_world"], extras["track_object_ids"]
    t_, h, w = clip["segmentation"].shape
    # Tracks are the projections of the 3D points with intrinsics @ extrinsics.
    xy, z = _project(clip, pw)
    front = z > 0
    np.testing.assert_allclose(clip["tracks"][front], xy[front], atol=2e-3)
    vis = clip["visible"]
    n, t = np.nonzero(vis)
    x, y = clip["tracks"][n, t, 0], clip["tracks"][n, t, 1]
    assert np.all((x >= 0) & (x < w) & (y >= 0) & (y < h))
    iy, ix = np.floor(y).astype(int), np.floor(x).astype(int)
    # Visible points sit on their own object in the segmentation ...
    np.testing.assert_array_equal(clip["segmentation"][t, iy, ix], ids[n])
    # ... and the depth there is their camera z: the generator's tolerance (1% plus the
    # surface's slope over half a pixel) plus the augmentation's 3%.
    allowed = synthetic.pixel_depth_tolerance(extras["scene"], pw, ids, 0.01)[n, t]
    d = clip["depth"][t, iy, ix, 0]
    assert np.all(np.abs(d - z[n, t]) <= allowed + extra_tol * 1.05 * z[n, t] + 1e-4)
    # Boxes enclose exactly each object's pixels.
    for k in range(clip["boxes"].shape[0]):
        for tt in range(t_):
            rows, cols = np.nonzero(clip["segmentation"][tt] == k + 1)
            assert clip["box_visible"][k, tt] == (rows.size > 0)
            if rows.size:
                np.testing.assert_allclose(
                    clip["boxes"][k, tt] * [h, w, h, w],
                    [rows.min(), cols.min(), rows.max() + 1, cols.max() + 1], atol=1e-4)


def test_generated_clip_passes_the_checks(sample):
    check_consistency(*sample, extra_tol=0.0)


@pytest.mark.parametrize("seed", range(6))
def test_random_crop_flip_keeps_labels_consistent(sample, seed):
    clip, extras = sample
    out, params = augment_clip(clip, [seed, 7], return_params=True, crop_scale=(0.3, 1.0))
    out = _np(out)
    assert out["video"].shape == clip["video"].shape
    assert set(out) == set(clip)
    check_consistency(out, extras)
    # Extrinsics untouched; a flipped clip has a mirrored camera (negative fx).
    np.testing.assert_array_equal(out["extrinsics"], clip["extrinsics"])
    assert (out["intrinsics"][0, 0, 0] < 0) == bool(params["flip"])
    # Points never become visible.
    assert not np.any(out["visible"] & ~clip["visible"])


def test_flip_only_and_crop_only_are_exact(sample):
    clip, extras = sample
    # Flip only: everything mirrors exactly.
    out = _np(augment_clip(clip, [0, 0], crop_scale=(1, 1), crop_aspect=(1, 1), flip_prob=1.0,
                           brightness=0, contrast=0, saturation=0, hue=0))
    np.testing.assert_allclose(out["video"], clip["video"][:, :, ::-1], atol=1e-6)
    np.testing.assert_array_equal(out["depth"], clip["depth"][:, :, ::-1])
    np.testing.assert_array_equal(out["visible"], clip["visible"])
    np.testing.assert_allclose(out["tracks"][..., 0], 40 - clip["tracks"][..., 0], atol=1e-4)
    check_consistency(out, extras, extra_tol=0.0)
    # Crop at native scale (output = crop size): a pure shift.
    out, p = augment_clip(clip, [3, 1], output_size=(16, 20), crop_scale=(0.25, 0.25),
                          crop_aspect=(1, 1), flip_prob=0.0, return_params=True)
    out = _np(out)
    y0, x0, ch, cw = np.asarray(p["crop"])
    assert (ch, cw) == (16, 20)
    np.testing.assert_array_equal(out["depth"], clip["depth"][:, y0:y0 + 16, x0:x0 + 20])
    np.testing.assert_array_equal(out["segmentation"],
                                  clip["segmentation"][:, y0:y0 + 16, x0:x0 + 20])
    check_consistency(out, extras, extra_tol=0.0)


def test_one_draw_per_clip_and_deterministic(sample):
    clip, _ = sample
    a = _np(augment_clip(clip, [5, 5]))
    b = _np(augment_clip(clip, [5, 5]))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    # Every frame got the same geometry: a static scene stays static.
    static = synthetic.generate_clip(3, num_frames=3, height=16, width=16, num_tracks=8,
                                     camera_motion="static", object_motion="static")
    out = _np(augment_clip(static, [1, 2]))
    np.testing.assert_allclose(out["video"][0], out["video"][2], atol=1e-6)
    np.testing.assert_array_equal(out["depth"][0], out["depth"][2])


def test_boxes_without_segmentation_are_mapped(sample):
    clip, _ = sample
    no_seg = {k: v for k, v in clip.items() if k != "segmentation"}
    out = _np(augment_clip(no_seg, [2, 3], crop_scale=(1, 1), crop_aspect=(1, 1),
                           flip_prob=1.0))
    ref = clip["boxes"].copy()
    ref[..., 1], ref[..., 3] = 1 - clip["boxes"][..., 3], 1 - clip["boxes"][..., 1]
    ref = np.where(clip["box_visible"][..., None], ref, 0)
    np.testing.assert_allclose(out["boxes"], ref, atol=1e-6)


def test_boxes_from_segmentation_matches_generator(sample):
    clip, _ = sample
    boxes, vis = boxes_from_segmentation(clip["segmentation"], clip["boxes"].shape[0])
    np.testing.assert_allclose(boxes.numpy(), clip["boxes"], atol=1e-6)
    np.testing.assert_array_equal(vis.numpy(), clip["box_visible"])


def test_augment_dataset_in_pipeline():
    from keras4ds.data.synthetic_tf import synthetic_dataset

    ds = synthetic_dataset(3, num_frames=2, height=16, width=16, num_tracks=8)
    ds = augment_dataset(ds, seed=1, output_size=(8, 12)).batch(3)
    batch = next(iter(ds))
    assert batch["video"].shape == (3, 2, 8, 12, 3)
    assert batch["depth"].shape == (3, 2, 8, 12, 1)
    again = next(iter(augment_dataset(
        synthetic_dataset(3, num_frames=2, height=16, width=16, num_tracks=8),
        seed=1, output_size=(8, 12)).batch(3)))
    np.testing.assert_array_equal(batch["tracks"].numpy(), again["tracks"].numpy())
