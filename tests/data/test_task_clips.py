"""Real-data probe clips, on small files written here in the published formats."""
import os

import numpy as np
import pytest
from format_writers import re10k_timestamp, tapvid_video, write_pickle, write_re10k, write_scannet

from keras4ds.data import task_clips as tc
from keras4ds.data.synthetic import generate_clip
from keras4ds.data.video_io import write_video
from keras4ds.readouts.batches import probe_batch

pytestmark = pytest.mark.backend_independent


def test_tapvid_points_clips_rescale_tracks_and_cut_windows(tmp_path):
    v = tapvid_video(0, t=9, h=24, w=32, n=5)
    v["points"][2, 4] = (0.25, 0.5)  # x, y normalised
    v["occluded"][:] = False
    v["occluded"][3] = True  # never visible: dropped
    v["occluded"][4, :4] = True  # hidden in the first window only
    path = write_pickle(tmp_path / "davis.pkl", {"bear": v})
    clips = list(tc.task_clips("points", f"tapvid:{path}", 4, (16, 20)))
    assert [c["name"] for c in clips] == ["bear[0:4]", "bear[4:8]"]  # frame 8: short tail
    second = clips[1]
    assert second["video"].shape == (4, 16, 20, 3) and second["video"].dtype == np.float32
    assert second["tracks"].dtype == np.float32 and second["visible"].dtype == bool
    assert second["tracks"].shape == (4, 4, 2)  # track 3 dropped
    # Track 2 at frame 4 (window frame 0): (0.25, 0.5) * (W, H) = (5, 8) pixels.
    np.testing.assert_allclose(second["tracks"][2, 0], [5.0, 8.0])
    assert second["visible"][2, 0]
    np.testing.assert_array_equal(second["visible"], ~v["occluded"][[0, 1, 2, 4], 4:8])
    assert clips[0]["tracks"].shape[0] == 3  # track 4 is hidden in frames 0..3
    inputs, targets = probe_batch("points", clips, num_queries=3)
    assert inputs["query_points"].shape == (2, 3, 3) and targets["tracks"].shape == (2, 3, 4, 2)
    assert len(list(tc.task_clips("points", f"tapvid:{path}", 4, 16, limit=1))) == 1


def test_scannet_depth_pose_clips(tmp_path):
    clip = generate_clip(3, num_frames=9, height=24, width=32, num_tracks=4)
    clip["depth"][:, :2] = 0.0  # no depth in the top rows
    root = tmp_path / "scans"
    write_scannet(str(root / "scene0000_00"), clip, invalid_frame=5)
    write_scannet(str(root / "scene0001_00"), clip)
    clips = list(tc.task_clips("depth", f"scannet:{root}", 4, (12, 16)))
    # scene0000: window 4..7 holds the invalid pose and is skipped; 8 is a short tail.
    assert [c["name"] for c in clips] == ["scene0000_00[0..3]", "scene0001_00[0..3]",
                                          "scene0001_00[4..7]"]
    c = clips[2]
    assert c["video"].shape == (4, 12, 16, 3) and c["depth"].shape == (4, 12, 16, 1)
    assert c["depth"].dtype == np.float32 and c["extrinsics"].dtype == np.float32
    # Nearest resize: rows 0 and 1 of the output come from source rows 1 and 3.
    assert np.all(c["depth"][:, 0] == 0) and np.all(c["depth"][:, 1] > 0)
    np.testing.assert_allclose(c["depth"][:, 2:], clip["depth"][4:8, 5::2, 1::2], atol=6e-4)
    # Extrinsics: the inverse of the camera-to-world pose files, i.e. the clip's own.
    pose = np.loadtxt(root / "scene0001_00" / "pose" / "5.txt")
    np.testing.assert_allclose(c["extrinsics"][1] @ pose, np.eye(4), atol=1e-5)
    np.testing.assert_allclose(c["extrinsics"], clip["extrinsics"][4:8], atol=1e-5)
    np.testing.assert_allclose(c["intrinsics"][:, :2], clip["intrinsics"][4:8, :2] / 2, rtol=1e-6)
    assert len(list(tc.task_clips("pose", f"scannet:{root / 'scene0001_00'}", 4, 12))) == 2


