"""``tf.data`` pipelines of video clips: from a folder of videos and from TFDS.

Every pipeline is deterministic for a seed: shuffling uses the seed, and each clip's random
start offset comes from a per-element seed drawn from ``tf.data.Dataset.random(seed)``
zipped with the (ordered) element stream, so parallel decoding does not change results.

Bad files: with ``skip_bad_files`` a file that cannot give a clip (missing, empty,
truncated, not a video, no frames, shorter than the clip) is dropped from the stream
instead of stopping it; a :class:`BadFiles` record counts them and keeps each error.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Iterable, Sequence

import numpy as np

from keras4ds.data import video_io
from keras4ds.data.tf_import import tensorflow as tf

__all__ = [
    "BadFiles",
    "list_videos",
    "video_folder_dataset",
    "sample_clip_tf",
    "resize_clip_tf",
    "tfds_video_dataset",
    "finish",
]

log = logging.getLogger("keras4ds.data")

START_MODES = ("start", "center", "random")


class BadFiles:
    """Thread-safe record of files a pipeline skipped. ``count``, ``errors`` (path ->
    message, last error per file), ``report()``."""

    def __init__(self, verbose: bool = True):
        self._lock = threading.Lock()
        self.count = 0
        self.errors: dict[str, str] = {}
        self.verbose = verbose

    def add(self, path: str, message: str) -> None:
        with self._lock:
            self.count += 1
            self.errors[path] = message
        if self.verbose:
            log.warning("skipping bad video file: %s", message)

    def report(self) -> str:
        with self._lock:
            if not self.count:
                return "no bad files skipped"
            lines = [f"skipped {self.count} bad file read(s), {len(self.errors)} distinct file(s):"]
            lines += [f"  {msg}" for msg in self.errors.values()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"BadFiles(count={self.count}, files={sorted(self.errors)})"


def list_videos(folder, extensions: Sequence[str] = video_io.VIDEO_EXTENSIONS,
                recursive: bool = True) -> list[str]:
    """Sorted paths of the video files under ``folder`` (by extension)."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder")
    exts = tuple(e.lower() for e in extensions)
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        out += [os.path.join(root, f) for f in files if f.lower().endswith(exts)]
        if not recursive:
            break
    return sorted(out)


def _files(source) -> list[str]:
    if isinstance(source, (str, os.PathLike)):
        return list_videos(source)
    return [os.fspath(p) for p in source]


def finish(ds: tf.data.Dataset, batch_size: int | None = None, drop_remainder: bool = True,
           prefetch: bool = True) -> tf.data.Dataset:
    """Batch (optionally) and prefetch."""
    if batch_size:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


