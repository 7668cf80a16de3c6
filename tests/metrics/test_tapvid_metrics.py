"""TAP-Vid metrics: hand-worked cases, edge cases, a loop reference, Keras agreement."""

import math

import numpy as np
import pytest
from keras import ops

from keras4ds.metrics import TAPVID_THRESHOLDS, TapVidMetrics, tapvid_metrics, to_tapvid_raster

KEYS = (
    ["occlusion_accuracy", "average_jaccard", "average_pts_within_thresh"]
    + [f"jaccard_{d}" for d in TAPVID_THRESHOLDS]
    + [f"pts_within_{d}" for d in TAPVID_THRESHOLDS]
)


def reference_tapvid(query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks, query_mode):
    """The TAP-Vid definition written out with loops over videos, tracks and frames."""
    out = {key: [] for key in KEYS}
    for b in range(len(query_points)):
        n_eval = n_occ_ok = n_vis = 0
        n_within = dict.fromkeys(TAPVID_THRESHOLDS, 0)
        n_tp = dict.fromkeys(TAPVID_THRESHOLDS, 0)
        n_fp = dict.fromkeys(TAPVID_THRESHOLDS, 0)
        for n in range(len(query_points[b])):
            q = int(round(float(query_points[b, n, 0])))  # Python rounds halves to even too
            for t in range(gt_tracks.shape[2]):
                scored = t > q if query_mode == "first" else t != q
                if not scored:
                    continue
                gt_vis = not gt_occluded[b, n, t]
                pred_vis = not pred_occluded[b, n, t]
                dx = float(pred_tracks[b, n, t, 0]) - float(gt_tracks[b, n, t, 0])
                dy = float(pred_tracks[b, n, t, 1]) - float(gt_tracks[b, n, t, 1])
                dist = math.hypot(dx, dy)
                n_eval += 1
                n_occ_ok += gt_vis == pred_vis
                n_vis += gt_vis
                for d in TAPVID_THRESHOLDS:
                    close = dist < d
                    n_within[d] += gt_vis and close
                    n_tp[d] += gt_vis and close and pred_vis
                    n_fp[d] += pred_vis and not (gt_vis and close)

        def ratio(a, c):
            return a / c if c else math.nan

        out["occlusion_accuracy"].append(ratio(n_occ_ok, n_eval))
        for d in TAPVID_THRESHOLDS:
            out[f"pts_within_{d}"].append(ratio(n_within[d], n_vis))
            out[f"jaccard_{d}"].append(ratio(n_tp[d], n_vis + n_fp[d]))
        out["average_pts_within_thresh"].append(
            np.mean([out[f"pts_within_{d}"][-1] for d in TAPVID_THRESHOLDS])
        )
        out["average_jaccard"].append(np.mean([out[f"jaccard_{d}"][-1] for d in TAPVID_THRESHOLDS]))
    return {key: np.array(v) for key, v in out.items()}


def random_case(seed, batch=3, num_points=7, num_frames=9, dtype=np.float32):
    rng = np.random.default_rng(seed)
    query_t = rng.integers(0, num_frames, (batch, num_points)).astype(dtype)
    query_t += rng.choice([0.0, 0.3, -0.3, 0.5], query_t.shape).astype(dtype)  # rounding
    query_t = np.clip(query_t, 0, num_frames - 1)
    gt_tracks = rng.uniform(0, 256, (batch, num_points, num_frames, 2)).astype(dtype)
    pred_tracks = gt_tracks + rng.normal(0, 6, gt_tracks.shape).astype(dtype)
    yx = gt_tracks[np.arange(batch)[:, None], np.arange(num_points), np.round(query_t).astype(int)]
    return dict(
        query_points=np.concatenate([query_t[..., None], yx[..., ::-1]], axis=-1),
        gt_occluded=rng.random((batch, num_points, num_frames)) < 0.3,
        gt_tracks=gt_tracks,
        pred_occluded=rng.random((batch, num_points, num_frames)) < 0.3,
        pred_tracks=pred_tracks,
    )