def test_re10k_pose_clips(tmp_path):
    clip = generate_clip(5, num_frames=6, height=24, width=32, num_tracks=4, camera_motion="orbit")
    write_re10k(tmp_path / "0123456789abcdef.txt", clip, frames=True)
    (clips,) = tc.task_clips("pose", f"re10k:{tmp_path}", 5, (12, 16))
    assert clips["video"].shape == (5, 12, 16, 3)
    np.testing.assert_allclose(clips["extrinsics"], clip["extrinsics"][:5], atol=1e-6)
    np.testing.assert_allclose(clips["intrinsics"][:, :2], clip["intrinsics"][:5, :2] / 2,
                               rtol=1e-6)
    # A missing frame refuses its window.
    os.remove(tmp_path / "0123456789abcdef" / f"{re10k_timestamp(2)}.png")
    kept = tc.task_clips("pose", f"re10k:{tmp_path}", 2, 12)
    assert [c["name"] for c in kept] == ["0123456789abcdef[0:2]", "0123456789abcdef[4:6]"]


def test_videofolder_classify_clips_take_turns(tmp_path):
    for name, count in (("walk", 2), ("jump", 1)):
        os.makedirs(tmp_path / name)
        for i in range(count):
            write_video(str(tmp_path / name / f"{i}.avi"),
                        generate_clip(i, num_frames=5, height=16, width=16)["video"])
    clips = list(tc.task_clips("classify", f"videofolder:{tmp_path}", 4, 8))
    assert [(c["label"], c["name"]) for c in clips] == [(0, "jump/0.avi"), (1, "walk/0.avi"),
                                                         (1, "walk/1.avi")]
    assert clips[0]["video"].shape == (4, 8, 8, 3) and clips[0]["video"].dtype == np.float32


def test_bad_specs_say_what_was_expected(tmp_path):
    write_pickle(tmp_path / "a.pkl", {"v": tapvid_video(0)})
    with pytest.raises(ValueError, match="unknown data format 'kinetics'.*tapvid \\(points\\)"):
        tc.task_clips("points", f"kinetics:{tmp_path}", 4, 16)
    with pytest.raises(ValueError, match="FORMAT:PATH"):
        tc.task_clips("points", str(tmp_path), 4, 16)
    with pytest.raises(ValueError, match="does not exist"):
        tc.task_clips("points", f"tapvid:{tmp_path / 'missing.pkl'}", 4, 16)
    with pytest.raises(ValueError, match="gives points clips; task 'depth' needs one of the "
                                         "formats \\['scannet'\\]"):
        tc.task_clips("depth", f"tapvid:{tmp_path}", 4, 16)
    with pytest.raises(ValueError, match="task 'boxes' needs one of the formats \\['boxtracks'\\]"):
        tc.task_clips("boxes", f"scannet:{tmp_path}", 4, 16)
    with pytest.raises(ValueError, match="no reader gives 'segmentation' clips"):
        tc.check_source("segmentation", f"scannet:{tmp_path}")
    with pytest.raises(tc.formats.FormatError, match="neither a ScanNet-style sequence"):
        list(tc.task_clips("depth", f"scannet:{tmp_path}", 4, 16))


def test_stack_pads_tracks_and_fingerprint_follows_the_files(tmp_path):
    a = {"tracks": np.ones((2, 3, 2), np.float32), "visible": np.ones((2, 3), bool)}
    b = {"tracks": np.ones((1, 3, 2), np.float32), "visible": np.ones((1, 3), bool)}
    stacked = tc.stack_clips([a, b])
    assert stacked["tracks"].shape == (2, 2, 3, 2)
    assert not stacked["visible"][1, 1].any() and stacked["visible"][0].all()
    path = write_pickle(tmp_path / "a.pkl", {"v": tapvid_video(0)})
    first = tc.source_fingerprint(f"tapvid:{tmp_path}")
    assert first == tc.source_fingerprint(f"tapvid:{tmp_path}/")
    assert first.startswith(f"tapvid:{tmp_path} ")
    write_pickle(path, {"v": tapvid_video(1, t=13)})
    assert tc.source_fingerprint(f"tapvid:{tmp_path}") != first