def video_folder_dataset(
    source,
    num_frames: int = 16,
    height: int = 224,
    width: int = 224,
    *,
    stride: int = 1,
    start: str | int = "random",
    mode: str = "resize",
    resample: str = "lanczos",
    seed: int = 0,
    shuffle: bool = True,
    shuffle_buffer: int | None = None,
    repeat: bool = False,
    batch_size: int | None = None,
    drop_remainder: bool = True,
    skip_bad_files: bool | BadFiles = False,
    num_parallel_calls: int | None = tf.data.AUTOTUNE,
    prefetch: bool = True,
    first_element: int = 0,
) -> tf.data.Dataset:
    """Clips decoded from video files with PyAV, in parallel.

    Args:
      source: a folder (searched recursively for video extensions) or a list of files.
      num_frames, stride, start: clip sampling (see ``video_io.clip_indices``); with
        ``"random"`` each element draws its own offset.
      height, width, mode, resample: ``keras4ds.data.frames.resize_frames`` (``"resize"`` straight to
        HxW as the official demo, ``"crop"`` resize-then-centre-crop).
      seed: seeds shuffling and random offsets: the same seed gives the same stream.
      shuffle, shuffle_buffer: shuffle the file list every epoch (buffer: all files).
      repeat: loop forever (a fresh shuffle and fresh offsets each epoch).
      batch_size, drop_remainder, prefetch: see :func:`finish`.
      skip_bad_files: False (a bad file raises ``VideoError`` naming it), True (log it),
        or a :class:`BadFiles` to record into; a bad file's element is then a clip of the
        next good file in the list (same offset draw), so element k is the same whichever
        files are bad.
      num_parallel_calls: parallel decoders.
      first_element: the stream from element ``first_element`` (unbatched) on: the order
        and offsets of the earlier elements are drawn, but nothing is decoded for them
        (how a resumed run reaches its batch).

    Yields:
      ``{"video": (T, H, W, 3) float32 in [0, 1], "path": string}``.
    """
    files = _files(source)
    if not files:
        raise ValueError(f"no video files in {source!r}")
    if isinstance(start, str) and start not in START_MODES:
        raise ValueError(f"start must be an int or one of {START_MODES}")
    bad = skip_bad_files if isinstance(skip_bad_files, BadFiles) else (
        BadFiles() if skip_bad_files else None)

    if first_element < 0:
        raise ValueError(f"first_element must be >= 0; got {first_element}")
    position = {path: i for i, path in enumerate(files)}

    def _load(path, element_seed):
        """The clip of `path`, or of the next good file after it in the list."""
        path = path.decode() if isinstance(path, bytes) else str(path)
        first = position[path]
        for k in range(len(files)):
            candidate = files[(first + k) % len(files)]
            if bad is not None and candidate in bad.errors:  # known bad: no second decode
                continue
            try:
                clip = video_io.load_clip(
                    candidate, num_frames, height, width, stride=stride, start=start,
                    rng=np.random.default_rng([seed, int(element_seed) & 0x7FFFFFFF]),
                    mode=mode, resample=resample)
                return clip, candidate.encode()
            except video_io.VideoError as e:
                if bad is None:
                    raise
                bad.add(candidate, str(e))
        raise video_io.VideoError(f"no file of {source!r} gives a clip of {num_frames} "
                                  f"frames; {bad.report()}")

    def _map(path, element_seed):
        video, used = tf.numpy_function(_load, [path, element_seed], [tf.float32, tf.string],
                                        stateful=False)
        video = tf.ensure_shape(video, (num_frames, height, width, 3))
        return {"video": video, "path": tf.ensure_shape(used, ())}

    ds = tf.data.Dataset.from_tensor_slices(tf.constant(files))
    if shuffle:
        ds = ds.shuffle(shuffle_buffer or len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=seed)).skip(first_element)
    ds = ds.map(_map, num_parallel_calls=num_parallel_calls, deterministic=True)
    return finish(ds, batch_size, drop_remainder, prefetch)


# ------------------------------------------------------------------ in-graph clip tools


def sample_clip_tf(num_total, num_frames: int, stride: int = 1, start="start", seed=None):
    """Frame indices (num_frames,) int32 of a clip, as TF ops.

    ``start``: int, "start", "center" or "random" (stateless, from ``seed``: a shape (2,)
    int tensor). Fails (InvalidArgumentError) if the video is shorter than the clip.
    """
    span = (num_frames - 1) * stride + 1
    num_total = tf.cast(num_total, tf.int32)
    check = tf.debugging.assert_greater_equal(
        num_total, span, message=f"video shorter than the clip ({span} frames needed)")
    with tf.control_dependencies([check]):
        max_start = num_total - span
    if start == "start":
        s = tf.constant(0, tf.int32)
    elif start == "center":
        s = max_start // 2
    elif start == "random":
        if seed is None:
            raise ValueError("start='random' needs a seed")
        s = tf.random.stateless_uniform((), seed, 0, max_start + 1, dtype=tf.int32)
    else:
        check = tf.debugging.assert_less_equal(
            tf.constant(int(start), tf.int32), max_start, message="clip start past the end")
        with tf.control_dependencies([check]):
            s = tf.identity(tf.constant(int(start), tf.int32))
    return s + stride * tf.range(num_frames, dtype=tf.int32)


