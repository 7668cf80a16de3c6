"""`keras4ds probe TASK`: the probe recipes behind the one command line."""
import json

import pytest

from keras4ds_apps.cli import main

TINY = ["--frames", "4", "--image-size", "32", "--width", "16", "--depth", "1", "--heads", "2",
        "--num-params", "16", "--num-heads", "2", "--steps", "2", "--batch-size", "2",
        "--train-clips", "2", "--eval-clips", "2"]


def test_probe_runs_the_task_recipe(tmp_path):
    assert main(["probe", "boxes", *TINY, "--out", str(tmp_path)]) == 0
    result = json.load(open(tmp_path / "boxes_metrics.json"))
    assert "box_iou" in result["metrics"] and (tmp_path / "boxes_readout.keras").exists()


@pytest.mark.parametrize("argv", [["probe"], ["probe", "colour"]])
def test_probe_without_a_task_is_a_one_line_error(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    assert "keras4ds probe needs a task first, one of depth, pose" in capsys.readouterr().err