def assert_dicts_close(actual, expected, **tol):
    assert set(expected) <= set(actual)
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], err_msg=key, **tol)


def one_track(query_t, gt_xy, pred_xy, gt_occ, pred_occ):
    """A one-video, one-track case from per-frame lists."""
    return dict(
        query_points=np.array([[[query_t, 0.0, 0.0]]]),
        gt_tracks=np.array([[gt_xy]], float),
        pred_tracks=np.array([[pred_xy]], float),
        gt_occluded=np.array([[gt_occ]]),
        pred_occluded=np.array([[pred_occ]]),
    )


@pytest.mark.backend_independent
def test_hand_worked_first_mode():
    # Query at t=1, so only t=2, 3, 4 are scored (t=0 precedes the query, t=1 is it).
    case = one_track(
        query_t=1,
        gt_xy=[(0, 0), (10, 10), (10, 10), (20, 20), (30, 30)],
        pred_xy=[(99, 99), (99, 99), (10, 13), (20, 20), (30, 30)],
        gt_occ=[False, False, False, False, True],
        pred_occ=[True, True, False, True, False],
    )
    m = tapvid_metrics(**case, query_mode="first")
    # t=2: visible both, error 3 px; t=3: visible, exact, predicted occluded;
    # t=4: occluded, predicted visible (a false positive at every threshold).
    # Occlusion right at t=2 only: 1/3.
    assert m["occlusion_accuracy"][0] == pytest.approx(1 / 3)
    # Visible points t=2, 3.  Within 1 and 2 px: only t=3; within 4+: both.
    for d, frac in {1: 0.5, 2: 0.5, 4: 1.0, 8: 1.0, 16: 1.0}.items():
        assert m[f"pts_within_{d}"][0] == pytest.approx(frac)
    # Jaccard = TP / (visible + FP).  d=1,2: TP 0 (t=3 is predicted occluded),
    # FP = t=2 (too far) + t=4 (occluded) = 2 -> 0/4.  d>=4: TP 1 (t=2), FP 1 -> 1/3.
    for d, jac in {1: 0.0, 2: 0.0, 4: 1 / 3, 8: 1 / 3, 16: 1 / 3}.items():
        assert m[f"jaccard_{d}"][0] == pytest.approx(jac)
    assert m["average_jaccard"][0] == pytest.approx(1 / 5)
    assert m["average_pts_within_thresh"][0] == pytest.approx(0.8)


@pytest.mark.backend_independent
def test_hand_worked_strided_mode_scores_frames_before_the_query():
    case = one_track(
        query_t=2,
        gt_xy=[(5, 5), (6, 6), (7, 7)],
        pred_xy=[(5, 5.5), (0, 0), (7, 7)],
        gt_occ=[False, False, False],
        pred_occ=[False, False, False],
    )
    m = tapvid_metrics(**case, query_mode="strided")  # scores t=0, 1
    assert m["occlusion_accuracy"][0] == 1.0
    assert m["pts_within_1"][0] == 0.5  # t=0 within 0.5 px, t=1 off by 8.5 px
    assert m["pts_within_16"][0] == 1.0
    assert m["jaccard_1"][0] == pytest.approx(1 / 3)  # TP 1 / (2 visible + 1 FP)
    first = tapvid_metrics(**case, query_mode="first")  # nothing after t=2
    assert all(np.isnan(first[k][0]) for k in KEYS)


@pytest.mark.backend_independent
def test_threshold_is_strict_and_query_frame_rounds_half_to_even():
    # Error of exactly 1 px is not "within 1"; t = 0.5 rounds to 0, 1.5 to 2.
    base = dict(
        gt_xy=[(0, 0), (0, 0), (0, 0), (0, 0)],
        pred_xy=[(1, 0), (1, 0), (1, 0), (1, 0)],
        gt_occ=[False] * 4,
        pred_occ=[False] * 4,
    )
    m = tapvid_metrics(**one_track(query_t=0.5, **base), query_mode="first")
    assert m["pts_within_1"][0] == 0.0 and m["pts_within_2"][0] == 1.0
    assert m["occlusion_accuracy"][0] == 1.0  # 3 frames scored (t = 1, 2, 3)
    half = one_track(query_t=1.5, **base)
    half["pred_tracks"][0, 0, 2] = (9, 9)  # the query frame t=2 is never scored
    assert tapvid_metrics(**half, query_mode="first")["pts_within_2"][0] == 1.0


