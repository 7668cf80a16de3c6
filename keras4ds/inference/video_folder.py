"""Encoder features for every video in a folder: one file per video plus `index.json`.

Each video is decoded frame by frame and resized to the encoder's frame size as it is read
(`resize="resize"`, the official demo's straight Lanczos resize, or `"crop"`, centre crop
then resize), or kept at its own size with the position embedding resized
(`resize="native"`); a video longer than the encoder's window goes through overlapping
windows (`iter_encoder_features`; one compiled forward per frame size serves every video).
The files are `.npz`, HDF5 (`.h5`) or TFRecord (`.tfrecord`, one `tf.train.Example`; see
`read_features`). A video shorter than the window, or with a frame count
that is not a multiple of the tubelet length, is padded by repeating its last frame; the
index records both counts. Outputs are written under a temp name and renamed, and the
index is rewritten after every video, so a killed run leaves only finished files: run the
same call again and it skips them. The settings are saved in the index; a rerun with other
settings is refused, naming them.
"""
from __future__ import annotations

import json
import os

import numpy as np
from tqdm import tqdm

from keras4ds.data.frames import resize_frames, to_float
from keras4ds.data.video_io import VIDEO_EXTENSIONS, iter_frames
from keras4ds.inference.long_video import EncoderForwards, encoder_features_long_video
from keras4ds.utils import remove_staged_leftovers, write_json, write_staged

RESIZE_CHOICES = ("resize", "crop", "native")
FILE_FORMATS = {"npz": ".npz", "hdf5": ".h5", "tfrecord": ".tfrecord"}
INDEX_NAME = "index.json"


def list_videos(folder: str) -> list[str]:
    """The video files directly in `folder` (by extension), sorted by name."""
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"video folder {folder} is not a folder")
    names = sorted(n for n in os.listdir(folder)
                   if os.path.splitext(n)[1].lower() in VIDEO_EXTENSIONS
                   and os.path.isfile(os.path.join(folder, n)))
    if not names:
        raise FileNotFoundError(f"no video files ({', '.join(VIDEO_EXTENSIONS)}) in {folder}")
    return names


def read_video(path, size, resize="resize", frame_stride=1) -> np.ndarray:
    """Every `frame_stride`-th frame of `path` as `(T, H, W, 3)` float32 in [0, 1], resized
    to `size` (H, W) while decoding (`resize` 'resize' or 'crop'), or at its own size
    ('native')."""
    if resize not in RESIZE_CHOICES:
        raise ValueError(f"resize must be one of {RESIZE_CHOICES}; got {resize!r}")
    frames = []
    for i, frame in enumerate(iter_frames(path)):
        if i % frame_stride:
            continue
        if resize != "native":
            frame = resize_frames(frame[None], *size, mode=resize)[0]
        frames.append(frame)
    return to_float(np.stack(frames))


