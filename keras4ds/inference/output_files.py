"""The per-video files of `keras4ds features` and `keras4ds depth` on a folder: npz, HDF5
(`.h5`) or TFRecord (`.tfrecord`, one `tf.train.Example`), each holding one float32 array
("features" or "depth") and the video's frame counts, written under a temp name and renamed."""
from __future__ import annotations

import os

import numpy as np

from keras4ds.utils import write_staged

FILE_FORMATS = {"npz": ".npz", "hdf5": ".h5", "tfrecord": ".tfrecord"}
ARRAY_KEYS = ("features", "depth")


def write_output(path, fmt, key, array, frames, padded_frames) -> None:
    """One video's `array` (float32) under `key` and its frame counts, staged."""
    if fmt == "npz":
        def write(staged):
            with open(staged, "wb") as f:
                np.savez(f, **{key: array}, frames=frames, padded_frames=padded_frames)
    elif fmt == "hdf5":
        import h5py

        def write(staged):
            with h5py.File(staged, "w") as f:
                f.create_dataset(key, data=array)
                f.attrs["frames"], f.attrs["padded_frames"] = frames, padded_frames
    else:
        from keras4ds.data.tf_import import tensorflow as tf

        def write(staged):
            feature = {
                key: tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[np.ascontiguousarray(array, "<f4").tobytes()])),
                "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=array.shape)),
                "frames": tf.train.Feature(int64_list=tf.train.Int64List(value=[frames])),
                "padded_frames": tf.train.Feature(int64_list=tf.train.Int64List(
                    value=[padded_frames])),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            with tf.io.TFRecordWriter(staged) as writer:
                writer.write(example.SerializeToString())
    write_staged(path, write)


def read_output(path) -> dict:
    """A file `extract_folder_features` or `extract_folder_depth` wrote (by its extension)
    -> `{"features" (t, h, w, D) or "depth" (T, H, W, 1) float32, "frames", "padded_frames"}`."""
    path = os.fspath(path)
    if path.endswith(".npz"):
        with np.load(path) as f:
            return {k: (f[k] if k in ARRAY_KEYS else int(f[k])) for k in f.files}
    if path.endswith(".h5"):
        import h5py

        with h5py.File(path, "r") as f:
            return {**{k: f[k][()] for k in f.keys()},
                    "frames": int(f.attrs["frames"]), "padded_frames": int(f.attrs["padded_frames"])}
    if path.endswith(".tfrecord"):
        from keras4ds.data.tf_import import tensorflow as tf

        (record,) = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
        example = tf.train.Example.FromString(record).features.feature
        shape = tuple(example["shape"].int64_list.value)
        (key,) = [k for k in ARRAY_KEYS if k in example]
        return {key: np.frombuffer(example[key].bytes_list.value[0], "<f4").reshape(shape),
                "frames": int(example["frames"].int64_list.value[0]),
                "padded_frames": int(example["padded_frames"].int64_list.value[0])}
    raise ValueError(f"{path}: not a features file (expected {', '.join(FILE_FORMATS.values())})")
