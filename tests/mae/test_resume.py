"""Kill-and-resume: SIGKILL mid-training (and mid-checkpoint) then resume gives the same
final weights as an uninterrupted run."""
import os
import signal
import subprocess
import sys

import numpy as np

from .resume_child import train

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resume_child.py")


def _run(tmp_path, name, *flags):
    result = subprocess.run([sys.executable, CHILD, str(tmp_path / name),
                             str(tmp_path / f"{name}.npz"), *flags],
                            capture_output=True, text=True, timeout=300)
    return result


def _weights(path):
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


def test_sigkill_mid_training_and_mid_checkpoint_then_resume_matches(tmp_path):
    straight = train()  # uninterrupted, in this process, no checkpoints

    killed = _run(tmp_path, "killed", "--kill-after-step", "7")
    assert killed.returncode == -signal.SIGKILL
    assert sorted(os.listdir(tmp_path / "killed")) == ["3", "6"]
    # Resume from step 6, then die while writing the step-9 checkpoint.
    killed_in_save = _run(tmp_path, "killed", "--resume", "--kill-during-save", "9")
    assert killed_in_save.returncode == -signal.SIGKILL
    leftovers = os.listdir(tmp_path / "killed")
    assert "9" not in leftovers and any("tmp" in name for name in leftovers), leftovers
    resumed = _run(tmp_path, "killed", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    restarted = _weights(tmp_path / "killed.npz")
    assert len(straight) == len(restarted) > 10
    for a, b in zip(straight, restarted):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
