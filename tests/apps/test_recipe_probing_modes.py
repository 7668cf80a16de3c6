"""The probe recipe's --feature-cache and --test-clips flags, end to end on tiny settings."""
import json
import os

import pytest

from keras4ds_apps.probe import main

TINY = ["--frames", "4", "--image-size", "32", "--train-clips", "4", "--eval-clips", "2",
        "--steps", "2", "--batch-size", "2",
        "--num-params", "16", "--num-heads", "2", "--scene-options",
        '{"num_tracks": 8, "num_objects": 1}']


@pytest.fixture
def preset(tmp_path):
    """A saved tiny encoder: a random-init encoder made by the recipe differs on every run."""
    from keras4ds.checkpoints import save_preset
    from keras4ds.models import FourDSEncoder
    save_preset(FourDSEncoder(16, 1, 64, 2, num_frames=4, image_size=(32, 32)), tmp_path / "enc")
    return str(tmp_path / "enc")


def test_classify_recipe_caches_features_and_writes_single_and_multi_clip_metrics(tmp_path,
                                                                                  preset):
    cache, out = str(tmp_path / "cache"), str(tmp_path / "out")
    args = TINY + ["--preset", preset, "--test-clips", "2", "--feature-cache", cache,
                   "--out", out]
    main("classify", args)
    with open(os.path.join(out, "classify_metrics.json")) as f:
        written = json.load(f)
    assert written["test_clips"] == 2
    assert set(written["metrics"]) == set(written["multi_clip_metrics"]) == {"top1", "top5"}
    assert "multi_clip_scores" not in written
    files = {name: os.stat(os.path.join(cache, name)).st_mtime_ns for name in os.listdir(cache)}
    assert len(files) == 3  # train clips, first eval windows, all eval windows
    again = main("classify", args)
    assert {n: os.stat(os.path.join(cache, n)).st_mtime_ns for n in os.listdir(cache)} == files
    assert again["loss_history"] == written["loss_history"]


def test_recipe_refuses_a_feature_cache_with_fine_tuning(tmp_path):
    with pytest.raises(ValueError, match="feature_cache needs a frozen encoder"):
        main("depth", TINY + ["--width", "16", "--depth", "1", "--finetune", "--feature-cache", str(tmp_path),
                              "--out", str(tmp_path / "out")])
