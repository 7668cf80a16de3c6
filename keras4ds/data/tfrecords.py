"""Sharded TFRecords of JPEG-encoded video frames: writing (from video files) and reading.

One ``tf.train.Example`` per video:

* ``frames``: bytes list, one JPEG per frame (RGB);
* ``num_frames``, ``height``, ``width``: int64;
* ``fps``: float; ``path``: bytes (the source file, relative to the input folder).

Shards are ``{prefix}-{i:05d}-of-{n:05d}.tfrecord``; the writer also leaves
``{prefix}.json`` (shard names, example counts, skipped files). Each shard is written to a
temporary name and renamed only when the whole run succeeded, so readers never see a
half-written shard.

Frames can be resized when writing (``size=(H, W)``, with ``resize_frames``, so
Lanczos straight-to-size like the official demo): reading then needs no resize and gives
exactly the demo's input up to JPEG loss.
"""
from __future__ import annotations

import glob
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from keras4ds.data import video_io
from keras4ds.data.frames import resize_frames
from keras4ds.data.pipelines import BadFiles, finish, resize_clip_tf, sample_clip_tf
from keras4ds.data.tf_import import tensorflow as tf
from keras4ds.utils import write_json

__all__ = ["encode_example", "write_tfrecords", "tfrecord_dataset", "parse_example", "shard_names",
           "tfrecord_files", "tfrecord_paths", "iter_tfrecord_videos"]

_FEATURES = {
    "frames": tf.io.RaggedFeature(tf.string),
    "num_frames": tf.io.FixedLenFeature((), tf.int64),
    "height": tf.io.FixedLenFeature((), tf.int64),
    "width": tf.io.FixedLenFeature((), tf.int64),
    "fps": tf.io.FixedLenFeature((), tf.float32, default_value=0.0),
    "path": tf.io.FixedLenFeature((), tf.string, default_value=""),
}


