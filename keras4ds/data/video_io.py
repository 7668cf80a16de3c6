"""Video files in and out with PyAV: decoding, clip sampling, writing (frames resized by
``keras4ds.data.frames``).

Frames are ``(T, H, W, 3)`` uint8 RGB arrays; :func:`to_float` scales them to float32 in
[0, 1] (the 4DS input range). The official 4DS demo reads a video, resizes every frame
straight to 224x224 with a Lanczos filter (``mediapy.resize_video``, i.e. PIL's
``Image.resize(..., LANCZOS)`` on uint8 frames) and divides by 255: ``load_clip(path)``
with the defaults does exactly that with the first 16 frames.

Files are checked before they are trusted. Every failure to read a file as asked raises
:class:`VideoError` (a ``ValueError``; :class:`VideoNotFoundError`, also a
``FileNotFoundError``, for a missing file), whose message names the file and what was
found against what was expected: missing, empty, not a readable container, an MP4/MOV or
AVI whose chunks run past the end of the file (truncated), no video stream, no decoder,
fewer frames demuxed or decoded than the container header declares, decoding errors, or
fewer frames than the clip needs. A clip read from a fixed start decodes only the frames
it needs, so there the frame count is checked only as far as those frames.
"""
from __future__ import annotations

import dataclasses
import os
from fractions import Fraction
from typing import Sequence

import av
import numpy as np

from keras4ds.data.frames import resize_frames, to_float

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoError",
    "VideoNotFoundError",
    "VideoInfo",
    "probe_video",
    "count_frames",
    "read_frames",
    "iter_frames",
    "clip_indices",
    "sample_clip",
    "load_clip",
    "write_video",
]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".gif", ".mov", ".m4v", ".mpg", ".mpeg")



class VideoError(ValueError):
    """A video file that cannot be read as asked. ``path`` is the file."""

    def __init__(self, path, message: str):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {message}")


class VideoNotFoundError(VideoError, FileNotFoundError):
    """A video path that does not exist."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    num_frames: int  # shown frames, counted by demuxing (see count_frames)
    fps: float | None
    codec: str


def _open(path):
    """Open ``path`` for reading, checked: an existing, non-empty, complete container with
    a decodable video stream (the first one is read)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VideoNotFoundError(path, "no such file")
    if os.path.isdir(path):
        raise VideoError(path, "is a directory, not a video file")
    if os.path.getsize(path) == 0:
        raise VideoError(path, "empty file (0 bytes), not a video")
    damage = _chunk_damage(path)
    try:
        container = av.open(path, "r", metadata_errors="replace")
    except av.error.FFmpegError as e:  # InvalidDataError, EOFError, ...
        why = damage or "damaged, or not a video"
        raise VideoError(
            path, f"not a readable video container: {why} (FFmpeg: {e.strerror})") from e
    except OSError as e:
        raise VideoError(path, f"cannot open: {e}") from e
    try:
        _check_streams(path, container, damage)
    except VideoError:
        container.close()
        raise
    return container


def _check_streams(path, container, damage: str | None) -> None:
    """Raise VideoError unless ``container`` is complete and has a decodable video stream."""
    if damage:
        raise VideoError(path, f"corrupt or truncated: {damage}")
    if not container.streams.video:
        found = ", ".join(s.type for s in container.streams) or "none"
        raise VideoError(path, f"no video stream (streams found: {found})")
    if container.streams.video[0].codec_context is None:
        raise VideoError(path, "no decoder for its video stream (unknown or unsupported codec)")


def _chunk_damage(path) -> str | None:
    """What is wrong with the top-level chunks of an MP4/MOV (ISO boxes: 4-byte big-endian
    size, then type) or AVI (RIFF: type, then 4-byte little-endian size) file: a chunk
    that runs past the end of the file (truncated) or, for MP4/MOV, no 'moov' box (the
    frame index). None if nothing is wrong or the file is another format."""
    file_size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        iso = head[4:8] == b"ftyp"
        if not iso and head[:4] != b"RIFF":
            return None
        unit = "box" if iso else "chunk"
        kinds, offset = [], 0
        while offset + 8 <= file_size:
            f.seek(offset)
            kind, size = (_box_header if iso else _riff_header)(f.read(16))
            kinds.append(kind)
            if size is None:  # an ISO box of size 0 runs to the end of the file
                break
            if size < 8:
                return f"its '{kind}' {unit} at byte {offset} has an invalid size ({size} bytes)"
            if offset + size > file_size:
                return (f"its '{kind}' {unit} at byte {offset} declares {size} bytes, "
                        f"only {file_size - offset} follow")
            offset += size + (0 if iso else size % 2)  # RIFF pads chunks to even sizes
    if iso and "moov" not in kinds:
        return f"no 'moov' box (the frame index); its top-level boxes are {', '.join(kinds)}"
    return None


