"""Budgets, command-line parsing, held-out splits and atomic output files."""
import json
import os

import numpy as np
import pytest

from keras4ds_apps.study import BUDGETS, EncoderSize
from keras4ds_apps.study.clips import load_or_generate, split_seeds
from keras4ds_apps.study.main import budget_from_args, build_parser
from keras4ds_apps.study.store import read_json, write_json

pytestmark = pytest.mark.backend_independent


def test_encoder_size_parse_and_errors():
    size = EncoderSize.parse("w64:64:2:4")
    assert size.encoder_kwargs() == {"width": 64, "depth": 2, "num_heads": 4, "mlp_dim": 256}
    for bad in ("w64:64:2", "w:x:2:4", "w:30:2:4", "w:0:1:1"):
        with pytest.raises(ValueError, match="w"):
            EncoderSize.parse(bad)


def test_command_line_overrides_the_budget():
    args = build_parser().parse_args(
        ["--budget", "tiny", "--sizes", "a:16:1:2", "b:32:2:4", "--probe-steps", "7",
         "--tasks", "depth", "boxes", "--patch-size", "2", "4", "4"])
    budget = budget_from_args(args)
    assert [s.name for s in budget.sizes] == ["a", "b"]
    assert budget.probe_steps == 7 and budget.tasks == ("depth", "boxes")
    assert budget.patch_size == (2, 4, 4)
    assert budget.pretrain_steps == BUDGETS["tiny"].pretrain_steps
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--tasks", "segmentation"])


def test_fine_tune_decoder_and_classify_from_the_command_line():
    args = build_parser().parse_args(
        ["--budget", "tiny", "--fine-tune", "--encoder-learning-rate", "3e-5", "--decoder",
         "cross", "--bootstrap", "50", "--tasks", "pose", "classify", "--mae-targets", "raw"])
    budget = budget_from_args(args)
    assert budget.mae_targets == "raw" and BUDGETS["tiny"].mae_targets == "normalized"
    assert budget.fine_tune and budget.encoder_learning_rate == 3e-5
    assert budget.decoder == "cross" and budget.bootstrap == 50
    assert budget.tasks == ("pose", "classify")
    assert not budget_from_args(build_parser().parse_args(["--budget", "tiny"])).fine_tune
    for bad, match in (({"decoder": "wide"}, "decoder"), ({"bootstrap": 1}, "bootstrap"),
                       ({"mae_targets": "pixels"}, "mae_targets"),
                       ({"eval_clips": 1}, "eval_clips"),
                       ({"tasks": ("depth", "flow")}, "tasks")):
        with pytest.raises(ValueError, match=match):
            BUDGETS["tiny"].replace(**bad)


def test_motion_labelled_clips_move_their_camera_as_their_label(tmp_path):
    from keras4ds.data.synthetic import CAMERA_MOTIONS

    budget = BUDGETS["tiny"]
    arrays = load_or_generate(str(tmp_path / "c.npz"), "eval", 8, budget, motion_labels=True)
    seeds = split_seeds("eval", 8, budget.seed)
    assert arrays["label"].tolist() == [s % len(CAMERA_MOTIONS) for s in seeds]
    static = arrays["extrinsics"][arrays["label"] == CAMERA_MOTIONS.index("static")]
    np.testing.assert_allclose(static, np.broadcast_to(static[:, :1], static.shape), atol=1e-6)


def test_scene_options_and_readout_from_the_command_line():
    args = build_parser().parse_args(
        ["--budget", "tiny", "--scene", "texture_scale=0.5", "texture=flat",
         "--readout", "official"])
    budget = budget_from_args(args)
    assert budget.scene_options == {**BUDGETS["tiny"].scene_options, "texture_scale": 0.5,
                                    "texture": "flat"}
    assert budget.readout_index(2) is None
    assert budget.replace(readout="last").readout_index(2) == 2
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        budget_from_args(build_parser().parse_args(["--scene", "texture_scale"]))
    with pytest.raises(ValueError, match="readout must be one of"):
        budget.replace(readout="middle")


def test_scene_options_reach_the_generated_clips(tmp_path):
    budget = BUDGETS["tiny"]
    plain = load_or_generate(str(tmp_path / "a.npz"), "eval", 1, budget, keys=("video",))
    flat = load_or_generate(str(tmp_path / "b.npz"), "eval", 1,
                            budget.replace(scene_options={"texture": "flat"}), keys=("video",))
    assert plain["video"].shape == flat["video"].shape
    assert not np.allclose(plain["video"], flat["video"])


def test_budget_json_round_trip():
    budget = BUDGETS["default"]
    assert type(budget).from_json(json.loads(json.dumps(budget.to_json()))) == budget


def test_per_task_training_overrides_only_its_task():
    budget = BUDGETS["default"].replace(probe_steps=200, probe_batch=16, probe_learning_rate=1e-3,
                                        task_training={"points": {"steps": 60, "batch_size": 4}})
    assert budget.probe_training("depth") == {"steps": 200, "batch_size": 16, "learning_rate": 1e-3}
    assert budget.probe_training("points") == {"steps": 60, "batch_size": 4, "learning_rate": 1e-3}
    assert type(budget).from_json(json.loads(json.dumps(budget.to_json()))) == budget
    with pytest.raises(ValueError, match="may set"):
        budget.replace(task_training={"points": {"epochs": 2}}).probe_training("points")


def test_splits_are_disjoint():
    a, b, c = (set(split_seeds(s, 1000)) for s in ("pretrain", "probe_train", "eval"))
    assert not (a & b or a & c or b & c)
    with pytest.raises(ValueError, match="split"):
        split_seeds("test", 3)


def test_clips_are_cached_and_regenerated_when_stale(tmp_path):
    budget = BUDGETS["tiny"]
    path = str(tmp_path / "eval.npz")
    first = load_or_generate(path, "eval", 2, budget)
    assert first["video"].shape == (2, budget.num_frames, budget.image_size, budget.image_size, 3)
    mtime = os.path.getmtime(path)
    again = load_or_generate(path, "eval", 2, budget)
    assert os.path.getmtime(path) == mtime
    np.testing.assert_array_equal(first["video"], again["video"])
    more = load_or_generate(path, "eval", 3, budget)  # another count: regenerated
    assert len(more["video"]) == 3
    np.testing.assert_array_equal(more["video"][:2], first["video"])


def test_json_is_atomic_strict_and_corruption_is_reported(tmp_path):
    path = str(tmp_path / "sub" / "r.json")
    write_json(path, {"a": float("nan"), "b": [np.float32(1.5)]})
    assert read_json(path) == {"a": None, "b": [1.5]}
    assert os.listdir(tmp_path / "sub") == ["r.json"]
    with open(path, "w") as f:
        f.write('{"a": ')
    with pytest.raises(ValueError, match="delete it"):
        read_json(path)