def pad_frames(video: np.ndarray, window: int, step: int) -> np.ndarray:
    """`(T, H, W, 3)` -> at least `window` frames and a multiple of `step`, by repeating
    the last frame (a single image becomes a still clip)."""
    frames = max(window, -(-len(video) // step) * step)
    if frames == len(video):
        return video
    return np.concatenate([video, np.repeat(video[-1:], frames - len(video), axis=0)])


def _write_features(path, fmt, features, frames, padded_frames) -> None:
    """One video's features `(t, h, w, D)` float32 and its frame counts, staged."""
    if fmt == "npz":
        def write(staged):
            with open(staged, "wb") as f:
                np.savez(f, features=features, frames=frames, padded_frames=padded_frames)
    elif fmt == "hdf5":
        import h5py

        def write(staged):
            with h5py.File(staged, "w") as f:
                f.create_dataset("features", data=features)
                f.attrs["frames"], f.attrs["padded_frames"] = frames, padded_frames
    else:
        from keras4ds.data.tf_import import tensorflow as tf

        def write(staged):
            feature = {
                "features": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[np.ascontiguousarray(features, "<f4").tobytes()])),
                "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=features.shape)),
                "frames": tf.train.Feature(int64_list=tf.train.Int64List(value=[frames])),
                "padded_frames": tf.train.Feature(int64_list=tf.train.Int64List(
                    value=[padded_frames])),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            with tf.io.TFRecordWriter(staged) as writer:
                writer.write(example.SerializeToString())
    write_staged(path, write)


def read_features(path) -> dict:
    """A file `extract_folder_features` wrote (by its extension) ->
    `{"features" (t, h, w, D) float32, "frames", "padded_frames"}`."""
    path = os.fspath(path)
    if path.endswith(".npz"):
        with np.load(path) as f:
            return {"features": f["features"], "frames": int(f["frames"]),
                    "padded_frames": int(f["padded_frames"])}
    if path.endswith(".h5"):
        import h5py

        with h5py.File(path, "r") as f:
            return {"features": f["features"][()], "frames": int(f.attrs["frames"]),
                    "padded_frames": int(f.attrs["padded_frames"])}
    if path.endswith(".tfrecord"):
        from keras4ds.data.tf_import import tensorflow as tf

        (record,) = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
        example = tf.train.Example.FromString(record).features.feature
        shape = tuple(example["shape"].int64_list.value)
        return {"features": np.frombuffer(example["features"].bytes_list.value[0], "<f4")
                .reshape(shape),
                "frames": int(example["frames"].int64_list.value[0]),
                "padded_frames": int(example["padded_frames"].int64_list.value[0])}
    raise ValueError(f"{path}: not a features file (expected {', '.join(FILE_FORMATS.values())})")


def _check_same_settings(saved: dict, settings: dict, out: str) -> None:
    changed = [f"{k}: {saved.get(k)!r} -> {settings.get(k)!r}"
               for k in sorted(set(saved) | set(settings)) if saved.get(k) != settings.get(k)]
    if changed:
        raise ValueError(f"{out} holds features made with other settings ({'; '.join(changed)}); "
                         f"use another --out folder or the saved settings")


def _read_index(out: str, settings: dict) -> dict:
    path = os.path.join(out, INDEX_NAME)
    if not os.path.exists(path):
        return {"settings": settings, "videos": {}}
    try:
        with open(path) as f:
            index = json.load(f)
        saved, videos = index["settings"], index["videos"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a features index ({error}); use another --out folder") from None
    _check_same_settings(saved, settings, out)
    return {"settings": saved, "videos": videos}


def _write_index(out: str, index: dict) -> None:
    write_json(os.path.join(out, INDEX_NAME), index)


def extract_folder_features(encoder, folder, out, weights_name, hidden_state=None, stride=None,
                            frame_stride=1, resize="resize", file_format="npz",
                            progress=True) -> dict:
    """Features of every video in `folder` into `out`; returns the index.

    Per video `NAME.EXT`, `out/NAME.EXT.npz` (`file_format` "npz"; `.h5` for "hdf5",
    `.tfrecord` for "tfrecord") holds `features` `(t, h, w, D)` float32 (hidden state
    `hidden_state`, default the last; t = padded frames / tubelet length), `frames` (frames
    read) and `padded_frames` (`read_features` reads any of them back). `stride`: frames
    between windows (default half the window). `weights_name` is recorded with the
    settings. Done videos are skipped.
    """
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {sorted(FILE_FORMATS)}; got {file_format!r}")
    if frame_stride < 1:
        raise ValueError(f"frame_stride must be >= 1; got {frame_stride}")
    index_state = encoder.depth if hidden_state is None else int(hidden_state)
    if not 0 <= index_state <= encoder.depth:
        raise ValueError(f"hidden_state must be in [0, {encoder.depth}] for this encoder; "
                         f"got {hidden_state}")
    names = list_videos(folder)
    settings = {"weights": weights_name, "hidden_state": index_state, "stride": stride,
                "frame_stride": frame_stride, "resize": resize,
                "num_frames": encoder.num_frames, "image_size": list(encoder.image_size),
                "file_format": file_format}
    os.makedirs(out, exist_ok=True)
    remove_staged_leftovers(out)
    index = _read_index(out, settings)
    window, step = encoder.num_frames, encoder.patch_size[0]
    forwards = EncoderForwards(encoder, index_state, native_resolution=resize == "native")
    for name in tqdm(names, desc="videos", unit="video", disable=not progress):
        output = f"{name}{FILE_FORMATS[file_format]}"
        if name in index["videos"] and os.path.exists(os.path.join(out, output)):
            continue
        video = read_video(os.path.join(folder, name), encoder.image_size, resize, frame_stride)
        padded = pad_frames(video, window, step)
        features = encoder_features_long_video(encoder, padded[None], stride=stride,
                                               forwards=forwards, progress=False)[0]
        _write_features(os.path.join(out, output), file_format, features, len(video),
                        len(padded))
        index["videos"][name] = {"output": output, "frames": len(video),
                                 "padded_frames": len(padded), "shape": list(features.shape)}
        _write_index(out, index)
    return index
