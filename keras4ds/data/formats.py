"""Readers for community 4D data formats: TAP-Vid, RealEstate10K cameras, ScanNet RGB-D.

All readers return keras4ds conventions: video float32 in [0, 1] ``(T, H, W, 3)``; pixel
coordinates with ``x`` right, ``y`` down and pixel centres at integer + 0.5 (so a TAP-Vid
normalised point ``p`` in [0, 1] is pixel ``p * (W, H)``, as in tapnet); ``extrinsics``
world-to-camera 4x4 (OpenCV axes); ``intrinsics`` 3x3 in pixels of the returned frames.

* **TAP-Vid** (DAVIS / Kinetics / RGB-Stacking pickles): each video is a dict with
  ``video`` (``(T, H, W, 3)`` uint8, or a list of JPEG bytes in the Kinetics pickles),
  ``points`` ``(N, T, 2)`` normalised (x, y) and ``occluded`` ``(N, T)`` bool; DAVIS is a
  dict keyed by video name, the others lists. Queries are sampled as in tapnet's
  evaluation: ``"first"`` (first visible frame of each track; never-visible tracks
  dropped) or ``"strided"`` (every ``query_stride`` frames, every track visible there).
* **RealEstate10K** camera files: first line the video URL, then one line per frame:
  ``timestamp_us fx fy cx cy 0 0 r11 r12 r13 t1 r21 r22 r23 t2 r31 r32 r33 t3`` with
  intrinsics normalised by the image width/height and a 3x4 world-to-camera matrix.
* **ScanNet-style RGB-D** sequences (the layout of ScanNet's SensReader export):
  ``color/{i}.jpg``, ``depth/{i}.png`` (uint16 millimetres, 0 = no depth),
  ``pose/{i}.txt`` (4x4 camera-to-world, ``-inf`` where tracking failed) and
  ``intrinsic/intrinsic_{color,depth}.txt`` (4x4, OpenCV convention: their principal
  point gets +0.5 to match our pixel centres).
* **Box tracks** (``*.boxes.json`` beside a video, the plain layout of ``read_box_tracks``):
  ``{"boxes": [[[ymin, xmin, ymax, xmax] per frame] per object], "visible": [[bool per
  frame] per object]}``, boxes normalised by the frame's height and width (so they hold at
  any resolution), ``visible`` optional (default: the box has a positive area). What a
  converter from Waymo Open's 2D boxes or any tracker's output writes.
"""
from __future__ import annotations

import glob
import io
import os
import pickle
from typing import Iterator

import numpy as np
from PIL import Image

from keras4ds.data import video_io
from keras4ds.data.frames import resize_frames, to_float

__all__ = [
    "FormatError",
    "load_tapvid",
    "tapvid_files",
    "tapvid_examples",
    "sample_queries_first",
    "sample_queries_strided",
    "read_realestate10k",
    "realestate10k_intrinsics",
    "ScanNetSequence",
    "read_box_tracks",
    "BOX_TRACKS_SUFFIX",
]


class FormatError(ValueError):
    """A file that does not follow the format; the message names it."""


# ------------------------------------------------------------------------------ TAP-Vid


def _decode_frames(frames, path, name) -> np.ndarray:
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise FormatError(f"{path}: video {name!r} has shape {frames.shape}, "
                              "expected (T, H, W, 3)")
        return frames.astype(np.uint8, copy=False)
    if len(frames) and isinstance(frames[0], (bytes, bytearray)):
        return np.stack([np.asarray(Image.open(io.BytesIO(f)).convert("RGB")) for f in frames])
    return np.asarray(frames, np.uint8)


