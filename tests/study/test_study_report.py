"""Conclusions and report text of the study, from hand-made result numbers."""
import pytest

from keras4ds.study.report import better, render_markdown, summarise, task_conclusion

pytestmark = pytest.mark.backend_independent


def _rows(task_values):
    return [{"size": f"s{i}", "parameters": 10 ** (i + 3), **v} for i, v in enumerate(task_values)]


def test_better_respects_direction_and_ties():
    assert better("points", 0.5, 0.4) and not better("points", 0.4, 0.5)
    assert better("depth", 0.2, 0.3) and not better("depth", 0.3, 0.2)
    assert not better("points", 0.5, 0.4999)  # under 1 %: a tie
    assert not better("depth", None, 0.3) and not better("depth", float("nan"), 0.3)


def test_conclusion_all_good_has_no_reasons():
    rows = _rows([{"mae": 0.5, "random": 0.4, "trivial": 0.1},
                  {"mae": 0.7, "random": 0.45, "trivial": 0.1}])
    c = task_conclusion("points", rows, {"s0": {"loss_drop": 0.6}})
    assert c["pretrained_beats_random"] and c["largest_beats_smallest"] and not c["reasons"]


def test_conclusion_explains_failures_from_numbers():
    rows = _rows([{"mae": 0.33, "random": 0.32, "trivial": 0.31},
                  {"mae": 0.33, "random": 0.33, "trivial": 0.31}])
    c = task_conclusion("depth", rows, {"s0": {"loss_drop": 0.1, "last_loss": 0.5},
                                        "s1": {"loss_drop": 0.12, "last_loss": 0.6}})
    assert not c["pretrained_beats_random"] and not c["largest_beats_smallest"]
    text = " ".join(c["reasons"])
    assert "trivial baseline" in text  # the head learned nothing
    assert "12%" in text  # the largest loss drop is quoted
    assert "s1" in text and "tie" in text
    assert "random-init encoder read out better on s0" in text


def test_same_mae_loss_at_every_size_is_explained():
    rows = _rows([{"mae": 0.30, "random": 0.32, "trivial": 0.78},
                  {"mae": 0.31, "random": 0.33, "trivial": 0.78}])
    same = task_conclusion("depth", rows, {"s0": {"loss_drop": 0.3, "last_loss": 0.757},
                                           "s1": {"loss_drop": 0.3, "last_loss": 0.745}})
    assert "within 3% of the smallest's (0.757)" in " ".join(same["reasons"])
    lower = task_conclusion("depth", rows, {"s0": {"loss_drop": 0.3, "last_loss": 0.757},
                                            "s1": {"loss_drop": 0.4, "last_loss": 0.6}})
    assert "within 3%" not in " ".join(lower["reasons"])


def test_summarise_and_markdown_tables():
    sizes = [{"name": "a", "parameters": 1000}, {"name": "b", "parameters": 5000}]
    probes = {"boxes": {n: {"mae": {"metrics": {"box_iou": m}, "trivial": {"box_iou": 0.2}},
                            "random": {"metrics": {"box_iou": r}}}
                        for n, m, r in (("a", 0.5, 0.4), ("b", 0.45, 0.5))}}
    results = {
        "sizes": sizes, "probes": probes, "backend": "jax", "budget_name": "test",
        "machine": "x", "pretrain": {n: {"first_loss": 1.0, "last_loss": 0.5, "loss_drop": 0.5,
                                         "seconds": 60.0} for n in ("a", "b")},
        "budget": {"num_frames": 16, "image_size": 64, "patch_size": [2, 8, 8],
                   "pretrain_steps": 10, "pretrain_batch": 2, "mask_ratio": 0.95,
                   "pretrain_clips": 4, "probe_steps": 3, "probe_batch": 2,
                   "probe_train_clips": 4, "eval_clips": 2},
        "runs": [{"seconds": 90.0, "stages_run": 5, "load_average": 1.5}],
        "timing": {"total_seconds": 90.0, "stages_run": 5, "stages_skipped": 1,
                   "stage_seconds": 80.0, "load_average": 1.5},
    }
    s = summarise(results)["summary"]["boxes"]
    assert s["pretrained_beats_random_per_size"] == {"a": True, "b": False}
    assert not s["largest_beats_smallest"]
    text = render_markdown(results)
    assert "| a | 1,000 | 0.5 | 0.4 | 0.2 |" in text
    assert "Pretrained beats random init at every size: **no** (a: yes, b: no)" in text
    assert "Pretrained beats random init on 0 of 1 tasks" in text
    assert "1.5 min" in text


def test_points_all_occluded_is_explained():
    rows = _rows([{"mae": 0.0, "random": 0.0, "trivial": 0.15, "mae_delta": 0.3,
                   "random_delta": 0.25, "trivial_delta": 0.2},
                  {"mae": 0.0, "random": 0.0, "trivial": 0.15, "mae_delta": 0.35,
                   "random_delta": 0.3, "trivial_delta": 0.2}])
    text = " ".join(task_conclusion("points", rows, {})["reasons"])
    assert "marked the query points occluded" in text and "s1 0.35 / 0.3" in text


def test_points_random_ahead_is_explained_by_the_pixel_decoders_fit():
    rows = [{"size": "s0", "mae": 0.18, "random": 0.21, "trivial": 0.15, "mae_r2": 0.72,
             "random_r2": 0.77},
            {"size": "s1", "mae": 0.19, "random": 0.23, "trivial": 0.15, "mae_r2": 0.83,
             "random_r2": 0.89}]
    text = " ".join(task_conclusion("points", rows, {})["reasons"])
    assert "R^2" in text and "s0 0.720 / 0.770, s1 0.830 / 0.890" in text
    rows[0]["mae_r2"] = None  # an attention-head study has no decoder: no such reason
    assert "R^2" not in " ".join(task_conclusion("points", rows, {})["reasons"])


def test_mae_loss_at_the_mean_level_is_explained():
    rows = _rows([{"mae": 0.5, "random": 0.5, "trivial": 0.1},
                  {"mae": 0.5, "random": 0.5, "trivial": 0.1}])
    c = task_conclusion("points", rows, {"s0": {"loss_drop": 0.2, "last_loss": 0.998}})
    text = " ".join(c["reasons"])
    assert "loss of 0.998" in text and "by at most" not in text