@pytest.mark.backend_independent
def test_all_occluded_and_query_in_last_frame():
    rng = np.random.default_rng(0)
    tracks = rng.uniform(0, 256, (1, 2, 5, 2))
    all_occ = np.ones((1, 2, 5), bool)
    query = np.array([[[0, 1, 1], [2, 1, 1]]], float)
    # Ground truth all occluded, prediction all occluded: occlusion is perfect,
    # nothing is visible, so position metrics and Jaccard are 0/0 = NaN.
    m = tapvid_metrics(query, all_occ, tracks, all_occ, tracks, "strided")
    assert m["occlusion_accuracy"][0] == 1.0
    assert np.isnan(m["pts_within_4"][0]) and np.isnan(m["jaccard_4"][0])
    # Predicting visible everywhere makes every scored point a false positive: AJ 0.
    m = tapvid_metrics(query, all_occ, tracks, ~all_occ, tracks, "strided")
    assert m["occlusion_accuracy"][0] == 0.0 and m["average_jaccard"][0] == 0.0
    # Query in the last frame: 'first' scores nothing for that track.
    visible = np.zeros((1, 2, 5), bool)
    last = np.array([[[4, 1, 1], [4, 1, 1]]], float)
    m = tapvid_metrics(last, visible, tracks, visible, tracks, "first")
    assert all(np.isnan(m[k][0]) for k in KEYS)
    m = tapvid_metrics(last, visible, tracks, visible, tracks, "strided")
    assert m["average_jaccard"][0] == 1.0 and m["occlusion_accuracy"][0] == 1.0
    # Only the second track queried last: the first track alone is scored.
    mixed = np.array([[[0, 1, 1], [4, 1, 1]]], float)
    pred = tracks.copy()
    pred[0, 1] += 100  # wrong, but never scored in 'first' mode
    assert tapvid_metrics(mixed, visible, tracks, visible, pred, "first")["average_jaccard"][0] == 1.0


@pytest.mark.backend_independent
@pytest.mark.parametrize("query_mode", ["first", "strided"])
@pytest.mark.parametrize("seed", range(4))
def test_matches_loop_reference_on_random_inputs(query_mode, seed):
    case = random_case(seed, dtype=np.float64)
    expected = reference_tapvid(**case, query_mode=query_mode)
    assert_dicts_close(tapvid_metrics(**case, query_mode=query_mode), expected, rtol=1e-12)


@pytest.mark.backend_independent
def test_per_video_values_and_shapes():
    case = random_case(5, batch=4)
    m = tapvid_metrics(**case, query_mode="first")
    assert set(KEYS) <= set(m)
    assert all(m[k].shape == (4,) for k in m)
    single = tapvid_metrics(**{k: v[2:3] for k, v in case.items()}, query_mode="first")
    assert_dicts_close({k: v[2:3] for k, v in m.items()}, single, rtol=0)


@pytest.mark.backend_independent
def test_input_errors():
    case = random_case(0)
    with pytest.raises(ValueError, match="query mode"):
        tapvid_metrics(**case, query_mode="last")
    with pytest.raises(ValueError, match="Shape mismatch"):
        tapvid_metrics(**{**case, "pred_tracks": case["pred_tracks"][:, :, :-1]}, query_mode="first")
    late = case["query_points"].copy()
    late[0, 0, 0] = 9  # T = 9, frames 0..8
    with pytest.raises(ValueError, match="Query frames"):
        tapvid_metrics(**{**case, "query_points": late}, query_mode="first")


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", ["pred_tracks", "gt_tracks", "query_points"])
def test_non_finite_inputs_are_refused_naming_the_input(name):
    case = random_case(4)
    case["gt_occluded"][0, 1, 2] = False
    bad = case[name].copy()
    bad[0, 1, 2] = np.nan if name == "query_points" else [np.nan, np.inf]
    with pytest.raises(ValueError, match=f"`{name}` must be finite .* [12] non-finite"):
        tapvid_metrics(**{**case, name: bad}, query_mode="strided")