def encode_example(frames: np.ndarray, path: str = "", fps: float = 0.0,
                   quality: int = 95) -> bytes:
    """Serialized ``tf.train.Example`` of uint8 frames (T, H, W, 3)."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    jpegs = [tf.io.encode_jpeg(f, quality=quality, chroma_downsampling=False).numpy()
             for f in frames]
    feature = {
        "frames": tf.train.Feature(bytes_list=tf.train.BytesList(value=jpegs)),
        "num_frames": tf.train.Feature(int64_list=tf.train.Int64List(value=[len(frames)])),
        "height": tf.train.Feature(int64_list=tf.train.Int64List(value=[frames.shape[1]])),
        "width": tf.train.Feature(int64_list=tf.train.Int64List(value=[frames.shape[2]])),
        "fps": tf.train.Feature(float_list=tf.train.FloatList(value=[fps or 0.0])),
        "path": tf.train.Feature(bytes_list=tf.train.BytesList(value=[path.encode()])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def shard_names(prefix: str, num_shards: int) -> list[str]:
    return [f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]


def _encode_file(path, root, size, mode, max_frames, quality):
    frames = video_io.read_frames(path) if max_frames is None else _read_up_to(path, max_frames)
    if size is not None:
        frames = resize_frames(frames, size[0], size[1], mode=mode)
    try:
        fps = video_io.probe_video(path).fps or 0.0
    except video_io.VideoError:
        fps = 0.0
    rel = os.path.relpath(path, root) if root else os.path.basename(path)
    return encode_example(frames, rel, fps, quality), len(frames)


def _read_up_to(path, max_frames):
    n = video_io.count_frames(path)
    return video_io.read_frames(path, range(min(n, max_frames)))


def write_tfrecords(
    files: Sequence[str],
    prefix: str,
    num_shards: int = 1,
    *,
    root: str | None = None,
    size: tuple[int, int] | None = None,
    mode: str = "resize",
    max_frames: int | None = None,
    quality: int = 95,
    workers: int = 1,
    skip_bad_files: bool = True,
    progress: bool = True,
) -> dict:
    """Encode video ``files`` into ``num_shards`` TFRecord shards named from ``prefix``.

    Videos go to shards round-robin in the given order. ``size`` resizes frames when
    writing; ``max_frames`` keeps the first frames only. Bad files are skipped and listed
    (or raise ``VideoError`` with ``skip_bad_files=False``, leaving no shard behind).
    Returns the manifest (also written to ``{prefix}.json``).
    """
    from tqdm.auto import tqdm

    files = [os.fspath(f) for f in files]
    if num_shards < 1:
        raise ValueError("num_shards must be >= 1")
    out_dir = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(out_dir, exist_ok=True)
    finals = shard_names(prefix, num_shards)
    token = uuid.uuid4().hex[:8]
    temps = [os.path.join(os.path.dirname(f) or ".", f".tmp-{token}-{os.path.basename(f)}")
             for f in finals]
    bad = BadFiles(verbose=False)
    counts = [0] * num_shards
    frames_total = 0
    writers = [tf.io.TFRecordWriter(t) for t in temps]

    def job(path):
        try:
            return path, _encode_file(path, root, size, mode, max_frames, quality), None
        except video_io.VideoError as e:
            return path, None, e

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            results = pool.map(job, files)
            bar = tqdm(results, total=len(files), desc=f"writing {os.path.basename(prefix)}",
                       unit="video", disable=not progress)
            written = 0
            for path, result, error in bar:
                if error is not None:
                    if not skip_bad_files:
                        raise error
                    bad.add(path, str(error))
                    bar.set_postfix(bad=bad.count)
                    continue
                data, n = result
                shard = written % num_shards
                writers[shard].write(data)
                counts[shard] += 1
                frames_total += n
                written += 1
        for w in writers:
            w.close()
        for t, f in zip(temps, finals):
            os.replace(t, f)
    except BaseException:
        for w in writers:
            w.close()
        for t in temps:
            if os.path.exists(t):
                os.remove(t)
        raise
    manifest = {
        "shards": [os.path.basename(f) for f in finals],
        "examples_per_shard": counts,
        "num_examples": sum(counts),
        "num_frames": frames_total,
        "size": list(size) if size else None,
        "skipped": bad.errors,
    }
    write_json(f"{prefix}.json", manifest, indent=1)
    return manifest


def parse_example(serialized):
    """Parse one example: dict with ``frames`` (a 1-D string tensor of JPEGs) and the rest."""
    return tf.io.parse_single_example(serialized, _FEATURES)


def tfrecord_files(pattern) -> list[str]:
    """The shard files of `pattern` (a glob, a writer's prefix or a list), sorted;
    FileNotFoundError naming it when there are none."""
    if isinstance(pattern, (list, tuple)):
        files = sorted(os.fspath(p) for p in pattern)
    else:
        pattern = os.fspath(pattern)
        files = sorted(glob.glob(pattern)) or sorted(glob.glob(pattern + "-*-of-*.tfrecord"))
    if not files:
        raise FileNotFoundError(f"no TFRecord files match {pattern!r}")
    return files


def tfrecord_paths(pattern) -> list[str]:
    """The stored path of every video in `pattern`'s shards, in shard order (no JPEG is
    decoded)."""
    return [parse_example(serialized)["path"].numpy().decode()
            for serialized in tf.data.TFRecordDataset(tfrecord_files(pattern))]


def iter_tfrecord_videos(pattern):
    """Every stored video of `pattern`'s shards, whole and in shard order:
    `(path, frames (T, H, W, 3) uint8)`, `path` as written (relative source path)."""
    for serialized in tf.data.TFRecordDataset(tfrecord_files(pattern)):
        example = parse_example(serialized)
        frames = np.stack([tf.io.decode_jpeg(jpeg, channels=3).numpy()
                           for jpeg in example["frames"]])
        yield example["path"].numpy().decode(), frames


def tfrecord_dataset(
    pattern,
    num_frames: int = 16,
    height: int = 224,
    width: int = 224,
    *,
    stride: int = 1,
    start: str | int = "random",
    mode: str = "resize",
    seed: int = 0,
    shuffle: bool = True,
    shuffle_buffer: int = 256,
    repeat: bool = False,
    batch_size: int | None = None,
    drop_remainder: bool = True,
    skip_short: bool = True,
    num_parallel_calls: int | None = tf.data.AUTOTUNE,
    prefetch: bool = True,
    first_element: int = 0,
) -> tf.data.Dataset:
    """Clips read back from JPEG-frame TFRecords (pure TF: parallel, no GIL).

    Videos shorter than the clip are skipped (``skip_short``) or fail the pipeline with
    an InvalidArgumentError naming the clip length.

    ``pattern``: a glob (``/data/kinetics-*.tfrecord``), a prefix given to the writer, or
    a list of files. Only the sampled frames are JPEG-decoded. Frames whose stored size is
    not (height, width) are resized with TF bilinear (antialiased); write at the final
    size to avoid it. Deterministic for a seed. ``first_element``: the stream from that
    (unbatched) element on; the earlier records are read and parsed but not JPEG-decoded
    (how a resumed run reaches its batch).

    Yields ``{"video": (T, H, W, 3) float32 in [0, 1], "path": string}``.
    """
    if first_element < 0:
        raise ValueError(f"first_element must be >= 0; got {first_element}")
    files = tfrecord_files(pattern)
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def _map(ex, element_seed):
        n = tf.shape(ex["frames"])[0]
        idx = sample_clip_tf(n, num_frames, stride, start,
                             seed=tf.stack([tf.constant(seed, tf.int64), element_seed]))
        jpegs = tf.gather(ex["frames"], idx)
        frames = tf.map_fn(lambda b: tf.io.decode_jpeg(b, channels=3), jpegs,
                           fn_output_signature=tf.TensorSpec((None, None, 3), tf.uint8))
        video = tf.cast(frames, tf.float32) / 255.0
        same = tf.logical_and(tf.equal(ex["height"], height), tf.equal(ex["width"], width))
        video = tf.cond(same, lambda: video,
                        lambda: tf.clip_by_value(resize_clip_tf(video, height, width, mode),
                                                 0.0, 1.0))
        video = tf.ensure_shape(video, (num_frames, height, width, 3))
        return {"video": video, "path": ex["path"]}

    ds = ds.map(parse_example, num_parallel_calls=num_parallel_calls, deterministic=True)
    if skip_short:
        span = (num_frames - 1) * stride + 1
        ds = ds.filter(lambda ex: tf.shape(ex["frames"])[0] >= span)
    ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=seed)).skip(first_element)
    ds = ds.map(_map, num_parallel_calls=num_parallel_calls, deterministic=True)
    return finish(ds, batch_size, drop_remainder, prefetch)