def load_tapvid(path) -> list[tuple[str, dict]]:
    """Videos of one TAP-Vid pickle as ``(name, {"video", "points", "occluded"})``.

    Accepts the DAVIS layout (dict name -> video) and the Kinetics / RGB-Stacking layout
    (list of videos; names become ``"{file}:{index}"``). Frames stored as JPEG bytes are
    decoded to uint8.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except Exception as e:  # unpickling errors of any kind
        raise FormatError(f"{path}: not a TAP-Vid pickle ({type(e).__name__}: {e})") from e
    if isinstance(data, dict) and {"video", "points", "occluded"} <= set(data):
        items = [(os.path.basename(path), data)]
    elif isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, (list, tuple)):
        base = os.path.basename(path)
        items = [(f"{base}:{i}", v) for i, v in enumerate(data)]
    else:
        raise FormatError(f"{path}: expected a dict or list of videos, got {type(data).__name__}")
    out = []
    for name, v in items:
        if not isinstance(v, dict) or not {"video", "points", "occluded"} <= set(v):
            raise FormatError(f"{path}: video {name!r} lacks 'video', 'points' or 'occluded'")
        frames = _decode_frames(v["video"], path, name)
        points = np.asarray(v["points"], np.float32)
        occluded = np.asarray(v["occluded"], bool)
        if points.ndim != 3 or points.shape[-1] != 2 or occluded.shape != points.shape[:2]:
            raise FormatError(f"{path}: video {name!r}: points {points.shape} and occluded "
                              f"{occluded.shape} must be (N, T, 2) and (N, T)")
        if points.shape[1] != frames.shape[0]:
            raise FormatError(f"{path}: video {name!r}: {frames.shape[0]} frames but tracks "
                              f"have {points.shape[1]}")
        out.append((str(name), {"video": frames, "points": points, "occluded": occluded}))
    return out


def sample_queries_first(occluded: np.ndarray, points: np.ndarray) -> dict:
    """tapnet's query-first sampling: each track's first visible frame is its query.

    Args: ``occluded`` (N, T) bool; ``points`` (N, T, 2) pixel (x, y).
    Returns ``query_points`` (Q, 3) [t, y, x], ``target_points`` (Q, T, 2), ``occluded``
    (Q, T) and ``trackgroup`` (Q,) (index of the source track); tracks never visible
    are dropped.
    """
    valid = np.sum(~occluded, axis=1) > 0
    idx = np.flatnonzero(valid)
    occ = occluded[idx]
    pts = points[idx]
    first = np.argmax(~occ, axis=1)
    q = np.stack([first.astype(np.float32), pts[np.arange(len(idx)), first, 1],
                  pts[np.arange(len(idx)), first, 0]], axis=-1)
    return {"query_points": q.reshape(-1, 3).astype(np.float32), "target_points": pts,
            "occluded": occ, "trackgroup": idx}


def sample_queries_strided(occluded: np.ndarray, points: np.ndarray,
                           query_stride: int = 5) -> dict:
    """tapnet's strided sampling: at frames 0, s, 2s, ... every visible track gives a
    query (a track can appear several times; ``trackgroup`` says which track)."""
    queries, tracks, occs, groups = [], [], [], []
    n = occluded.shape[0]
    for i in range(0, occluded.shape[1], query_stride):
        mask = ~occluded[:, i]
        q = np.stack([np.full(n, i, np.float32), points[:, i, 1], points[:, i, 0]], -1)
        queries.append(q[mask])
        tracks.append(points[mask])
        occs.append(occluded[mask])
        groups.append(np.arange(n)[mask])
    t = occluded.shape[1]
    return {
        "query_points": np.concatenate(queries).reshape(-1, 3).astype(np.float32),
        "target_points": np.concatenate(tracks).reshape(-1, t, 2),
        "occluded": np.concatenate(occs).reshape(-1, t),
        "trackgroup": np.concatenate(groups),
    }


def tapvid_files(source) -> list[str]:
    """Sorted TAP-Vid pickles of ``source``: a pickle file, a glob
    (``tapvid_kinetics/*_of_0010.pkl``) or a folder of ``*.pkl``."""
    source = os.fspath(source)
    if os.path.isdir(source):
        files = sorted(glob.glob(os.path.join(source, "*.pkl")))
    elif any(c in source for c in "*?["):
        files = sorted(glob.glob(source))
    else:
        files = [source]
    if not files:
        raise FormatError(f"{source}: no TAP-Vid pickle files")
    return files


def tapvid_examples(source, query_mode: str = "strided", resolution=(256, 256),
                    query_stride: int = 5, resample: str = "lanczos") -> Iterator[dict]:
    """TAP-Vid evaluation examples, as tapnet builds them (unbatched, video in [0, 1]).

    Args:
      source: a pickle file, a glob or a folder of ``*.pkl`` (see :func:`tapvid_files`).
      query_mode: ``"strided"`` or ``"first"``.
      resolution: (H, W) to resize to (tapnet: 256x256, ``mediapy.resize_video``, i.e.
        Lanczos); None keeps the native size.

    Yields:
      ``{"name", "video" (T, H, W, 3) float32 [0, 1], "query_points" (Q, 3) [t, y, x]
      pixels, "target_points" (Q, T, 2) pixel (x, y), "occluded" (Q, T) bool,
      "trackgroup" (Q,)}``. Pixel coordinates are normalised points times (W, H).
    """
    if query_mode not in ("strided", "first"):
        raise ValueError(f"query_mode must be 'strided' or 'first', not {query_mode!r}")
    for path in tapvid_files(source):
        for name, v in load_tapvid(path):
            frames = v["video"]
            if resolution is not None and tuple(resolution) != frames.shape[1:3]:
                frames = resize_frames(frames, resolution[0], resolution[1],
                                                resample=resample)
            points = v["points"] * np.array([frames.shape[2], frames.shape[1]], np.float32)
            if query_mode == "first":
                ex = sample_queries_first(v["occluded"], points)
            else:
                ex = sample_queries_strided(v["occluded"], points, query_stride)
            yield {"name": name, "video": to_float(frames), **ex}


# ------------------------------------------------------------------------ RealEstate10K


def read_realestate10k(path) -> dict:
    """One RealEstate10K camera file.

    Returns ``{"url", "timestamps" (N,) int64 microseconds, "intrinsics_normalized"
    (N, 4) [fx, fy, cx, cy] / (W, H, W, H), "extrinsics" (N, 4, 4) world-to-camera}``.
    """
    path = os.fspath(path)
    try:
        with open(path) as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise FormatError(f"{path}: not a text camera file") from e
    if not lines:
        raise FormatError(f"{path}: empty camera file")
    url = lines[0]
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        parts = line.split()
        if len(parts) != 19:
            raise FormatError(f"{path}:{i}: expected 19 numbers (timestamp, 4 intrinsics, "
                              f"2 zeros, 12 pose values), got {len(parts)}")
        try:
            rows.append([float(p) for p in parts])
        except ValueError as e:
            raise FormatError(f"{path}:{i}: {e}") from e
    if not rows:
        raise FormatError(f"{path}: no camera lines after the URL")
    a = np.asarray(rows, np.float64)
    ext = np.tile(np.eye(4), (len(a), 1, 1))
    ext[:, :3, :] = a[:, 7:19].reshape(-1, 3, 4)
    return {
        "url": url,
        "timestamps": np.asarray([int(p.split()[0]) for p in lines[1:]], np.int64),
        "intrinsics_normalized": a[:, 1:5],
        "extrinsics": ext,
    }


def realestate10k_intrinsics(intrinsics_normalized: np.ndarray, height: int, width: int):
    """(N, 3, 3) pixel intrinsics for frames of size (height, width)."""
    n = np.asarray(intrinsics_normalized)
    k = np.zeros((len(n), 3, 3))
    k[:, 0, 0] = n[:, 0] * width
    k[:, 1, 1] = n[:, 1] * height
    k[:, 0, 2] = n[:, 2] * width
    k[:, 1, 2] = n[:, 3] * height
    k[:, 2, 2] = 1.0
    return k


# ------------------------------------------------------------------------------ ScanNet


def _read_matrix(path, shape=(4, 4)) -> np.ndarray:
    try:
        m = np.loadtxt(path, dtype=np.float64)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except ValueError as e:
        raise FormatError(f"{path}: not a matrix of numbers ({e})") from e
    if m.shape != shape:
        raise FormatError(f"{path}: expected a {shape[0]}x{shape[1]} matrix, got {m.shape}")
    return m


def _nearest_resize(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest source pixel of each output pixel centre (never blends depths)."""
    h, w = a.shape[:2]
    qy = np.minimum(((np.arange(height) + 0.5) * h / height).astype(int), h - 1)
    qx = np.minimum(((np.arange(width) + 0.5) * w / width).astype(int), w - 1)
    return a[qy][:, qx]


def _scale_intrinsics(k: np.ndarray, src_hw, dst_hw) -> np.ndarray:
    sy, sx = dst_hw[0] / src_hw[0], dst_hw[1] / src_hw[1]
    out = k.copy()
    out[0] *= sx
    out[1] *= sy
    return out


def _to_half_pixel(k: np.ndarray) -> np.ndarray:
    k = k.copy()
    k[0, 2] += 0.5
    k[1, 2] += 0.5
    return k


class ScanNetSequence:
    """A ScanNet-style RGB-D sequence folder (SensReader export layout).

    ``frame_ids``: sorted frame numbers present in ``color/``. ``read_frame(i)`` gives the
    raw frame; ``load_clip`` a resized clip with keras4ds keys.
    """

    def __init__(self, root, depth_scale: float = 1000.0):
        self.root = os.fspath(root)
        self.depth_scale = depth_scale
        color = os.path.join(self.root, "color")
        if not os.path.isdir(color):
            raise FormatError(f"{self.root}: not a ScanNet-style sequence (no color/ folder)")
        ids = []
        for f in os.listdir(color):
            stem, ext = os.path.splitext(f)
            if ext.lower() in (".jpg", ".jpeg", ".png") and stem.isdigit():
                ids.append(int(stem))
        if not ids:
            raise FormatError(f"{color}: no numbered colour frames")
        self.frame_ids = sorted(ids)
        self._color_ext = {int(os.path.splitext(f)[0]): os.path.splitext(f)[1]
                           for f in os.listdir(color) if os.path.splitext(f)[0].isdigit()}
        idir = os.path.join(self.root, "intrinsic")
        # Files: OpenCV convention (pixel centres at integers); ours: centres at +0.5.
        self.color_intrinsics = _to_half_pixel(
            _read_matrix(os.path.join(idir, "intrinsic_color.txt"))[:3, :3])
        depth_k = os.path.join(idir, "intrinsic_depth.txt")
        self.depth_intrinsics = (_to_half_pixel(_read_matrix(depth_k)[:3, :3])
                                 if os.path.exists(depth_k) else self.color_intrinsics.copy())

    def __len__(self) -> int:
        return len(self.frame_ids)

    def read_frame(self, frame_id: int) -> dict:
        """``{"color" uint8 (H, W, 3), "depth" float32 metres (h, w) (0 = none),
        "pose" (4, 4) camera-to-world, "pose_valid" bool}``."""
        cpath = os.path.join(self.root, "color", f"{frame_id}{self._color_ext.get(frame_id, '.jpg')}")
        dpath = os.path.join(self.root, "depth", f"{frame_id}.png")
        ppath = os.path.join(self.root, "pose", f"{frame_id}.txt")
        try:
            color = np.asarray(Image.open(cpath).convert("RGB"))
        except FileNotFoundError:
            raise FormatError(f"{cpath}: no such file") from None
        except Exception as e:
            raise FormatError(f"{cpath}: unreadable image ({e})") from e
        try:
            raw = np.asarray(Image.open(dpath))
        except FileNotFoundError:
            raise FormatError(f"{dpath}: no such file") from None
        except Exception as e:
            raise FormatError(f"{dpath}: unreadable depth image ({e})") from e
        if raw.ndim != 2 or raw.dtype not in (np.uint16, np.int32, np.uint8, np.int16):
            raise FormatError(f"{dpath}: depth must be a single-channel 16-bit PNG "
                              f"(got {raw.dtype}, shape {raw.shape})")
        depth = raw.astype(np.float32) / np.float32(self.depth_scale)
        pose = _read_matrix(ppath)
        valid = bool(np.all(np.isfinite(pose)))
        return {"color": color, "depth": depth, "pose": pose, "pose_valid": valid}

    def load_clip(self, num_frames: int = 16, height: int = 224, width: int = 224, *,
                  start: int = 0, stride: int = 1, resample: str = "lanczos") -> dict:
        """A clip: ``video`` (T,H,W,3) float32 [0,1] (Lanczos straight resize), ``depth``
        (T,H,W,1) metres (nearest; 0 = no depth), ``intrinsics`` (T,3,3) of the video
        and ``depth_intrinsics`` (T,3,3) of the depth map, both for HxW, ``extrinsics``
        (T,4,4) world-to-camera (identity where ``pose_valid`` is False), ``pose_valid``.
        """
        idx = video_io.clip_indices(len(self.frame_ids), num_frames, stride, start,
                                    path=self.root)
        frames = [self.read_frame(self.frame_ids[i]) for i in idx]
        color = np.stack([f["color"] for f in frames])
        video = to_float(resize_frames(color, height, width,
                                                         resample=resample))
        depth = np.stack([_nearest_resize(f["depth"], height, width) for f in frames])
        valid = np.array([f["pose_valid"] for f in frames])
        ext = np.stack([np.linalg.inv(f["pose"]) if f["pose_valid"] else np.eye(4)
                        for f in frames])
        k_color = _scale_intrinsics(self.color_intrinsics, color.shape[1:3], (height, width))
        k_depth = _scale_intrinsics(self.depth_intrinsics, frames[0]["depth"].shape,
                                    (height, width))
        t = len(idx)
        return {
            "video": video,
            "depth": depth[..., None].astype(np.float32),
            "intrinsics": np.tile(k_color, (t, 1, 1)).astype(np.float32),
            "depth_intrinsics": np.tile(k_depth, (t, 1, 1)).astype(np.float32),
            "extrinsics": ext.astype(np.float32),
            "pose_valid": valid,
        }


# --------------------------------------------------------------------------- Box tracks

BOX_TRACKS_SUFFIX = ".boxes.json"


def read_box_tracks(path, num_frames: int) -> dict:
    """One box-track file (see the module) of a video of `num_frames` frames.

    Returns ``{"boxes" (K, num_frames, 4) float32 [ymin, xmin, ymax, xmax] in [0, 1],
    "box_visible" (K, num_frames) bool}``; a hidden box is zeros. FormatError naming the
    file for anything else: not JSON, other keys, a frame count that is not the video's,
    coordinates outside [0, 1] or a visible box with ymin > ymax or xmin > xmax.
    """
    import json

    path = os.fspath(path)
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file (each video needs its box tracks "
                          f"beside it as NAME{BOX_TRACKS_SUFFIX})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"{path}: not a JSON box-track file ({e})") from e
    if not isinstance(data, dict) or "boxes" not in data or set(data) - {"boxes", "visible"}:
        raise FormatError(f"{path}: expected an object with 'boxes' and optional 'visible', "
                          f"got {sorted(data) if isinstance(data, dict) else type(data).__name__}")
    try:
        boxes = np.asarray(data["boxes"], np.float64)
    except (TypeError, ValueError) as e:
        raise FormatError(f"{path}: 'boxes' must be numbers shaped (objects, frames, 4): {e}") from e
    if boxes.ndim != 3 or boxes.shape[1:] != (num_frames, 4) or not len(boxes):
        raise FormatError(f"{path}: 'boxes' must be (objects >= 1, {num_frames} frames of the "
                          f"video, 4); got shape {boxes.shape}")
    if not np.isfinite(boxes).all() or boxes.min() < 0 or boxes.max() > 1:
        raise FormatError(f"{path}: box coordinates must be finite and in [0, 1] (normalised "
                          f"by the frame size); got [{np.nanmin(boxes)}, {np.nanmax(boxes)}]")
    positive = (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
    if "visible" in data:
        visible = np.asarray(data["visible"])
        if visible.shape != boxes.shape[:2] or visible.dtype != bool:
            raise FormatError(f"{path}: 'visible' must be booleans shaped {boxes.shape[:2]} "
                              f"(objects, frames); got {visible.dtype} {visible.shape}")
        inverted = visible & ((boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1]))
        if inverted.any():
            k, t = np.argwhere(inverted)[0]
            raise FormatError(f"{path}: object {k} frame {t} is visible with ymin > ymax or "
                              f"xmin > xmax: {boxes[k, t].tolist()}")
    else:
        visible = positive
    return {"boxes": np.where(visible[..., None], boxes, 0.0).astype(np.float32),
            "box_visible": visible}
