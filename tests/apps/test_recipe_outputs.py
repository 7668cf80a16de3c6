"""End to end: `keras4ds_apps.probe.main` (behind `recipes/probe_*.py`) writes its
metrics JSON, loss curve, readout file and pictures for every task, on a tiny encoder and
two clips.

Marked slow: the five runs take about 20 s on torch, 30 s on tensorflow and 80 s on jax
(2 shared CPU cores; jax mostly compiling; 2-3 times longer on a busy machine), so
`-m "not slow"` leaves them out."""
import json
import math

import numpy as np
import pytest
from PIL import Image

from keras4ds.data.video_io import read_frames
from keras4ds_apps.probe import main

pytestmark = pytest.mark.slow

FRAMES = 4
TINY = ["--frames", str(FRAMES), "--image-size", "32", "--width", "16", "--depth", "1",
        "--heads", "2", "--num-params", "16", "--num-heads", "2", "--steps", "2",
        "--batch-size", "2", "--train-clips", "2", "--eval-clips", "2"]
# a metric each task must report (the full sets are the metric modules' business)
HEADLINE = {"depth": "abs_rel", "pose": "ate", "points": "average_jaccard", "boxes": "box_iou",
            "classify": "top1"}
# pictures besides `<task>_loss.png`: stems written as .png and .mp4
PICTURES = {"depth": ["depth_example0", "depth_example1"], "pose": ["pose_trajectories"],
            "points": ["points_example0", "points_example1"],
            "boxes": ["boxes_example0", "boxes_example1"], "classify": []}


def assert_picture(path, min_size=(64, 64)):
    with Image.open(path) as image:
        image.load()
        width, height = image.size
        pixels = np.asarray(image.convert("RGB"))
    assert width >= min_size[0] and height >= min_size[1], (path, image.size)
    assert pixels.std() > 0, f"{path} is one flat colour"


@pytest.mark.parametrize("task", list(HEADLINE))
def test_recipe_writes_metrics_and_pictures(task, tmp_path):
    main(task, TINY + ["--out", str(tmp_path)])
    with open(tmp_path / f"{task}_metrics.json") as f:
        result = json.load(f)
    assert {"metrics", "baseline", "loss_history", "settings"} <= set(result)
    assert HEADLINE[task] in result["metrics"]
    assert set(result["baseline"]) == set(result["metrics"])
    for name in ("metrics", "baseline"):
        bad = {k: v for k, v in result[name].items() if not math.isfinite(v)}
        assert not bad, (name, bad)
    assert len(result["loss_history"]) == len(result["loss_steps"]) >= 1
    assert all(math.isfinite(v) for v in result["loss_history"])
    settings = result["settings"]
    assert (settings["steps"], settings["batch_size"], settings["frames"]) == (2, 2, FRAMES)
    assert settings["out"] == str(tmp_path)

    assert_picture(tmp_path / f"{task}_loss.png")
    for stem in PICTURES[task]:
        assert_picture(tmp_path / f"{stem}.png")
        frames = read_frames(tmp_path / f"{stem}.mp4")
        assert frames.shape[0] == FRAMES and frames.shape[-1] == 3, frames.shape
        assert min(frames.shape[1:3]) >= 32 and frames.std() > 0
    written = {p.name for p in tmp_path.iterdir()}
    expected = {f"{task}_metrics.json", f"{task}_loss.png", f"{task}_readout.keras"}
    expected |= {f"{stem}{ext}" for stem in PICTURES[task] for ext in (".png", ".mp4")}
    assert written == expected, written ^ expected
