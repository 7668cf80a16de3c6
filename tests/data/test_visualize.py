"""Drawing clips: the draw_clip tool writes a playable MP4 and a PNG contact sheet."""
import numpy as np
import pytest
from PIL import Image
from test_video_pipelines import load_tool

from keras4ds.data import video_io, visualize
from keras4ds.data.synthetic import generate_clip

pytestmark = pytest.mark.backend_independent


def test_draw_clip_overlays():
    clip = generate_clip(2, num_frames=3, height=16, width=20, num_tracks=6)
    frames = visualize.draw_clip(clip, scale=2)
    assert frames.shape == (3, 32, 80, 3) and frames.dtype == np.uint8
    plain = visualize.draw_clip({"video": clip["video"]}, scale=2, show_depth=False)
    assert plain.shape == (3, 32, 40, 3)
    assert np.any(frames[:, :, :40] != plain)  # something was drawn on the video
    sheet = visualize.contact_sheet(frames, cols=2, pad=1)
    assert sheet.shape == (2 * 33 + 1, 2 * 81 + 1, 3)


def test_draw_clip_tool(tmp_path):
    tool = load_tool("draw_clip")
    out = str(tmp_path / "sub" / "clip")
    assert tool.main(["--seed", "1", "--frames", "4", "--size", "16x24", "--scale", "2",
                      "--option", "camera_motion='orbit'", "--option", "num_tracks=8",
                      "--out", out]) == 0
    video = video_io.read_frames(out + ".mp4")
    assert video.shape == (4, 32, 96, 3)
    assert Image.open(out + ".png").size[0] > 96


def test_inverted_and_thin_predicted_boxes_are_drawn():
    video = np.zeros((2, 16, 16, 3), np.float32)
    boxes = np.array([[[0.6, 0.6, 0.2, 0.2], [0.5, 0.5, 0.5, 0.51]]], np.float32)  # (K, T, 4)
    frames = visualize.draw_clip({"video": video, "boxes": boxes}, scale=2)
    assert frames.shape[0] == 2 and frames[0].max() > 0  # the inverted box is drawn as its hull
