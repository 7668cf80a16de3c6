"""Real data as probe clips: the keys and conventions of ``synthetic.generate_clip``.

``task_clips(task, "FORMAT:PATH", num_frames, image_size)`` yields clip dicts cut to the
encoder's ``num_frames`` and resized straight (aspect not kept) to ``image_size``:
``video`` (T, H, W, 3) float32 in [0, 1] (Lanczos, as the official 4DS demo), ``depth``
(T, H, W, 1) metres (nearest source pixel, so 0 = no depth stays 0 and depths never
blend), ``intrinsics`` (T, 3, 3) in pixels of the returned frames, ``extrinsics``
(T, 4, 4) world-to-camera, ``tracks`` (N, T, 2) pixel (x, y) of the returned frames
(pixel centres at integer + 0.5), ``visible`` (N, T) bool, ``label`` int; and ``name``
(str), where the clip came from.

Formats (``FORMATS``: which tasks each gives):

* ``tapvid``: TAP-Vid pickles (a file, glob or folder; ``formats.tapvid_files``) -> points.
* ``scannet``: a ScanNet-style RGB-D sequence folder or a folder of them -> depth, pose.
* ``re10k``: RealEstate10K camera files with their video's frames -> pose.
* ``videofolder``: one sub-folder of videos per class -> classify.
* ``boxtracks``: a folder of videos, each with ``NAME.boxes.json`` beside it
  (``formats.read_box_tracks``) -> boxes.

Asking a format for a task it does not give raises a ValueError naming the formats.
"""
from __future__ import annotations

import glob
import hashlib
import itertools
import logging
import os
from typing import Iterator

import numpy as np
from PIL import Image

from keras4ds.data import formats, video_io
from keras4ds.data.frames import resize_frames, to_float

__all__ = ["FORMATS", "task_clips", "read_task_clips", "check_source", "parse_spec", "tapvid_clips",
           "scannet_clips",
           "re10k_clips", "videofolder_clips", "boxtrack_clips", "stack_clips", "files_fingerprint",
           "source_fingerprint"]

log = logging.getLogger("keras4ds.data")

FORMATS = {"tapvid": ("points",), "scannet": ("depth", "pose"), "re10k": ("pose",),
           "videofolder": ("classify",), "boxtracks": ("boxes",)}
_FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _formats_text() -> str:
    return ", ".join(f"{name} ({', '.join(tasks)})" for name, tasks in FORMATS.items())


def _size(image_size) -> tuple[int, int]:
    """An int or (H, W) -> (H, W)."""
    return (int(image_size),) * 2 if np.ndim(image_size) == 0 else tuple(map(int, image_size))


def _windows(total: int, num_frames: int) -> range:
    """Starts of the non-overlapping windows of `num_frames` in `total` frames."""
    return range(0, total - num_frames + 1, num_frames)


def tapvid_clips(source, num_frames: int, image_size) -> Iterator[dict]:
    """Points clips from TAP-Vid pickles: windows of `num_frames` frames (starts 0,
    `num_frames`, ...; a shorter tail is dropped) of every video.

    Yields ``{"video" (T, H, W, 3), "tracks" (N, T, 2) = normalised points * (W, H),
    "visible" (N, T) = not occluded, "name"}``; tracks never visible in the window are
    dropped and a window with no visible track is skipped.
    """
    height, width = _size(image_size)
    scale = np.array([width, height], np.float32)
    for path in formats.tapvid_files(source):
        for name, v in formats.load_tapvid(path):
            for start in _windows(len(v["video"]), num_frames):
                window = slice(start, start + num_frames)
                visible = ~v["occluded"][:, window]
                keep = visible.any(axis=1)
                if not keep.any():
                    continue
                frames = resize_frames(v["video"][window], height, width)
                yield {"video": to_float(frames),
                       "tracks": (v["points"][keep, window] * scale).astype(np.float32),
                       "visible": visible[keep], "name": f"{name}[{start}:{window.stop}]"}


def _scannet_roots(root: str) -> list[str]:
    if os.path.isdir(os.path.join(root, "color")):
        return [root]
    roots = sorted(d for d in glob.glob(os.path.join(root, "*"))
                   if os.path.isdir(os.path.join(d, "color")))
    if not roots:
        raise formats.FormatError(f"{root}: neither a ScanNet-style sequence (color/, depth/, "
                                  "pose/, intrinsic/) nor a folder of them")
    return roots


def scannet_clips(root, num_frames: int, image_size) -> Iterator[dict]:
    """Depth and pose clips from ScanNet-style sequences (`root`: one sequence folder or a
    folder of them, sorted): windows of `num_frames` consecutive frames.

    Yields ``ScanNetSequence.load_clip``'s ``video``, ``depth`` (nearest; 0 = none),
    ``intrinsics``, ``depth_intrinsics`` (of the depth map resized to H x W), ``extrinsics``
    (inverse of the camera-to-world pose files) and ``name``. A window holding a frame
    whose pose is invalid (``-inf``: tracking lost) is skipped, with a logged warning.
    """
    height, width = _size(image_size)
    for path in _scannet_roots(os.fspath(root)):
        sequence = formats.ScanNetSequence(path)
        skipped = 0
        for start in _windows(len(sequence), num_frames):
            clip = sequence.load_clip(num_frames, height, width, start=start)
            if not clip.pop("pose_valid").all():
                skipped += 1
                continue
            ids = sequence.frame_ids[start], sequence.frame_ids[start + num_frames - 1]
            yield {**clip, "name": f"{os.path.basename(path)}[{ids[0]}..{ids[1]}]"}
        if skipped:
            log.warning("%s: skipped %d window(s) of %d frames with an invalid pose",
                        path, skipped, num_frames)


