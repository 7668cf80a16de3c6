"""Depth metrics: hand-worked cases, edge cases, a loop reference, Keras agreement."""

import itertools

import numpy as np
import pytest
from keras import ops

from keras4ds.metrics import DepthMetrics, depth_metrics

KEYS = ("abs_rel", "rmse", "delta1", "delta2", "delta3")


def reference_depth(pred, gt, alignment, align_per, average, space, pred_is_disparity=False,
                    min_depth=None, max_depth=None):
    """The definitions for (B, T, H, W) arrays, with explicit loops and lists of pixels."""
    num_videos, num_frames, height, width = gt.shape

    def pixels(b, frames):
        """Valid (pred, gt) values of video b, frames `frames`, as two lists."""
        p_list, g_list = [], []
        for t in frames:
            for i in range(height):
                for j in range(width):
                    g = gt[b, t, i, j]
                    if not np.isfinite(g) or g <= 0:
                        continue
                    if min_depth is not None and g <= min_depth:
                        continue
                    if max_depth is not None and g >= max_depth:
                        continue
                    p_list.append(pred[b, t, i, j])
                    g_list.append(g)
        return np.array(p_list), np.array(g_list)

    def align(p, g):
        """Aligned depth for pixel lists (prediction in its own space)."""
        p_depth = 1 / p if pred_is_disparity else p
        if alignment == "none":
            return p_depth
        src = 1 / p_depth if space == "disparity" else p_depth
        dst = 1 / g if space == "disparity" else g
        if alignment == "median":
            fitted = src * (np.median(dst) / np.median(src))
        else:
            design = np.stack([src, np.ones_like(src)], axis=1)
            (s, t), *_ = np.linalg.lstsq(design, dst, rcond=None)
            fitted = s * src + t
        if space == "disparity":
            if max_depth is not None:
                fitted = np.maximum(fitted, 1 / max_depth)
            return 1 / fitted
        return fitted

    def metrics(d, g):
        if min_depth is not None:
            d = np.maximum(d, min_depth)
        if max_depth is not None:
            d = np.minimum(d, max_depth)
        ratio = np.where(d > 0, np.maximum(d / g, g / np.where(d > 0, d, 1)), np.inf)
        return [np.mean(np.abs(d - g) / g), np.sqrt(np.mean((d - g) ** 2))] + [
            np.mean(ratio < 1.25**k) for k in (1, 2, 3)
        ]

    aligned = {}  # (b, t) -> (aligned depth, gt) per frame
    for b in range(num_videos):
        if align_per == "video":
            frames = [pixels(b, [t]) for t in range(num_frames)]
            p_all = np.concatenate([p for p, _ in frames])
            g_all = np.concatenate([g for _, g in frames])
            d_all = align(p_all, g_all) if len(g_all) else p_all
            splits = np.split(d_all, np.cumsum([len(g) for _, g in frames])[:-1])
            for t, (d, (_, g)) in enumerate(zip(splits, frames)):
                aligned[b, t] = (d, g)
        else:
            for t in range(num_frames):
                p, g = pixels(b, [t])
                aligned[b, t] = (align(p, g) if len(p) else p, g)

    if average == "pixel":
        d = np.concatenate([v[0] for v in aligned.values()])
        g = np.concatenate([v[1] for v in aligned.values()])
        return dict(zip(KEYS, metrics(d, g)))
    groups = []
    for b in range(num_videos):
        if average == "video":
            d = np.concatenate([aligned[b, t][0] for t in range(num_frames)])
            g = np.concatenate([aligned[b, t][1] for t in range(num_frames)])
            if len(g):
                groups.append(metrics(d, g))
        else:
            for t in range(num_frames):
                if len(aligned[b, t][1]):
                    groups.append(metrics(*aligned[b, t]))
    return dict(zip(KEYS, np.mean(groups, axis=0)))


def random_depth(seed, shape=(2, 3, 6, 5)):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0.5, 8.0, shape)
    pred = 1.3 * gt * rng.uniform(0.7, 1.4, shape) + 0.2
    gt[rng.random(shape) < 0.2] = 0.0  # missing depth
    gt[0, 0, 0, 0] = np.nan
    gt[1, 2] = 0.0  # a frame with no valid pixel
    return pred, gt


