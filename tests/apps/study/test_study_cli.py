"""`keras4ds study` and `recipes/study.py` run as a user runs them: in a subprocess, on this
checkout. Once per suite (the jax pass): the command's --backend picks torch over the
KERAS_BACKEND=jax it inherits; test_study_run.py runs the study on every backend."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from keras4ds_apps.study import BUDGETS

ROOT = pathlib.Path(__file__).resolve().parents[3]


def run(args, timeout):
    """`python *args` from the repository root, importing this checkout's keras4ds."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.backend_independent
def test_study_command_runs_the_tiny_budget_on_the_backend_it_names(tmp_path):
    out = tmp_path / "study"
    result = run(["-m", "keras4ds_apps.cli", "study", "--budget", "tiny", "--tasks", "boxes",
                  "--backend", "torch", "--out", str(out)], timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{out}/report.md" in result.stdout
    saved = json.loads((out / "results.json").read_text())
    assert saved["budget_name"] == "tiny" and saved["backend"] == "torch"
    assert [s["name"] for s in saved["sizes"]] == [s.name for s in BUDGETS["tiny"].sizes]
    assert list(saved["summary"]) == ["boxes"]
    assert "## boxes" in (out / "report.md").read_text()


@pytest.mark.backend_independent
def test_study_recipe_prints_the_study_help():
    result = run(["recipes/study.py", "--help"], timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("usage: keras4ds study")
    assert "--budget" in result.stdout and "--tasks" in result.stdout