@pytest.mark.backend_independent
def test_true_tracks_may_be_nan_at_occluded_points():
    case = random_case(5)
    case["gt_occluded"][0, 1, 2] = True
    missing = case["gt_tracks"].copy()
    missing[0, 1, 2] = np.nan
    assert_dicts_close(tapvid_metrics(**{**case, "gt_tracks": missing}, query_mode="strided"),
                       tapvid_metrics(**case, query_mode="strided"), rtol=0)


@pytest.mark.backend_independent
def test_to_tapvid_raster():
    xy = np.array([[0.5, 0.25], [1.0, 0.0]])
    np.testing.assert_allclose(to_tapvid_raster(xy, "unit"), [[128, 64], [256, 0]])
    np.testing.assert_allclose(to_tapvid_raster(xy * 2 - 1, "signed"), [[128, 64], [256, 0]])
    # 480x854 (height x width) DAVIS pixels to the 256x256 raster.
    np.testing.assert_allclose(to_tapvid_raster([[854.0, 480.0]], (480, 854)), [[256, 256]])
    tyx = np.array([[3.0, 240.0, 427.0]])
    np.testing.assert_allclose(to_tapvid_raster(tyx, (480, 854), "tyx"), [[3, 128, 128]])
    back = to_tapvid_raster(to_tapvid_raster(xy, "unit"), (256, 256), to_size=(1, 1))
    np.testing.assert_allclose(back, xy)
    with pytest.raises(ValueError):
        to_tapvid_raster(xy, "pixels")


def test_to_tapvid_raster_on_backend_tensors():
    xy = ops.convert_to_tensor(np.array([[0.5, 0.25]], "float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(to_tapvid_raster(xy, "unit")), [[128, 64]])


def keras_update(metric, case, sample_weight=None):
    metric.update_state(
        {"query_points": case["query_points"], "occluded": case["gt_occluded"], "tracks": case["gt_tracks"]},
        {"occluded": case["pred_occluded"], "tracks": case["pred_tracks"]},
        sample_weight=sample_weight,
    )


@pytest.mark.parametrize("query_mode", ["first", "strided"])
def test_keras_metric_matches_numpy_across_batches(query_mode):
    cases = [random_case(seed, batch=b) for seed, b in ((1, 3), (2, 1), (3, 4))]
    metric = TapVidMetrics(query_mode=query_mode)
    for case in cases:
        keras_update(metric, case)
    per_video = [tapvid_metrics(**c, query_mode=query_mode) for c in cases]
    expected = {k: np.concatenate([p[k] for p in per_video]).mean() for k in KEYS}
    result = {k: float(ops.convert_to_numpy(v)) for k, v in metric.result().items()}
    assert_dicts_close(result, expected, rtol=1e-6)
    metric.reset_state()
    keras_update(metric, cases[1])
    result = {k: float(ops.convert_to_numpy(v)) for k, v in metric.result().items()}
    assert_dicts_close(result, {k: per_video[1][k][0] for k in KEYS}, rtol=1e-6)


def test_keras_metric_sample_weight_drops_padded_videos():
    case = random_case(7, batch=3)
    case["gt_occluded"][2] = True  # a NaN video (nothing visible) ...
    case["pred_occluded"][2] = True
    metric = TapVidMetrics(query_mode="strided")
    keras_update(metric, case, sample_weight=np.array([1.0, 1.0, 0.0]))  # ... weighted out
    expected = tapvid_metrics(**{k: v[:2] for k, v in case.items()}, query_mode="strided")
    result = {k: float(ops.convert_to_numpy(v)) for k, v in metric.result().items()}
    assert_dicts_close(result, {k: v.mean() for k, v in expected.items()}, rtol=1e-6)