def _frame_file(folder: str, timestamp: int) -> str | None:
    for ext in _FRAME_EXTENSIONS:
        path = os.path.join(folder, f"{timestamp}{ext}")
        if os.path.exists(path):
            return path
    return None


def re10k_clips(root, num_frames: int, image_size) -> Iterator[dict]:
    """Pose clips from RealEstate10K: camera files ``<seq>.txt`` (`root`: one, or a folder
    of them, sorted), each with a folder ``<seq>/`` beside it holding the video's frames,
    one image per camera line named by its timestamp (``<timestamp_us>.png`` or ``.jpg``).

    Windows of `num_frames` consecutive camera lines; a window with a missing frame is
    skipped (logged). Yields ``{"video", "intrinsics"`` (normalised intrinsics times the
    returned frame size; a straight resize keeps them), ``"extrinsics"``, ``"name"}``.
    """
    height, width = _size(image_size)
    root = os.fspath(root)
    files = [root] if os.path.isfile(root) else sorted(glob.glob(os.path.join(root, "*.txt")))
    if not files:
        raise formats.FormatError(f"{root}: no RealEstate10K camera files (*.txt)")
    for path in files:
        cameras = formats.read_realestate10k(path)
        folder = os.path.splitext(path)[0]
        if not os.path.isdir(folder):
            raise formats.FormatError(f"{path}: its frames folder {folder}/ does not exist")
        skipped = 0
        for start in _windows(len(cameras["timestamps"]), num_frames):
            window = slice(start, start + num_frames)
            paths = [_frame_file(folder, int(t)) for t in cameras["timestamps"][window]]
            if None in paths:
                skipped += 1
                continue
            frames = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
            k = formats.realestate10k_intrinsics(cameras["intrinsics_normalized"][window],
                                                 height, width)
            yield {"video": to_float(resize_frames(frames, height, width)),
                   "intrinsics": k.astype(np.float32),
                   "extrinsics": cameras["extrinsics"][window].astype(np.float32),
                   "name": f"{os.path.basename(folder)}[{start}:{window.stop}]"}
        if skipped:
            log.warning("%s: skipped %d window(s) of %d frames with a missing frame in %s/",
                        path, skipped, num_frames, folder)


def videofolder_clips(root, num_frames: int, image_size) -> Iterator[dict]:
    """Classify clips from a folder with one sub-folder of videos per class.

    ``label`` is the class's index among the sorted sub-folder names (so training and
    evaluation folders need the same sub-folders). Each video (``pipelines.list_videos``)
    gives one clip, its first `num_frames` frames (``video_io.load_clip``, Lanczos);
    classes take turns (one video of each in turn) so that a limit keeps them balanced.
    Yields ``{"video", "label", "name"}``.
    """
    from keras4ds.data.pipelines import list_videos

    height, width = _size(image_size)
    root = os.fspath(root)
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise formats.FormatError(f"{root}: no class sub-folders (expected one folder of "
                                  "videos per class)")
    per_class = [[(label, p) for p in list_videos(os.path.join(root, c))]
                 for label, c in enumerate(classes)]
    for item in itertools.chain.from_iterable(itertools.zip_longest(*per_class)):
        if item is not None:
            label, path = item
            yield {"video": video_io.load_clip(path, num_frames, height, width),
                   "label": label, "name": os.path.relpath(path, root)}


def boxtrack_clips(root, num_frames: int, image_size) -> Iterator[dict]:
    """Boxes clips from a folder of videos with their box tracks (``NAME.boxes.json``
    beside ``NAME.mp4``; ``formats.read_box_tracks``): windows of `num_frames` frames
    (starts 0, `num_frames`, ...; a shorter tail is dropped) of every video, in sorted
    order. Objects hidden in a window's first frame (where the query box comes from) are
    dropped, and a window without any object there is skipped.

    Yields ``{"video" (T, H, W, 3), "boxes" (K, T, 4) normalised [ymin, xmin, ymax, xmax],
    "box_visible" (K, T) bool, "name"}``.
    """
    from keras4ds.data.pipelines import list_videos

    height, width = _size(image_size)
    videos = list_videos(root)
    if not videos:
        raise formats.FormatError(f"{root}: no videos (expected videos, each with its box "
                                  f"tracks beside it as NAME{formats.BOX_TRACKS_SUFFIX})")
    for path in videos:
        frames = video_io.read_frames(path)
        tracks = formats.read_box_tracks(os.path.splitext(path)[0] + formats.BOX_TRACKS_SUFFIX,
                                         len(frames))
        name = os.path.relpath(path, root)
        for start in _windows(len(frames), num_frames):
            window = slice(start, start + num_frames)
            keep = tracks["box_visible"][:, start]
            if not keep.any():
                continue
            yield {"video": to_float(resize_frames(frames[window], height, width)),
                   "boxes": tracks["boxes"][keep, window], "box_visible": tracks["box_visible"][keep, window],
                   "name": f"{name}[{start}:{window.stop}]"}


