"""`tools/mae_benchmark.py compare`: the curves of several convergence runs in one PNG."""
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

pytestmark = pytest.mark.backend_independent

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "mae_benchmark.py")


def _convergence_output(folder, decoder, target_ratio, seed, heldout):
    os.makedirs(folder)
    config = {"decoder": decoder, "decoder_width": 256, "decoder_depth": 2,
              "target_ratio": target_ratio, "lr": 3e-4, "seed": seed}
    run = {"width": 32, "depth": 2, "heldout_loss": heldout, "predict_mean_baseline": 1.0,
           "history": {"step": list(range(1, 31)), "loss": [1.0 - i / 100 for i in range(30)]}}
    with open(os.path.join(folder, "convergence.json"), "w") as f:
        json.dump({"config": config, "runs": [run]}, f)
    return str(folder)


def test_compare_labels_each_run_and_draws_them(tmp_path):
    runs = [_convergence_output(tmp_path / "a", "standard", None, 0, 0.75),
            _convergence_output(tmp_path / "b", "cross", 0.25, 1, 0.7612)]
    out = tmp_path / "curves.png"
    done = subprocess.run([sys.executable, TOOL, "compare", "--runs", *runs, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "standard 256/2, 100% of targets, lr 0.0003, seed 0: held out 0.7500",
        "cross 256/2, 25% of targets, lr 0.0003, seed 1: held out 0.7612"]
    assert Image.open(out).size[0] > 100
