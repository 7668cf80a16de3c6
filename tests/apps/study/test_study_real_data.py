"""The study on real-data files: --probe-data / --eval-data / --pretrain-data, caches, resume."""
import json
import os

import numpy as np
import pytest
from format_writers import tapvid_video, write_pickle, write_scannet

from keras4ds.data.synthetic import generate_clip
from keras4ds.data.video_io import write_video
from keras4ds_apps.study import BUDGETS, main
from keras4ds_apps.study.clips import StudyData, load_or_decode, load_or_read
from keras4ds_apps.study.main import build_parser, data_from_args

TINY = ["--budget", "tiny", "--sizes", "a:8:1:2", "b:16:1:2", "--pretrain-steps", "2",
        "--pretrain-clips", "4", "--probe-steps", "2", "--probe-batch", "2",
        "--probe-train-clips", "2", "--eval-clips", "2", "--decoder-width", "16",
        "--decoder-depth", "1", "--decoder-heads", "2", "--probe-width", "16"]


def _scannet(root, seed):
    clip = generate_clip(seed, num_frames=8, height=32, width=32, num_tracks=4)
    clip["depth"][:, :4] = 0.0  # no depth in the top rows
    write_scannet(str(root), clip)
    return f"scannet:{root}"


def _videos(folder, count=2):
    os.makedirs(folder)
    for i in range(count):
        write_video(str(folder / f"{i}.avi"), generate_clip(i, num_frames=6, height=32,
                                                             width=32)["video"])
    return str(folder)


@pytest.mark.backend_independent  # the study's training on each backend is
# tests/apps/study/test_study_run.py; this checks its real-data plumbing once
def test_study_runs_and_resumes_on_real_data(tmp_path):
    train, held_out = _scannet(tmp_path / "train", 0), _scannet(tmp_path / "eval", 1)
    videos = _videos(tmp_path / "videos")
    out = str(tmp_path / "study")
    argv = [*TINY, "--tasks", "depth", "--probe-data", f"depth={train}",
            "--eval-data", f"depth={held_out}", "--pretrain-data", videos, "--out", out]
    assert main(argv) == 0
    results = json.load(open(os.path.join(out, "results.json")))
    assert results["data"]["probes"]["depth"] == {"train": train, "train_clips": 2,
                                                  "eval": held_out, "eval_clips": 2}
    assert results["data"]["pretrain"] == {"source": videos, "clips": 4}
    assert results["summary"]["depth"]["eval_data"] == held_out
    report = open(os.path.join(out, "report.md")).read()
    assert f"depth readouts trained on 2 clips of `{train}`" in report
    assert f"read 4 clips from the videos in `{videos}`" in report
    with np.load(os.path.join(out, "clips", "eval_depth.npz")) as cached:
        assert cached["video"].shape == (2, 4, 32, 32, 3)
        assert np.all(cached["depth"][:, :, :4] == 0) and np.all(cached["depth"][:, :, 4:] > 0)
    assert os.path.getsize(os.path.join(out, "examples_depth.png")) > 0

    assert main(argv) == 0  # resumed: every stage reused
    assert json.load(open(os.path.join(out, "runs.json")))[-1]["stages_run"] == 0
    os.remove(tmp_path / "eval" / "depth" / "7.png")  # the held-out source changed
    with pytest.raises(ValueError, match="other data"):
        main(argv)


@pytest.mark.backend_independent
def test_data_flags_and_their_errors(tmp_path):
    train, held_out = _scannet(tmp_path / "train", 0), _scannet(tmp_path / "eval", 1)

    def data(*flags):
        return data_from_args(build_parser().parse_args(list(flags)))

    assert not data()  # no flags: procedural scenes, nothing else
    both = data("--probe-data", f"pose={train}", "--eval-data", f"pose={held_out}")
    assert both.probe == {"pose": train} and both.evaluation == {"pose": held_out}
    with pytest.raises(SystemExit, match="needs evaluation data"):
        data("--probe-data", f"depth={train}")
    with pytest.raises(SystemExit, match="held out"):
        data("--probe-data", f"depth={train}", "--eval-data", f"depth={train}/")
    with pytest.raises(SystemExit, match="TASK=FORMAT:PATH"):
        data("--probe-data", f"segmentation={train}")
    with pytest.raises(SystemExit, match="twice"):
        data("--probe-data", f"depth={train}", "--probe-data", f"pose={train}",
             "--probe-data", f"depth={held_out}")
    with pytest.raises(SystemExit, match="task 'boxes' needs one of the formats \\['boxtracks'\\]"):
        data("--probe-data", f"boxes={train}", "--eval-data", f"boxes={held_out}")
    with pytest.raises(SystemExit, match="not a folder"):
        data("--pretrain-data", str(tmp_path / "missing"))
    with pytest.raises(SystemExit, match="does not exist"):
        data("--probe-data", f"points=tapvid:{tmp_path}/x.pkl",
             "--eval-data", f"points=tapvid:{tmp_path}/y.pkl")
    assert StudyData().fingerprint()["pretrain"] is None