_READERS = {"tapvid": tapvid_clips, "scannet": scannet_clips, "re10k": re10k_clips,
            "videofolder": videofolder_clips, "boxtracks": boxtrack_clips}


def parse_spec(spec: str) -> tuple[str, str]:
    """'FORMAT:PATH' -> (format, absolute path); ValueError for an unknown format or a
    path that does not exist (a TAP-Vid glob must match a file)."""
    kind, sep, path = str(spec).partition(":")
    if not sep or not path:
        raise ValueError(f"data must be given as FORMAT:PATH with FORMAT one of "
                         f"{sorted(FORMATS)}; got {spec!r}")
    if kind not in FORMATS:
        raise ValueError(f"unknown data format {kind!r} in {spec!r}; the formats are "
                         f"{_formats_text()}")
    path = os.path.abspath(os.path.expanduser(path))
    if not (os.path.exists(path) or (kind == "tapvid" and glob.glob(path))):
        raise ValueError(f"{spec!r}: {path} does not exist")
    return kind, path


def check_source(task: str, spec: str) -> tuple[str, str]:
    """`parse_spec(spec)` after checking that its format gives `task` clips (ValueError
    naming the formats otherwise); reads nothing."""
    kind, path = parse_spec(spec)
    if task not in FORMATS[kind]:
        givers = [name for name, tasks in FORMATS.items() if task in tasks]
        wanted = (f"task {task!r} needs one of the formats {givers}" if givers else
                  f"no reader gives {task!r} clips")
        raise ValueError(f"{spec!r}: format {kind!r} gives {', '.join(FORMATS[kind])} clips; "
                         f"{wanted} (formats: {_formats_text()})")
    return kind, path


def task_clips(task: str, spec: str, num_frames: int, image_size, limit: int | None = None):
    """Clips for `task` from `spec` ('FORMAT:PATH'), at most `limit`, in the source's order.

    Checks the source first (`check_source`); returns an iterator of clip dicts (see the
    module) that reads the files as it goes.
    """
    kind, path = check_source(task, spec)
    return itertools.islice(_READERS[kind](path, num_frames, image_size), limit)


def read_task_clips(task: str, spec: str, num_frames: int, image_size, limit: int,
                    desc: str | None = None) -> list[dict]:
    """`task_clips` read into a list, with a tqdm bar; at least one clip, else a ValueError."""
    from tqdm.auto import tqdm

    clips = list(tqdm(task_clips(task, spec, num_frames, image_size, limit=limit), total=limit,
                      desc=desc or f"{task} clips of {spec}", leave=False))
    if not clips:
        raise ValueError(f"{spec} gave no {task} clips of {num_frames} frames")
    return clips


def _pad_rows(clips: list[dict], values: str, visible: str) -> list[dict]:
    """Pad `values` `(N, T, ...)` and `visible` `(N, T)` of every clip to the largest N
    with zeros: never-visible rows."""
    n = max(len(c[values]) for c in clips)

    def pad(a):
        return np.pad(a, ((0, n - len(a)),) + ((0, 0),) * (a.ndim - 1))

    return [{**c, values: pad(c[values]), visible: pad(c[visible])} for c in clips]


def stack_clips(clips: list[dict]) -> dict:
    """Clip dicts -> arrays with a leading clip axis, e.g. video (n, T, H, W, 3). Point
    tracks and box tracks (their count differs between real clips) are padded to the
    largest count with never-visible rows, which ``batches.point_queries`` never samples
    and the box loss and metric leave out (hidden in the first frame)."""
    if "tracks" in clips[0]:
        clips = _pad_rows(clips, "tracks", "visible")
    if "boxes" in clips[0]:
        clips = _pad_rows(clips, "boxes", "box_visible")
    return {key: np.stack([c[key] for c in clips]) for key in clips[0]}


def files_fingerprint(path) -> str:
    """sha256 of the relative path, size and modification time of every file under `path`
    (a folder, a file or a glob): it changes when a file is added, removed or rewritten."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        files = sorted(os.path.join(d, f) for d, _, names in os.walk(path) for f in names)
    else:
        files = sorted(glob.glob(path)) or [path]
    base = path if os.path.isdir(path) else os.path.dirname(path)
    digest = hashlib.sha256()
    for f in files:
        stat = os.stat(f)
        digest.update(f"{os.path.relpath(f, base)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def source_fingerprint(spec: str) -> str:
    """'FORMAT:ABSPATH sha256' of a source: see :func:`files_fingerprint`."""
    kind, path = parse_spec(spec)
    return f"{kind}:{path} {files_fingerprint(path)}"