def _box_header(head: bytes):
    """(type, size in bytes, or None for "to the end of the file") of an ISO box header."""
    size = int.from_bytes(head[:4], "big")
    if size == 1 and len(head) == 16:  # 64-bit size after the type
        size = int.from_bytes(head[8:16], "big")
    return head[4:8].decode("latin-1"), (None if size == 0 else size)


def _riff_header(head: bytes):
    """(type, size in bytes with the 8-byte header) of a RIFF chunk header."""
    return head[:4].decode("latin-1"), 8 + int.from_bytes(head[4:8], "little")


def _check_declared(path, stream, what: str, found: int, hidden: int = 0) -> None:
    """Raise VideoError if ``found`` frames (``what``: "demuxed" or "decoded") plus the
    ``hidden`` ones (trimmed by an edit list) are fewer than ``stream``'s header declares."""
    declared = stream.frames
    if declared and found + hidden < declared:
        trimmed = f" ({hidden} of them hidden by its edit list)" if hidden else ""
        raise VideoError(
            path, f"corrupt or truncated: {what} {found} frames, header says {declared}{trimmed}")


def count_frames(path) -> int:
    """Number of shown frames, counted by demuxing the video packets (no decoding).

    Packets an edit list hides (decoded, never shown) are not counted. Raises VideoError
    if there are fewer packets than the container header declares frames.
    """
    packets = hidden = 0
    with _open(path) as container:
        stream = container.streams.video[0]
        try:
            for packet in container.demux(stream):
                if packet.size:
                    packets += 1
                    hidden += packet.is_discard
        except av.error.FFmpegError as e:
            raise VideoError(path, f"corrupt or truncated while counting frames: {e}") from e
        _check_declared(path, stream, "demuxed", packets)
    return packets - hidden


def probe_video(path) -> VideoInfo:
    """Size, frame count, frame rate and codec of a video file."""
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        info = dict(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=float(rate) if rate else None,
            codec=stream.codec_context.name,
        )
    return VideoInfo(path=os.fspath(path), num_frames=count_frames(path), **info)


def _decode(container, path):
    """Yield the frames of the first video stream of ``container`` in order (PyAV frames).

    Once all are out, raise VideoError if fewer were decoded than the header declares.
    """
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    decoded = hidden = 0
    try:
        for packet in container.demux(stream):
            hidden += bool(packet.size) and packet.is_discard
            for frame in packet.decode():
                decoded += 1
                yield frame
    except av.error.FFmpegError as e:
        raise VideoError(
            path, f"corrupt or truncated: decoding failed after {decoded} frames ({e})"
        ) from e
    _check_declared(path, stream, "decoded", decoded, hidden)


def iter_frames(path):
    """Yield every frame of ``path`` in decoding order as ``(H, W, 3)`` uint8 RGB, one at a
    time (memory stays at one frame); raises VideoError as :func:`read_frames` does."""
    decoded = 0
    with _open(path) as container:
        for frame in _decode(container, path):
            decoded += 1
            yield frame.to_ndarray(format="rgb24")
    if decoded == 0:
        raise VideoError(path, "contains no video frames")


def read_frames(path, indices: Sequence[int] | None = None) -> np.ndarray:
    """Decode frames of ``path`` as ``(T, H, W, 3)`` uint8 RGB.

    Args:
      path: video file (any container/codec FFmpeg reads: mp4, avi, mkv, webm, gif...).
      indices: frame indices to return, in any order and with repeats allowed (0-based,
        in decoding order); None = all frames. Decoding stops after the last one needed.

    Raises:
      VideoError: unreadable or damaged file, no frames, fewer frames decoded than the
        header declares (when decoding reaches the end), or an index past the end.
    """
    want = None if indices is None else np.asarray(indices, dtype=np.int64)
    if want is not None and want.size and want.min() < 0:
        raise VideoError(path, f"negative frame index {int(want.min())}")
    last = None if want is None else (int(want.max()) if want.size else -1)
    needed = None if want is None else set(want.tolist())
    frames: dict[int, np.ndarray] = {}
    decoded = 0
    with _open(path) as container:
        if last is None or last >= 0:
            for frame in _decode(container, path):
                if needed is None or decoded in needed:
                    frames[decoded] = frame.to_ndarray(format="rgb24")
                decoded += 1
                if last is not None and decoded > last:
                    break
    if decoded == 0 and (last is None or last >= 0):
        raise VideoError(path, "contains no video frames")
    if want is None:
        return np.stack([frames[i] for i in range(decoded)])
    if last is not None and last >= decoded:
        raise VideoError(
            path,
            f"has {decoded} frames, fewer than needed (frame index {last} asked for)",
        )
    if want.size == 0:
        first = next(iter(frames.values()), None)
        shape = (0,) + (first.shape if first is not None else (0, 0, 3))
        return np.zeros(shape, np.uint8)
    return np.stack([frames[int(i)] for i in want])


