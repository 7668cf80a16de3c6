"""Conclusions and report text of the study, from hand-made result numbers."""
import pytest

from keras4ds_apps.study.report import beyond, render_markdown, summarise, task_conclusion

pytestmark = pytest.mark.backend_independent


def _rows(task_values, spread=0.01):
    """Rows with every spread `spread` unless a value gives its own."""
    defaults = {"mae_spread": spread, "random_spread": spread, "trivial_spread": spread}
    return [{"size": f"s{i}", "parameters": 10 ** (i + 3), **defaults, **v}
            for i, v in enumerate(task_values)]


def test_beyond_respects_direction_and_spread():
    assert beyond("points", 0.5, 0.01, 0.4, 0.01) and not beyond("points", 0.4, 0.01, 0.5, 0.01)
    assert beyond("depth", 0.2, 0.01, 0.3, 0.01) and not beyond("depth", 0.3, 0.01, 0.2, 0.01)
    assert not beyond("points", 0.5, 0.06, 0.4, 0.05)  # intervals overlap: a tie
    assert beyond("points", 0.5, 0.04, 0.4, 0.05)
    assert not beyond("depth", None, 0.0, 0.3, 0.0)
    assert not beyond("depth", float("nan"), 0.0, 0.3, 0.0)
    assert not beyond("depth", 0.2, None, 0.3, 0.01)  # no spread measured: no verdict


def test_conclusion_all_good_has_no_reasons():
    rows = _rows([{"mae": 0.5, "random": 0.4, "trivial": 0.1},
                  {"mae": 0.7, "random": 0.45, "trivial": 0.1}])
    c = task_conclusion("points", rows, {"s0": {"heldout_loss": 0.6}})
    assert c["pretrained_beats_random"] and c["pretrained_beats_random_at_largest"]
    assert c["largest_beats_smallest"] and c["largest_beats_trivial"] and not c["reasons"]


def test_a_gap_inside_the_spread_is_a_tie():
    rows = _rows([{"mae": 0.30, "random": 0.32, "trivial": 0.78},
                  {"mae": 0.28, "random": 0.31, "trivial": 0.78}], spread=0.02)
    c = task_conclusion("depth", rows, {})
    assert not c["pretrained_beats_random_at_largest"] and not c["largest_beats_smallest"]
    assert c["largest_beats_trivial"]
    text = " ".join(c["reasons"])
    assert "within the spread of each other on s0, s1 (a tie)" in text
    narrow = task_conclusion("depth", _rows([{"mae": 0.30, "random": 0.32, "trivial": 0.78},
                                             {"mae": 0.28, "random": 0.31, "trivial": 0.78}],
                                            spread=0.005), {})
    assert narrow["pretrained_beats_random"] and narrow["largest_beats_smallest"]


def test_conclusion_explains_failures_from_numbers():
    rows = _rows([{"mae": 0.33, "random": 0.28, "trivial": 0.31},
                  {"mae": 0.33, "random": 0.33, "trivial": 0.31}])
    c = task_conclusion("depth", rows, {"s0": {"heldout_loss": 0.5},
                                        "s1": {"heldout_loss": 0.49}})
    assert not c["pretrained_beats_random"] and not c["largest_beats_smallest"]
    assert not c["largest_beats_trivial"]
    text = " ".join(c["reasons"])
    assert "pretrained s0, s1 did not beat the trivial baseline" in text
    assert "held-out MAE loss (0.490) is within 3% of the smallest's (0.500)" in text
    assert "s1 (a tie)" in text
    assert "random-init encoder read out better beyond the spread on s0" in text


def test_mae_loss_at_the_mean_level_is_explained():
    rows = _rows([{"mae": 0.5, "random": 0.5, "trivial": 0.1},
                  {"mae": 0.5, "random": 0.5, "trivial": 0.1}])
    c = task_conclusion("points", rows, {"s0": {"heldout_loss": 0.998}})
    assert "held-out loss of 0.998" in " ".join(c["reasons"])


def test_points_all_occluded_is_explained():
    rows = _rows([{"mae": 0.0, "random": 0.0, "trivial": 0.15, "mae_delta": 0.3,
                   "random_delta": 0.25, "trivial_delta": 0.2},
                  {"mae": 0.0, "random": 0.0, "trivial": 0.15, "mae_delta": 0.35,
                   "random_delta": 0.3, "trivial_delta": 0.2}])
    text = " ".join(task_conclusion("points", rows, {})["reasons"])
    assert "marked the query points occluded" in text and "s1 0.35 / 0.3" in text