@pytest.mark.backend_independent
def test_budget_file_gains_the_data_only_with_real_data(tmp_path):
    from keras4ds_apps.study.runner import _check_budget
    from keras4ds_apps.study.store import StudyFolder, read_json

    budget = BUDGETS["tiny"]
    plain = StudyFolder(str(tmp_path / "plain"))
    _check_budget(plain, budget, StudyData())
    assert read_json(plain.budget()) == json.loads(json.dumps(budget.to_json()))
    data = StudyData({"pose": _scannet(tmp_path / "train", 0)},
                     {"pose": _scannet(tmp_path / "eval", 1)})
    with pytest.raises(ValueError, match="another budget or other data"):
        _check_budget(plain, budget, data)
    real = StudyFolder(str(tmp_path / "real"))
    _check_budget(real, budget, data)
    assert read_json(real.budget())["data"]["evaluation"]["pose"].startswith(
        f"scannet:{tmp_path / 'eval'} ")
    _check_budget(real, budget, data)  # unchanged: accepted


@pytest.mark.backend_independent
def test_tasks_without_real_data_keep_the_procedural_sets(tmp_path):
    from keras4ds_apps.study.runner import _probe_clip_sets
    from keras4ds_apps.study.store import StudyFolder

    data = StudyData({"depth": _scannet(tmp_path / "train", 0)},
                     {"depth": _scannet(tmp_path / "eval", 1)})
    budget = BUDGETS["tiny"].replace(tasks=("depth", "pose"), probe_train_clips=2, eval_clips=2)
    folder = StudyFolder(str(tmp_path / "study"))
    train, evaluation = _probe_clip_sets(folder, budget, data)
    assert list(train["depth"]["name"]) == ["train[0..3]", "train[4..7]"]  # stacked arrays
    assert list(evaluation["depth"]["name"]) == ["eval[0..3]", "eval[4..7]"]
    assert "name" not in train["pose"] and len(train["pose"]["video"]) == 2  # procedural scenes
    assert len(evaluation["pose"]["video"]) == 2
    assert sorted(os.listdir(folder.path("clips"))) == ["eval.npz", "eval_depth.npz",
                                                        "probe_train.npz",
                                                        "probe_train_depth.npz"]
    _probe_clip_sets(StudyFolder(str(tmp_path / "real")), budget.replace(tasks=("depth",)), data)
    assert sorted(os.listdir(tmp_path / "real" / "clips")) == ["eval_depth.npz",
                                                               "probe_train_depth.npz"]


@pytest.mark.backend_independent
def test_real_clip_sets_are_cached_until_the_source_changes(tmp_path):
    budget = BUDGETS["tiny"]
    a, b = tapvid_video(0, t=8, h=24, w=32, n=5), tapvid_video(1, t=4, h=24, w=32, n=7)
    b["occluded"][1:] = False  # b: 6 of 7 tracks visible (track 0 never is)
    source = write_pickle(tmp_path / "points.pkl", {"a": a, "b": b})
    cache = str(tmp_path / "cache.npz")
    first = load_or_read(cache, "points", f"tapvid:{source}", 3, budget)
    # Windows a[0:4], a[4:8], b[0:4], tracks padded to the largest N with hidden tracks.
    assert first["video"].shape == (3, 4, 32, 32, 3) and first["tracks"].shape[1] == 6
    assert list(first["name"]) == ["a[0:4]", "a[4:8]", "b[0:4]"]
    mtime = os.path.getmtime(cache)
    again = load_or_read(cache, "points", f"tapvid:{source}", 3, budget)
    assert os.path.getmtime(cache) == mtime
    np.testing.assert_array_equal(again["tracks"], first["tracks"])
    assert len(load_or_read(cache, "points", f"tapvid:{source}", 1, budget)["video"]) == 1
    write_pickle(source, {"b": b})  # rewritten source: read again, not the stale cache
    assert list(load_or_read(cache, "points", f"tapvid:{source}", 3, budget)["name"]) == ["b[0:4]"]

    videos = _videos(tmp_path / "videos", count=1)
    clips = load_or_decode(str(tmp_path / "pretrain.npz"), videos, 3, budget)
    assert clips.shape == (3, 4, 32, 32, 3) and clips.dtype == np.float32
    os.remove(os.path.join(videos, "0.avi"))
    open(os.path.join(videos, "bad.avi"), "wb").write(b"not a video")
    with pytest.raises(ValueError, match="no video gave a clip"):
        load_or_decode(str(tmp_path / "pretrain.npz"), videos, 3, budget)
