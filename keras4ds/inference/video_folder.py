"""Encoder features, or depth, for every video of a source: one file per video plus
`index.json`.

A source is a folder of video files, keras4ds' JPEG-frame TFRecords (`tfrecord:PATTERN`, a
glob or the writer's prefix; each video named by its stored path) or a TFDS dataset
(`tfds:NAME[/CONFIG][:SPLIT]`, read from `data_dir`; its examples' "video", uint8 or floats
in [0, 1], named `SPLIT_000000`, ...). Each video is decoded and resized to the encoder's
frame size as it is read (`resize="resize"`, the official demo's straight Lanczos resize,
or `"crop"`, centre crop then resize), or kept at its own size with the position embedding
resized (`resize="native"`). A video longer than the encoder's window goes through
overlapping windows (`iter_encoder_features`; one compiled forward per frame size serves
every video; depth: `iter_depth`, at the depth model's frame size). The files are `.npz`,
HDF5 (`.h5`) or TFRecord (`.tfrecord`; see `output_files`). A video shorter than the
window, or with a frame count that is not a multiple of the tubelet length, is padded by
repeating its last frame; the index records both counts. Outputs are written under a temp
name and renamed, and the index (settings first) is rewritten after every video, so a killed
run leaves only finished files: run the same call again and it skips them, taking a file that
was renamed into place before its index line was written as done. The settings are saved in the
index; a rerun with other settings is refused, naming them.
"""
from __future__ import annotations

import json
import os

import numpy as np
from tqdm import tqdm

from keras4ds.data.frames import resize_frames, to_float
from keras4ds.data.video_io import VIDEO_EXTENSIONS, iter_frames
from keras4ds.inference.long_video import (
    EncoderForwards,
    depth_long_video,
    encoder_features_long_video,
)
from keras4ds.inference.output_files import FILE_FORMATS, read_output, write_output
from keras4ds.utils import remove_staged_leftovers, write_json

RESIZE_CHOICES = ("resize", "crop", "native")
INDEX_NAME = "index.json"
TFDS_PREFIX = "tfds:"
TFRECORD_PREFIX = "tfrecord:"
SOURCE_PREFIXES = (TFDS_PREFIX, TFRECORD_PREFIX)


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


def _prepared(frames, size, resize, frame_stride) -> np.ndarray:
    """Decoded frames `(T, H, W, 3)` (uint8, or floats in [0, 1]) -> every
    `frame_stride`-th, resized as `read_video` does, float32 in [0, 1]."""
    frames = np.asarray(frames)[::frame_stride]
    if frames.dtype != np.uint8:
        if not np.issubdtype(frames.dtype, np.floating) or frames.min() < 0 or frames.max() > 1:
            raise ValueError(f"a TFDS video must be uint8 or floats in [0, 1]; got {frames.dtype} "
                             f"in [{frames.min()}, {frames.max()}]")
        frames = np.round(frames * 255.0).astype(np.uint8)
    if resize != "native":
        frames = resize_frames(frames, *size, mode=resize)
    return to_float(frames)


def source_videos(source, size, resize="resize", frame_stride=1, data_dir=None):
    """`(names, videos)` of a source: the output names in order, and an iterator of
    `(name, load)` where `load()` gives the video `(T, H, W, 3)` float32 in [0, 1]."""
    if str(source).startswith(TFDS_PREFIX):
        import tensorflow_datasets as tfds

        name, _, split = str(source)[len(TFDS_PREFIX):].partition(":")
        split = split or "train"
        builder = tfds.builder(name, data_dir=data_dir)
        count = builder.info.splits[split].num_examples
        names = [f"{split}_{i:06d}" for i in range(count)]

        def examples():
            for i, example in enumerate(builder.as_dataset(split=split, shuffle_files=False)):
                if "video" not in example:
                    raise ValueError(f"{source}: its examples have no 'video' (keys: "
                                     f"{sorted(example)})")
                video = example["video"].numpy()
                yield names[i], lambda video=video: _prepared(video, size, resize, frame_stride)
        return names, examples()
    if str(source).startswith(TFRECORD_PREFIX):
        from keras4ds.data.tfrecords import iter_tfrecord_videos, tfrecord_paths

        pattern = str(source)[len(TFRECORD_PREFIX):]
        stored = tfrecord_paths(pattern)
        names = [path.replace(os.sep, "__") or f"{i:06d}" for i, path in enumerate(stored)]
        if len(set(names)) != len(names):
            raise ValueError(f"{source}: two stored videos have the same path; their outputs "
                             f"would overwrite each other")
        return names, ((name, lambda frames=frames: _prepared(frames, size, resize, frame_stride))
                       for name, (_, frames) in zip(names, iter_tfrecord_videos(pattern)))
    names = list_videos(source)
    return names, ((name, lambda name=name: read_video(os.path.join(source, name), size, resize,
                                                         frame_stride)) for name in names)


