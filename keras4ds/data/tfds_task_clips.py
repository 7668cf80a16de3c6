"""A local TFDS builder of real probe clips (needs ``tensorflow-datasets``).

It turns any source ``task_clips`` reads (TAP-Vid pickles, ScanNet-style sequences,
RealEstate10K cameras with frames, a class-per-folder video tree, box-track videos) into a
TFDS dataset of fixed-size clips, built once and read back like any TFDS dataset. The
source is TFDS's manual download folder::

    from keras4ds.data.tfds_task_clips import Keras4dsTaskClips, TaskClipsConfig, decode_example
    config = TaskClipsConfig(name="davis", format="tapvid", task="points",
                             num_frames=16, height=64, width=64)
    builder = Keras4dsTaskClips(data_dir="/data/tfds", config=config)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir="/data/tapvid_davis"))
    ds = builder.as_dataset(split="train").map(decode_example)

One split, ``train``: every clip of the source (TFDS stores them in its own order; each
example's ``name`` says which video and window it is). Decoded examples equal
``task_clips(task, "FORMAT:DIR", ...)``'s dicts: the video is stored as lossless PNG
frames of the reader's 8-bit frames, every label exactly.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from keras4ds.data import task_clips
from keras4ds.data.tf_import import tensorflow as tf
from keras4ds.data.tfds_local import LocalBuilder

__all__ = ["Keras4dsTaskClips", "TaskClipsConfig", "decode_example", "clip_features"]


@dataclasses.dataclass(eq=False)
class TaskClipsConfig(tfds.core.BuilderConfig):
    """Which reader (`format`, one of ``task_clips.FORMATS``), for which `task`, and the
    clip size."""

    format: str = "tapvid"
    task: str = "points"
    num_frames: int = 16
    height: int = 64
    width: int = 64


def clip_features(fmt: str, num_frames: int, height: int, width: int) -> dict:
    """`{key: (shape, numpy dtype)}` of the `fmt` reader's clips (None: a count that
    differs between clips); ``video`` and ``name`` aside."""
    t, h, w = num_frames, height, width
    camera = {"intrinsics": ((t, 3, 3), np.float32), "extrinsics": ((t, 4, 4), np.float32)}
    return {
        "tapvid": {"tracks": ((None, t, 2), np.float32), "visible": ((None, t), np.bool_)},
        "scannet": {"depth": ((t, h, w, 1), np.float32),
                    "depth_intrinsics": ((t, 3, 3), np.float32), **camera},
        "re10k": camera,
        "videofolder": {"label": ((), np.int64)},
        "boxtracks": {"boxes": ((None, t, 4), np.float32), "box_visible": ((None, t), np.bool_)},
    }[fmt]


class Keras4dsTaskClips(LocalBuilder):
    """Real probe clips of one format and task, read from the manual download folder."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put the source in the manual folder in the layout its reader expects "
        "(keras4ds.data.task_clips: tapvid, scannet, re10k, videofolder, boxtracks).")
    BUILDER_CONFIGS = [TaskClipsConfig(name=f"{fmt}_{task}", format=fmt, task=task,
                                       description=f"{task} clips of a {fmt} source, 16x64x64.")
                       for fmt, tasks in task_clips.FORMATS.items() for task in tasks]


    def _info(self) -> tfds.core.DatasetInfo:
        c = self.builder_config
        if c.task not in task_clips.FORMATS.get(c.format, ()):
            raise ValueError(f"config {c.name!r}: format {c.format!r} does not give {c.task!r} "
                             f"clips; the formats and their tasks are {task_clips.FORMATS}")
        features = {"name": tfds.features.Text(),
                    "video": tfds.features.Video((c.num_frames, c.height, c.width, 3),
                                                 encoding_format="png")}
        for key, (shape, dtype) in clip_features(c.format, c.num_frames, c.height,
                                                 c.width).items():
            large = None not in shape and int(np.prod(shape)) > 256
            features[key] = tfds.features.Tensor(shape=shape, dtype=dtype,
                                                 encoding="zlib" if large else "none")
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            description=f"keras4ds {c.task} clips read by the {c.format} reader.")

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(str(dl_manager.manual_dir))}

    def _generate_examples(self, source):
        c = self.builder_config
        signature = clip_features(c.format, c.num_frames, c.height, c.width)
        clips = task_clips.task_clips(c.task, f"{c.format}:{source}", c.num_frames,
                                      (c.height, c.width))
        for index, clip in enumerate(clips):
            example = {key: np.asarray(clip[key], dtype) for key, (_, dtype) in signature.items()}
            example["video"] = np.round(clip["video"] * 255.0).astype(np.uint8)
            example["name"] = clip["name"]
            yield index, example


def decode_example(example: dict) -> dict:
    """TFDS example -> the reader's clip dict (video float32 in [0, 1])."""
    return {**example, "video": tf.cast(example["video"], tf.float32) / 255.0}
