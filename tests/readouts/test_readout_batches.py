"""Clip dicts -> probe batches, trivial baselines and their metrics (numpy only)."""
import numpy as np
import pytest

from keras4ds.readouts.batches import probe_batch, relative_poses
from keras4ds.readouts.evaluate import baseline_predictions, task_metrics

pytestmark = pytest.mark.backend_independent


def test_relative_poses_are_camera_to_first_camera(clips):
    ext = np.stack([c["extrinsics"] for c in clips[:2]])
    rel = relative_poses(ext)
    np.testing.assert_allclose(rel[:, 0], np.broadcast_to(np.eye(4), (2, 4, 4)), atol=1e-5)
    # a point at camera t's origin lands, in camera 0, where camera t's centre projects
    centre_world = -np.einsum("btji,btj->bti", ext[..., :3, :3], ext[..., :3, 3])
    centre_cam0 = np.einsum("bij,btj->bti", ext[:, 0, :3, :3], centre_world) + ext[:, :1, :3, 3]
    np.testing.assert_allclose(rel[..., :3, 3], centre_cam0, atol=1e-4)


def test_point_queries_start_on_visible_track_points(clips):
    x, y = probe_batch("points", clips[:3], num_queries=7, seed=3)
    assert x["query_points"].shape == (3, 7, 3) and y["tracks"].shape == (3, 7, 4, 2)
    t = x["query_points"][..., 0].astype(int)
    b, q = np.meshgrid(np.arange(3), np.arange(7), indexing="ij")
    assert np.all(y["visible"][b, q, t] == 1)
    assert np.all(y["visible"][b, q, :][np.arange(4) < t[..., None]] == 0)
    np.testing.assert_allclose(y["tracks"][b, q, t][..., ::-1], x["query_points"][..., 1:])
    again, _ = probe_batch("points", clips[:3], num_queries=7, seed=3)
    np.testing.assert_array_equal(again["query_points"], x["query_points"])


def test_batches_fail_clearly(clips):
    with pytest.raises(ValueError, match="task must be one of"):
        probe_batch("segmentation", clips[:1])
    with pytest.raises(KeyError, match="missing"):
        probe_batch("classify", [{k: v for k, v in clips[0].items() if k != "label"}])


@pytest.mark.parametrize("task", ["depth", "pose", "points", "boxes", "classify"])
def test_perfect_predictions_beat_the_baseline(clips, task):
    """The metric of the truth itself is perfect and better than the trivial answer's."""
    x, y = probe_batch(task, clips[:4], num_queries=8)
    truth = {"depth": y.get("depth"), "pose": {"pose": y.get("pose")},
             "points": {"tracks": y.get("tracks"), "visible": y.get("visible", 0) > 0.5},
             "boxes": y.get("boxes"),
             "classify": np.eye(2)[y["label"]] if task == "classify" else None}[task]
    best = task_metrics(task, x, y, truth)
    base = task_metrics(task, x, y, baseline_predictions(task, x, y, y))
    key, higher = {"depth": ("abs_rel", False), "pose": ("end_point_error", False),
                   "points": ("average_jaccard", True), "boxes": ("box_iou", True),
                   "classify": ("top1", True)}[task]
    perfect = 1.0 if higher else 0.0
    assert best[key] == pytest.approx(perfect, abs=1e-4)
    assert (base[key] < best[key]) if higher else (base[key] > best[key])


def test_points_metrics_are_the_plain_mean_over_videos(clips):
    """As tapnet and metrics.TapVidMetrics: a plain mean, a video with nothing to score is NaN."""
    x, y = probe_batch("points", clips[:3], num_queries=8)
    pred = baseline_predictions("points", x, y, y)

    def video(i, tree):
        return {k: v[i:i + 1] for k, v in tree.items()}
    singles = [task_metrics("points", video(i, x), video(i, y), video(i, pred)) for i in range(3)]
    together = task_metrics("points", x, y, pred)
    for key, value in together.items():
        assert value == pytest.approx(np.mean([s[key] for s in singles]), rel=1e-6)
    unscorable = {**y, "visible": np.zeros_like(y["visible"])}
    query_frames = x["query_points"][1, :, 0].astype(int)
    unscorable["visible"][1, np.arange(8), query_frames] = 1  # visible only where queried
    scored = task_metrics("points", x, unscorable, pred)
    assert np.isnan(scored["average_pts_within_thresh"])


def test_classification_metrics_keep_the_top5_key_below_five_classes(clips):
    _, y = probe_batch("classify", clips[:4])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    result = task_metrics("classify", {}, y, scores)
    assert set(result) == {"top1", "top5"} and result["top5"] == 1.0
    assert result["top1"] == np.mean(scores.argmax(1) == y["label"])
