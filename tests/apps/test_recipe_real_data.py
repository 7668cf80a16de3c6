"""The probe recipe on real-data files (`--data`, `--eval-data`), end to end."""
import json
import os

import numpy as np
import pytest
from format_writers import tapvid_video, write_box_video, write_pickle

from keras4ds_apps import probe

TINY = ["--frames", "4", "--image-size", "32", "--width", "16", "--depth", "1", "--heads", "2",
        "--patch-size", "2", "8", "8", "--steps", "2", "--batch-size", "2", "--num-params", "16",
        "--train-clips", "2", "--eval-clips", "2"]


def _pickle(path, seed):
    video = tapvid_video(seed, t=8, h=24, w=32, n=6)
    video["occluded"][:, 0] = False  # every track visible somewhere in each window
    video["occluded"][:, 4] = False
    return write_pickle(path, {f"video{seed}": video})


def test_boxes_recipe_trains_and_scores_on_box_track_files(tmp_path):
    from keras4ds.data.synthetic import generate_clip

    for split, seed in (("train", 0), ("eval", 1)):
        os.makedirs(tmp_path / split)
        clip = generate_clip(seed, num_frames=8, height=32, width=32, num_tracks=4, num_objects=2)
        clip["boxes"][:, :, :], clip["box_visible"][:] = [0.2, 0.2, 0.6, 0.7], True
        write_box_video(str(tmp_path / split), "cars", clip)
    out = str(tmp_path / "out")
    result = probe.main("boxes", [*TINY, "--data", f"boxtracks:{tmp_path / 'train'}",
                                   "--eval-data", f"boxtracks:{tmp_path / 'eval'}", "--out", out])
    assert np.isfinite(result["metrics"]["box_iou"])
    assert json.load(open(os.path.join(out, "boxes_metrics.json")))["metrics"] == result["metrics"]


def test_points_recipe_trains_and_scores_on_tapvid_files(tmp_path):
    train = _pickle(tmp_path / "train.pkl", 0)
    held_out = _pickle(tmp_path / "eval.pkl", 1)
    out = str(tmp_path / "out")
    result = probe.main("points", [*TINY, "--data", f"tapvid:{train}",
                                    "--eval-data", f"tapvid:{held_out}", "--out", out])
    assert np.isfinite(result["metrics"]["average_jaccard"])
    saved = json.load(open(os.path.join(out, "points_metrics.json")))
    assert saved["settings"]["data"] == f"tapvid:{train}"
    assert saved["settings"]["eval_data"] == f"tapvid:{held_out}"
    assert os.path.exists(os.path.join(out, "points_loss.png"))


def test_recipe_refuses_bad_data(tmp_path):
    train = _pickle(tmp_path / "train.pkl", 0)
    with pytest.raises(ValueError, match="same source"):
        probe.main("points", [*TINY, "--data", f"tapvid:{train}",
                               "--eval-data", f"tapvid:{tmp_path}/./train.pkl",
                               "--out", str(tmp_path / "o")])
    with pytest.raises(ValueError, match="task 'boxes' needs one of the formats \\['boxtracks'\\]"):
        probe.main("boxes", [*TINY, "--data", f"tapvid:{train}", "--out", str(tmp_path / "o")])
