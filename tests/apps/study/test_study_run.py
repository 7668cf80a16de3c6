"""A whole (very small) study on the real MAE and readouts: outputs, resume, progress."""
import json
import os

import numpy as np
import pytest

from keras4ds_apps.study import BUDGETS, EncoderSize, run_study, runner

BUDGET = BUDGETS["tiny"].replace(
    sizes=(EncoderSize.parse("a:8:1:2"), EncoderSize.parse("b:16:1:2")),
    tasks=("boxes",), pretrain_steps=8, pretrain_clips=8, probe_steps=2,
    probe_train_clips=4, eval_clips=2, num_tracks=8, decoder_width=16, decoder_depth=1,
    decoder_heads=2, probe_width=16)


class _Interrupt(Exception):
    pass


def test_study_writes_outputs_and_resumes_after_interruption(tmp_path, monkeypatch):
    out = str(tmp_path / "study")
    # Interrupt the pretraining of the second size at step 5 (checkpoints every 2 steps).
    original = runner._LossRecorder.on_train_batch_end

    def interrupting(self, batch, logs=None):
        original(self, batch, logs)
        if self.bar.desc.endswith("b") and self.start_step + batch + 1 == 5:
            raise _Interrupt

    monkeypatch.setattr(runner._LossRecorder, "on_train_batch_end", interrupting)
    with pytest.raises(_Interrupt):
        run_study(out, BUDGET)
    finished = sorted(os.listdir(os.path.join(out, "probes")))
    assert [f for f in finished if f.endswith(".json")] == ["mae_a_boxes.json", "random_a_boxes.json"]
    partial = json.load(open(os.path.join(out, "pretrain", "b_partial_loss.json")))
    assert sorted(map(int, partial)) == [1, 2, 3, 4]

    monkeypatch.setattr(runner._LossRecorder, "on_train_batch_end", original)
    results = run_study(out, BUDGET)
    # Resumed: size a and its probes reused; b's pretraining went on from step 4.
    assert results["timing"]["stages_skipped"] == 3
    assert results["timing"]["stages_run"] == 3
    assert len(results["pretrain"]["b"]["loss"]) == BUDGET.pretrain_steps
    assert np.all(np.isfinite(results["pretrain"]["b"]["loss"]))

    for name in ("report.md", "results.json", "scaling.png", "boxes_scaling.png",
                 "mae_loss.png", "examples_boxes.png"):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    saved = json.load(open(os.path.join(out, "results.json")))
    assert saved["summary"]["boxes"]["metric"] == "box_iou"
    assert [r["size"] for r in saved["summary"]["boxes"]["rows"]] == ["a", "b"]
    assert saved["sizes"][0]["parameters"] < saved["sizes"][1]["parameters"]
    report = open(os.path.join(out, "report.md")).read()
    assert "## boxes" in report and "Pretrained beats random init beyond the spread" in report
    row = saved["summary"]["boxes"]["rows"][-1]
    assert row["mae_spread"] >= 0 and row["random_spread"] >= 0 and "trivial" in row
    assert set(saved["feature_probes"]["b"]) == {"mae", "random"}
    assert saved["pretrain"]["b"]["heldout_loss"] > 0

    again = run_study(out, BUDGET)
    assert again["timing"]["stages_run"] == 0
    assert [r["stages_run"] for r in again["runs"]] == [3, 0]
    with pytest.raises(ValueError, match="another budget"):
        run_study(out, BUDGET.replace(probe_steps=3))


def test_random_baseline_is_the_pretraining_start(tmp_path):
    from keras4ds_apps.study.encoders import initial_encoder, load_encoder
    from keras4ds_apps.study.store import StudyFolder

    folder = StudyFolder(str(tmp_path))
    size = BUDGET.sizes[0]
    first = initial_encoder(folder, BUDGET, size, 0)
    again = load_encoder(folder, "random", size)
    for a, b in zip(first.weights, again.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(FileNotFoundError, match="has not finished"):
        load_encoder(folder, "mae", size)


@pytest.mark.backend_independent  # the fine-tuning step itself is tested per backend in
# tests/readouts/test_readout_heads.py; this checks the study's plumbing once
def test_fine_tune_trains_the_encoder_with_the_head(tmp_path):
    budget = BUDGET.replace(sizes=BUDGET.sizes[:1] + (EncoderSize.parse("c:8:2:2"),),
                            pretrain_steps=2, fine_tune=True)
    results = run_study(str(tmp_path / "fine"), budget)
    entry = results["probes"]["boxes"]["c"]["mae"]
    assert entry["frozen"] is False and entry["hand_made_paths"] == []
    assert "fine-tuned readouts (encoder + head)" in open(tmp_path / "fine" / "report.md").read()