def pad_frames(video: np.ndarray, window: int, step: int) -> np.ndarray:
    """`(T, H, W, 3)` -> at least `window` frames and a multiple of `step`, by repeating
    the last frame (a single image becomes a still clip)."""
    frames = max(window, -(-len(video) // step) * step)
    if frames == len(video):
        return video
    return np.concatenate([video, np.repeat(video[-1:], frames - len(video), axis=0)])


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


def _entry_of_written(path, key, output) -> dict:
    """The index entry of a finished output file (outputs are renamed into place whole)."""
    written = read_output(path)
    return {"output": output, "frames": written["frames"],
            "padded_frames": written["padded_frames"], "shape": list(written[key].shape)}


def _extract(source, out, settings, size, resize, frame_stride, data_dir, compute, key,
             file_format, progress) -> dict:
    """The shared loop: every video of `source` not done yet through `compute(name, video)
    -> (array, padded frame count)`, written as `key` in `file_format`; returns the index."""
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {sorted(FILE_FORMATS)}; got {file_format!r}")
    if frame_stride < 1:
        raise ValueError(f"frame_stride must be >= 1; got {frame_stride}")
    names, videos = source_videos(source, size, resize, frame_stride, data_dir)
    settings = {**settings, "frame_stride": frame_stride, "resize": resize,
                "file_format": file_format}
    if str(source).startswith(SOURCE_PREFIXES):  # a folder may move: its videos are named by file
        settings["source"] = str(source) if data_dir is None else f"{source} in {data_dir}"
    os.makedirs(out, exist_ok=True)
    remove_staged_leftovers(out)
    index = _read_index(out, settings)
    _write_index(out, index)  # the settings first: every output in `out` was made with them
    with tqdm(total=len(names), desc="videos", unit="video", disable=not progress) as bar:
        for name, load in videos:
            output = f"{name}{FILE_FORMATS[file_format]}"
            path = os.path.join(out, output)
            if name not in index["videos"] and os.path.exists(path):  # killed before its index line
                index["videos"][name] = _entry_of_written(path, key, output)
                _write_index(out, index)
            if not (name in index["videos"] and os.path.exists(path)):
                video = load()
                array, padded = compute(name, video)
                write_output(os.path.join(out, output), file_format, key, array, len(video),
                             padded)
                index["videos"][name] = {"output": output, "frames": len(video),
                                         "padded_frames": padded, "shape": list(array.shape)}
                _write_index(out, index)
            bar.update()
    return index


def extract_folder_features(encoder, folder, out, weights_name, hidden_state=None, stride=None,
                            frame_stride=1, resize="resize", file_format="npz", data_dir=None,
                            progress=True) -> dict:
    """Features of every video of `folder` (a folder, or `tfds:NAME[:SPLIT]` in `data_dir`)
    into `out`; returns the index.

    Per video `NAME.EXT`, `out/NAME.EXT.npz` (`file_format` "npz"; `.h5` for "hdf5",
    `.tfrecord` for "tfrecord") holds `features` `(t, h, w, D)` float32 (hidden state
    `hidden_state`, default the last; t = padded frames / tubelet length), `frames` (frames
    read) and `padded_frames` (`output_files.read_output` reads any of them back). `stride`:
    frames between windows (default half the window). `weights_name` is recorded with the
    settings. Done videos are skipped.
    """
    index_state = encoder.depth if hidden_state is None else int(hidden_state)
    if not 0 <= index_state <= encoder.depth:
        raise ValueError(f"hidden_state must be in [0, {encoder.depth}] for this encoder; "
                         f"got {hidden_state}")
    window, step = encoder.num_frames, encoder.patch_size[0]
    forwards = EncoderForwards(encoder, index_state, native_resolution=resize == "native")

    def compute(name, video):
        padded = pad_frames(video, window, step)
        return encoder_features_long_video(encoder, padded[None], stride=stride,
                                           forwards=forwards, progress=False)[0], len(padded)
    settings = {"weights": weights_name, "hidden_state": index_state, "stride": stride,
                "num_frames": encoder.num_frames, "image_size": list(encoder.image_size)}
    return _extract(folder, out, settings, encoder.image_size, resize, frame_stride, data_dir,
                    compute, "features", file_format, progress)


def extract_folder_depth(depth_model, folder, out, weights_name, stride=None, frame_stride=1,
                         resize="resize", file_format="npz", data_dir=None,
                         progress=True) -> dict:
    """Depth of every video of `folder` (as `extract_folder_features`) into `out`: per
    video a file holding `depth` `(T, H, W, 1)` float32 at the model's frame size, one map
    per frame read (windows of the model's length, overlaps blended, `stride` frames apart),
    and `NAME.png`, its middle frame beside its colourised depth. Returns the index."""
    from PIL import Image

    from keras4ds.data.visualize import colorize_depth
    from keras4ds.utils import write_staged

    if resize == "native":
        raise ValueError("depth needs the frames at the depth model's size (its readout has "
                         "one learned query per output patch): resize 'resize' or 'crop'")
    from keras4ds.inference.compiled import compile_forward

    encoder = depth_model.encoder
    forward = compile_forward(depth_model.call, depth_model.variables)  # one for every video

    def compute(name, video):
        padded = pad_frames(video, encoder.num_frames, encoder.patch_size[0])
        depth = depth_long_video(depth_model, padded[None], stride=stride, progress=False,
                                 forward=forward)[0]
        depth = depth[:len(video)]
        middle = len(video) // 2  # the picture first: a done video always has both files
        panel = np.concatenate([np.round(video[middle] * 255).astype(np.uint8),
                                colorize_depth(depth[middle:middle + 1])[0]], axis=1)
        write_staged(os.path.join(out, f"{name}.png"), Image.fromarray(panel).save)
        return depth, len(padded)
    settings = {"weights": weights_name, "stride": stride, "num_frames": encoder.num_frames,
                "image_size": list(encoder.image_size), "output": "depth"}
    return _extract(folder, out, settings, encoder.image_size, resize, frame_stride, data_dir,
                    compute, "depth", file_format, progress)