@pytest.mark.backend_independent
def test_hand_worked_single_frame():
    gt = np.array([[1.0, 2.0], [4.0, 0.0]])  # the 0 is missing depth
    pred = np.array([[1.1, 3.0], [2.0, 123.0]])
    m = depth_metrics(pred, gt)
    # Errors on valid pixels: 0.1, 1.0, -2.0; relative 0.1, 0.5, 0.5.
    assert m["abs_rel"] == pytest.approx((0.1 + 0.5 + 0.5) / 3)
    assert m["rmse"] == pytest.approx(np.sqrt((0.01 + 1 + 4) / 3))
    # Ratios max(d/g, g/d): 1.1, 1.5, 2.0 vs 1.25, 1.5625, 1.953125.
    assert (m["delta1"], m["delta2"], m["delta3"]) == pytest.approx((1 / 3, 2 / 3, 2 / 3))


@pytest.mark.backend_independent
def test_hand_worked_frame_versus_pixel_averaging():
    gt = np.array([[[1.0, 1.0]], [[1.0, 0.0]]])  # frame 0: two pixels, frame 1: one
    pred = np.array([[[1.0, 1.0]], [[4.0, 7.0]]])
    per_frame = depth_metrics(pred, gt)
    assert per_frame["abs_rel"] == pytest.approx((0 + 3) / 2)  # mean of frame means
    assert per_frame["rmse"] == pytest.approx((0 + 3) / 2)  # mean of frame RMSEs
    pooled = depth_metrics(pred, gt, average="pixel")
    assert pooled["abs_rel"] == pytest.approx(3 / 3)
    assert pooled["rmse"] == pytest.approx(np.sqrt(9 / 3))
    assert pooled["delta1"] == pytest.approx(2 / 3)


@pytest.mark.backend_independent
def test_alignments_undo_what_they_model():
    rng = np.random.default_rng(0)
    gt = rng.uniform(1, 5, (2, 3, 4, 4))
    assert depth_metrics(gt / 3, gt, alignment="median")["abs_rel"] == pytest.approx(0, abs=1e-12)
    affine = depth_metrics(0.5 * gt - 0.3, gt, alignment="scale_shift")
    assert affine["rmse"] == pytest.approx(0, abs=1e-12) and affine["delta1"] == 1.0
    disparity = 2.0 / gt + 0.1  # an affine-invariant disparity prediction
    aligned = depth_metrics(disparity, gt, alignment="scale_shift", space="disparity", pred_is_disparity=True)
    assert aligned["abs_rel"] == pytest.approx(0, abs=1e-12)
    # Per-video scale differences are undone by per-video alignment only when
    # the scale is shared by the video's frames.
    scaled = gt * np.array([1.0, 2.0, 3.0])[None, :, None, None]
    assert depth_metrics(scaled, gt, alignment="median")["abs_rel"] == pytest.approx(0, abs=1e-12)
    assert depth_metrics(scaled, gt, alignment="median", align_per="video")["abs_rel"] > 0.1
    # With no alignment, median scaling changes nothing for a perfect prediction.
    assert depth_metrics(gt, gt)["abs_rel"] == 0.0


@pytest.mark.backend_independent
def test_zero_and_invalid_depth_pixels_are_ignored():
    gt = np.array([[2.0, 0.0], [np.nan, np.inf]])
    pred = np.array([[2.0, 5.0], [5.0, 5.0]])
    m = depth_metrics(pred, gt)
    assert m == {"abs_rel": 0.0, "rmse": 0.0, "delta1": 1.0, "delta2": 1.0, "delta3": 1.0}
    only_first = np.array([[True, False], [False, False]])
    masked = depth_metrics(pred, np.array([[2.0, 4.0], [1.0, 1.0]]), valid=only_first)
    assert masked["abs_rel"] == 0.0
    bounded = depth_metrics(np.array([[2.0, 80.0]]), np.array([[2.0, 90.0]]), max_depth=85.0)
    assert bounded["abs_rel"] == 0.0  # the 90 m pixel is out of range


@pytest.mark.backend_independent
def test_non_positive_predictions_fail_every_delta():
    m = depth_metrics(np.array([[-1.0, 0.0]]), np.array([[1.0, 1.0]]))
    assert (m["delta1"], m["delta3"]) == (0.0, 0.0)
    assert m["abs_rel"] == pytest.approx(1.5)


@pytest.mark.backend_independent
def test_channel_axis_and_per_frame_reduction():
    pred, gt = random_depth(3)
    with_channel = depth_metrics(pred[..., None], gt[..., None], alignment="median")
    assert with_channel == pytest.approx(depth_metrics(pred, gt, alignment="median"))
    per_frame = depth_metrics(pred, gt, reduction="none")
    assert per_frame["abs_rel"].shape == (2, 3)
    assert np.isnan(per_frame["abs_rel"][1, 2])  # no valid pixel
    assert np.nanmean(per_frame["rmse"]) == pytest.approx(depth_metrics(pred, gt)["rmse"])
    assert depth_metrics(pred, gt, average="video", reduction="none")["delta1"].shape == (2,)


