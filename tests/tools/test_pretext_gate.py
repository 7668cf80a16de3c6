"""`tools/pretext_gate.py`: ridge R^2 of every hidden state, pretrained and random init."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.backend_independent

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "pretext_gate.py")


def test_gate_scores_every_state_of_both_inits(tmp_path):
    out = tmp_path / "gate.json"
    run = subprocess.run(
        [sys.executable, TOOL, "--size", "w16:16:1:2", "--steps", "2", "--batch", "2",
         "--pretrain-clips", "4", "--fit-clips", "2", "--eval-clips", "2", "--tube-masking",
         "--mask-ratio", "0.9", "--raw-pixels", "--scene", "motion_scale=2", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["settings"]["tube_masking"] and result["settings"]["raw_pixels"]
    assert result["settings"]["scene"] == ["motion_scale=2"]
    assert 0 < result["heldout_loss"] and 0 < result["heldout_mean_baseline"]
    for init in ("random", "mae"):
        assert sorted(result["r2"][init]) == ["h0", "h1"]
        assert sorted(result["r2"][init]["h1"]) == sorted(
            ["log_depth", "objectness", "motion", "dx", "dy", "matching"])
        assert 0 <= result["r2"][init]["h1"]["matching"] <= 1
    assert 0 <= result["pixel_matching"] <= 1
    # Same initial weights: only training separates them (two steps change h_1).
    assert result["r2"]["mae"]["h1"] != result["r2"]["random"]["h1"]
    assert "| mae | h1 |" in run.stdout