def _results(probes, feature_probes=None):
    sizes = [{"name": "a", "parameters": 1000}, {"name": "b", "parameters": 5000}]
    return {
        "sizes": sizes, "probes": probes, "backend": "jax", "budget_name": "test",
        "machine": "x", "feature_probes": feature_probes or {},
        "pretrain": {n: {"first_loss": 1.0, "last_loss": 0.5, "loss_drop": 0.5,
                         "heldout_loss": h, "heldout_mean_baseline": 0.998, "seconds": 60.0}
                     for n, h in (("a", 0.7), ("b", 0.6))},
        "budget": {"num_frames": 16, "image_size": 64, "patch_size": [2, 8, 8],
                   "pretrain_steps": 10, "pretrain_batch": 2, "mask_ratio": 0.95,
                   "pretrain_clips": 4, "probe_steps": 3, "probe_batch": 2,
                   "probe_train_clips": 4, "eval_clips": 2, "bootstrap": 50},
        "runs": [{"seconds": 90.0, "stages_run": 5, "load_average": 1.5}],
        "timing": {"total_seconds": 90.0, "stages_run": 5, "stages_skipped": 1,
                   "stage_seconds": 80.0, "load_average": 1.5},
    }


def _entry(task_key, mae, random, spread=0.01):
    return {"mae": {"metrics": {task_key: mae}, "trivial": {task_key: 0.2},
                    "spread": {task_key: spread}, "trivial_spread": {task_key: 0.02}},
            "random": {"metrics": {task_key: random}, "spread": {task_key: spread}}}


def test_summarise_rows_carry_spreads_and_markdown_shows_them():
    probes = {"boxes": {n: _entry("box_iou", m, r) for n, m, r in (("a", 0.5, 0.4),
                                                                   ("b", 0.45, 0.5))},
              "classify": {n: _entry("top1", m, r) for n, m, r in (("a", 0.6, 0.4),
                                                                   ("b", 0.7, 0.5))}}
    feature = {"a": {"mae": {"log_depth": 0.3}, "random": {"log_depth": 0.2}},
               "b": {"mae": {"log_depth": 0.4}, "random": {"log_depth": 0.25}}}
    results = _results(probes, feature)
    s = summarise(results)["summary"]
    row = s["boxes"]["rows"][0]
    assert {"size", "parameters", "mae", "random", "trivial", "mae_spread",
            "random_spread"} <= set(row)
    assert row["mae_spread"] == 0.01 and row["trivial_spread"] == 0.02
    assert s["boxes"]["pretrained_beats_random_per_size"] == {"a": True, "b": False}
    assert not s["boxes"]["largest_beats_smallest"]
    text = render_markdown(results)
    assert "| a | 1,000 | 0.5 ± 0.01 | 0.4 ± 0.01 | 0.2 ± 0.02 |" in text
    assert "at the largest size: **no** (per size: a: yes, b: no)" in text
    # classify is reported, but the 4D verdict counts only the 4D tasks
    assert "classify (semantic reference, not a 4D task)" in text
    assert "On the 1 4D tasks" in text and "at the largest size on 0 of 1" in text
    assert "| b | 0.6 | 0.4 / 0.25 |" in text  # held-out MAE loss and feature-probe R^2
    assert "1.5 min" in text and "50 resamples" in text
    assert "as the mean target scores 0.998" in text


def test_pose_is_scored_after_alignment_with_the_unaligned_error_shown_not_counted():
    def entry(ate, epe, auc):
        metrics = {"ate": ate, "end_point_error": epe, "auc_30": auc, "rpe_trans": 0.2}
        return {"metrics": metrics, "spread": {k: 0.01 for k in metrics},
                "trivial": {"ate": 0.5, "end_point_error": 0.9, "auc_30": 0.0, "rpe_trans": 0.1},
                "trivial_spread": {k: 0.02 for k in metrics}}

    probes = {"pose": {n: {"mae": entry(0.12, 0.93, 0.23), "random": entry(0.17, 0.92, 0.07)}
                       for n in ("a", "b")}}
    results = _results(probes)
    s = summarise(results)["summary"]["pose"]
    assert s["metric"] == "ate" and s["pretrained_beats_random_at_largest"]
    assert s["rows"][-1]["secondary"]["end_point_error"]["mae"] == 0.93
    text = render_markdown(results)
    assert ("Not counted, end-point error without scale alignment, m at b (pretrained / "
            "random / trivial): 0.93 ± 0.01 / 0.92 ± 0.01 / 0.9, a tie within the spread.") in text
    assert "relative-pose AUC@30 (scale-free) at b" in text and "pretrained ahead" in text
    assert "Sim(3) alignment" in text


def test_matching_accuracy_is_labelled_as_such_in_the_causes():
    feature = {n: {"mae": {"log_depth": 0.3, "matching": 0.4},
                   "random": {"log_depth": 0.2, "matching": 0.3}} for n in ("a", "b")}
    results = _results({"boxes": {n: _entry("box_iou", 0.5, 0.4) for n in ("a", "b")}}, feature)
    summarise(results)
    text = render_markdown(results)
    assert "matching accuracy (MAE / random)" in text and "matching R^2" not in text