@pytest.mark.backend_independent
def test_input_errors():
    pred, gt = random_depth(0)
    with pytest.raises(ValueError, match="Shape mismatch"):
        depth_metrics(pred[:, :2], gt)
    bad = pred.copy()
    bad[0, 0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="`pred` must be finite .* 1 non-finite"):
        depth_metrics(bad, gt)
    with pytest.raises(ValueError, match="No valid pixel"):
        depth_metrics(pred, np.zeros_like(gt))
    with pytest.raises(ValueError, match="alignment"):
        depth_metrics(pred, gt, alignment="affine")
    with pytest.raises(ValueError, match="inverted"):
        depth_metrics(pred - 10, gt, alignment="median", space="disparity")


OPTIONS = list(itertools.product(["none", "median", "scale_shift"], ["frame", "video"],
                                 ["frame", "video", "pixel"], ["depth", "disparity"]))


@pytest.mark.backend_independent
@pytest.mark.parametrize("alignment,align_per,average,space", OPTIONS)
def test_matches_loop_reference_on_random_inputs(alignment, align_per, average, space):
    pred, gt = random_depth(1)
    kwargs = dict(alignment=alignment, align_per=align_per, average=average, space=space)
    expected = reference_depth(pred, gt, **kwargs)
    np.testing.assert_allclose(
        [depth_metrics(pred, gt, **kwargs)[k] for k in KEYS], [expected[k] for k in KEYS], rtol=1e-9
    )


@pytest.mark.backend_independent
def test_matches_loop_reference_with_bounds_and_disparity_predictions():
    pred, gt = random_depth(2)
    kwargs = dict(alignment="scale_shift", align_per="frame", average="frame", space="disparity",
                  pred_is_disparity=True, min_depth=1.0, max_depth=6.0)
    expected = reference_depth(1 / pred, gt, **kwargs)
    np.testing.assert_allclose(
        [depth_metrics(1 / pred, gt, **kwargs)[k] for k in KEYS], [expected[k] for k in KEYS], rtol=1e-9
    )


def assert_same(actual, expected):
    np.testing.assert_allclose([actual[k] for k in KEYS], [expected[k] for k in KEYS], rtol=2e-5)


def result_numpy(metric):
    return {k: float(ops.convert_to_numpy(v)) for k, v in metric.result().items()}


@pytest.mark.parametrize(
    "alignment,align_per,average,space",
    [("none", "frame", "frame", "depth"), ("median", "frame", "pixel", "depth"),
     ("scale_shift", "video", "video", "disparity"), ("median", "video", "frame", "disparity")],
)
def test_keras_metric_matches_numpy_across_batches(alignment, align_per, average, space):
    pred, gt = random_depth(4, shape=(4, 3, 6, 5))
    options = dict(alignment=alignment, align_per=align_per, average=average, space=space)
    metric = DepthMetrics(**options)
    metric.update_state(gt[:1].astype("float32"), pred[:1].astype("float32"))
    metric.update_state(gt[1:].astype("float32"), pred[1:].astype("float32"))
    expected = depth_metrics(pred, gt, **options)
    assert_same(result_numpy(metric), expected)


def test_keras_metric_sample_weight_is_the_valid_mask():
    pred, gt = random_depth(5)
    valid = np.random.default_rng(5).random(gt.shape) < 0.7
    metric = DepthMetrics(alignment="scale_shift")
    metric.update_state(gt[..., None], pred[..., None], sample_weight=valid[..., None].astype("float32"))
    expected = depth_metrics(pred, gt, valid=valid, alignment="scale_shift")
    assert_same(result_numpy(metric), expected)
    metric.reset_state()
    metric.update_state(gt, gt)
    assert result_numpy(metric)["abs_rel"] == 0.0


@pytest.mark.parametrize("average", ["frame", "pixel"])
def test_keras_metric_is_nan_until_a_valid_pixel_is_seen(average):
    pred, gt = random_depth(6)
    invalid = np.zeros_like(gt)
    invalid[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="No valid pixel"):
        depth_metrics(pred, invalid, average=average)
    metric = DepthMetrics(average=average)
    assert np.isnan(list(result_numpy(metric).values())).all()  # nothing seen yet
    metric.update_state(invalid.astype("float32"), pred.astype("float32"))
    assert np.isnan(list(result_numpy(metric).values())).all()
    metric.update_state(gt.astype("float32"), pred.astype("float32"))  # the invalid batch adds nothing
    assert_same(result_numpy(metric), depth_metrics(pred, gt, average=average))
    metric.reset_state()
    assert np.isnan(list(result_numpy(metric).values())).all()