def clip_indices(
    total_frames: int, num_frames: int, stride: int = 1, start="start", rng=None, path="video"
) -> np.ndarray:
    """Frame indices ``start + stride * arange(num_frames)`` of a clip.

    ``start``: an int, ``"start"`` (0), ``"center"``, or ``"random"`` (uniform over all
    valid offsets, drawn from ``rng``: a ``np.random.Generator`` or a seed).
    """
    if num_frames < 1 or stride < 1:
        raise ValueError("num_frames and stride must be >= 1")
    span = (num_frames - 1) * stride + 1
    if total_frames < span:
        raise VideoError(
            path,
            f"has {total_frames} frames, shorter than the clip "
            f"({num_frames} frames at stride {stride} need {span})",
        )
    max_start = total_frames - span
    if isinstance(start, str):
        if start == "start":
            s = 0
        elif start == "center":
            s = max_start // 2
        elif start == "random":
            gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
            s = int(gen.integers(0, max_start + 1))
        else:
            raise ValueError(f"start must be an int, 'start', 'center' or 'random', not {start!r}")
    else:
        s = int(start)
        if s < 0 or s > max_start:
            raise VideoError(
                path,
                f"has {total_frames} frames; a clip of {num_frames} frames at stride {stride} "
                f"cannot start at frame {s}",
            )
    return s + stride * np.arange(num_frames)


def sample_clip(path, num_frames: int, stride: int = 1, start="start", rng=None) -> np.ndarray:
    """Decode one clip of ``num_frames`` frames every ``stride`` frames; see clip_indices.

    The frame count is needed only for ``"center"``/``"random"`` starts (counted by
    demuxing, which is cheap); otherwise decoding stops at the clip's last frame.
    """
    if isinstance(start, str) and start in ("center", "random"):
        total = count_frames(path)
        if total == 0:
            raise VideoError(path, "contains no video frames")
        idx = clip_indices(total, num_frames, stride, start, rng, path=path)
        return read_frames(path, idx)
    s = 0 if start == "start" else start
    idx = clip_indices(10**12, num_frames, stride, s, path=path)
    try:
        return read_frames(path, idx)
    except VideoError as e:
        if "fewer than needed" not in str(e):
            raise
        clip_indices(count_frames(path), num_frames, stride, s, path=path)  # the clear error
        raise


def load_clip(path, num_frames: int = 16, height: int = 224, width: int = 224, *,
              stride: int = 1, start="start", rng=None, mode: str = "resize",
              resample: str = "lanczos") -> np.ndarray:
    """Decode, sample, resize and scale a clip: ``(T, H, W, 3)`` float32 in [0, 1].

    Defaults reproduce the official 4DS demo input: the first 16 frames, Lanczos-resized
    straight to 224x224, divided by 255.
    """
    frames = sample_clip(path, num_frames, stride=stride, start=start, rng=rng)
    return to_float(resize_frames(frames, height, width, mode=mode, resample=resample))


_CODECS = {
    ".mp4": ("libx264", "yuv420p"),
    ".m4v": ("libx264", "yuv420p"),
    ".mov": ("libx264", "yuv420p"),
    ".mkv": ("ffv1", "yuv444p"),
    ".webm": ("libvpx-vp9", "yuv420p"),
    ".avi": ("mjpeg", "yuvj420p"),
    ".gif": ("gif", "rgb8"),
}


def write_video(path, frames: np.ndarray, fps: float = 10.0, codec: str | None = None,
                pix_fmt: str | None = None, options: dict | None = None) -> None:
    """Encode ``(T, H, W, 3)`` uint8 (or float in [0, 1]) frames to ``path``.

    The codec follows the extension (mp4: H.264, mkv: FFV1, webm: VP9, avi: MJPEG,
    gif: GIF) unless given. 4:2:0 codecs need even sizes: odd sizes are padded by
    repeating the last row/column.
    """
    path = os.fspath(path)
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        frames = np.clip(np.round(frames * 255.0), 0, 255).astype(np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got {frames.shape}")
    ext = os.path.splitext(path)[1].lower()
    default_codec, default_pix = _CODECS.get(ext, ("libx264", "yuv420p"))
    codec = codec or default_codec
    pix_fmt = pix_fmt or (default_pix if codec == default_codec else "yuv420p")
    if pix_fmt.endswith("420p"):
        ph, pw = frames.shape[1] % 2, frames.shape[2] % 2
        if ph or pw:
            frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        if options:
            stream.options = dict(options)
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