def resize_clip_tf(video, height: int, width: int, mode: str = "resize",
                   method: str = "bilinear", antialias: bool = True):
    """Resize a (T, h, w, C) clip with TF ops; ``mode`` "resize" or "crop" (centre crop
    with the target aspect ratio, then resize), like ``keras4ds.data.frames.resize_frames``."""
    if mode == "none":
        return video
    if mode == "crop":
        shape = tf.shape(video)
        h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
        scale = tf.maximum(height / h, width / w)
        ch = tf.cast(tf.round(height / scale), tf.int32)
        cw = tf.cast(tf.round(width / scale), tf.int32)
        top = (shape[1] - ch) // 2
        left = (shape[2] - cw) // 2
        video = video[:, top:top + ch, left:left + cw]
    elif mode != "resize":
        raise ValueError("mode must be 'resize', 'crop' or 'none'")
    out = tf.image.resize(video, (height, width), method=method, antialias=antialias)
    return out


def tfds_video_dataset(
    name_or_builder,
    split: str = "train",
    num_frames: int = 16,
    height: int = 224,
    width: int = 224,
    *,
    data_dir: str | None = None,
    video_key: str = "video",
    keep_keys: Iterable[str] = (),
    stride: int = 1,
    start: str | int = "random",
    mode: str = "resize",
    seed: int = 0,
    shuffle: bool = True,
    shuffle_buffer: int = 256,
    repeat: bool = False,
    batch_size: int | None = None,
    drop_remainder: bool = True,
    num_parallel_calls: int | None = tf.data.AUTOTUNE,
    prefetch: bool = True,
    first_element: int = 0,
) -> tf.data.Dataset:
    """Clips from a TFDS dataset with a video feature (uint8 ``(T, H, W, 3)``).

    ``name_or_builder``: a registered name (``"keras4ds_synthetic4d/tiny"``) or a
    ``tfds.core.DatasetBuilder``. Frames are sampled as in :func:`sample_clip_tf`,
    resized with TF bilinear (antialiased) and scaled to [0, 1]. ``keep_keys`` copies other
    features through unchanged (only those whose time axis is not resampled make sense).
    ``first_element``: the stream from element ``first_element`` (unbatched) on; the
    earlier records are read and shuffled as before, but their frames are not decoded (how
    a resumed run reaches its batch).

    Yields ``{"video": (T, H, W, 3) float32, **kept}``.
    """
    import tensorflow_datasets as tfds

    if first_element < 0:
        raise ValueError(f"first_element must be >= 0; got {first_element}")
    if isinstance(name_or_builder, str):
        builder = tfds.builder(name_or_builder, data_dir=data_dir)
    else:
        builder = name_or_builder
    video_feature = builder.info.features[video_key]
    read_config = tfds.ReadConfig(shuffle_seed=seed)
    # The frames stay encoded through shuffle and skip; `_map` decodes only the sampled
    # frames of the elements kept.
    ds = builder.as_dataset(split=split, shuffle_files=shuffle, read_config=read_config,
                            decoders={video_key: tfds.decode.SkipDecoding()})
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    keep = tuple(keep_keys)

    def _map(example, element_seed):
        frames = example[video_key]  # (T_video,) encoded frames
        idx = sample_clip_tf(tf.shape(frames)[0], num_frames, stride, start,
                             seed=tf.stack([tf.constant(seed, tf.int64), element_seed]))
        clip = video_feature.decode_example(tf.gather(frames, idx))  # only the clip's frames
        clip = tf.cast(clip, tf.float32) / 255.0
        clip = resize_clip_tf(clip, height, width, mode)
        clip = tf.clip_by_value(clip, 0.0, 1.0)
        out = {"video": tf.ensure_shape(clip, (num_frames, height, width, 3))}
        out.update({k: example[k] for k in keep})
        return out

    ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=seed)).skip(first_element)
    ds = ds.map(_map, num_parallel_calls=num_parallel_calls, deterministic=True)
    return finish(ds, batch_size, drop_remainder, prefetch)
