"""A local TFDS builder of the procedural 4D scenes (needs ``tensorflow-datasets``).

Build once to a local ``data_dir`` and read it back like any TFDS dataset::

    from keras4ds.data.tfds_synthetic import Keras4dsSynthetic4d, Synthetic4DConfig
    config = Synthetic4DConfig(name="mine", num_frames=16, height=64, width=64,
                               num_train=5000, num_validation=200)
    builder = Keras4dsSynthetic4d(data_dir="/data/tfds", config=config)
    builder.download_and_prepare()
    ds = builder.as_dataset(split="train").map(decode_example)

The registered name is ``keras4ds_synthetic4d`` (configs ``16x64x64``, ``16x224x224``,
``tiny``), so ``tfds.load("keras4ds_synthetic4d/16x64x64", data_dir=...)`` also works once
this module is imported. Training seeds are ``0..num_train-1``; validation seeds start at
``VALIDATION_SEED_OFFSET`` so the splits never share a scene.

The video is stored as lossless PNG frames of ``round(255 * video)``: decoded clips equal
``generate_clip``'s up to that 8-bit quantisation; every label is stored exactly.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import tensorflow_datasets as tfds

from keras4ds.data import synthetic
from keras4ds.data.tf_import import tensorflow as tf
from keras4ds.data.tfds_local import LocalBuilder

__all__ = ["Keras4dsSynthetic4d", "Synthetic4DConfig", "decode_example", "VALIDATION_SEED_OFFSET"]

VALIDATION_SEED_OFFSET = 1_000_000_000


@dataclasses.dataclass(eq=False)
class Synthetic4DConfig(tfds.core.BuilderConfig):
    """Clip size, split sizes and ``generate_clip`` options (a JSON-able dict)."""

    num_frames: int = 16
    height: int = 64
    width: int = 64
    num_train: int = 1000
    num_validation: int = 100
    options: dict = dataclasses.field(default_factory=dict)


def _options_json(options: dict) -> str:
    return json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in sorted(options.items())})


class Keras4dsSynthetic4d(LocalBuilder):
    """Procedural 4D scenes with exact depth, camera, point tracks, boxes, segmentation."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [
        Synthetic4DConfig(name="16x64x64", description="16 frames of 64x64."),
        Synthetic4DConfig(name="16x224x224", height=224, width=224,
                          description="16 frames of 224x224 (the 4DS input size)."),
        Synthetic4DConfig(name="tiny", num_frames=4, height=32, width=32, num_train=16,
                          num_validation=4, options={"num_tracks": 32},
                          description="Tiny clips for tests."),
    ]
    DEFAULT_CONFIG_NAME = "16x64x64"


    def _info(self) -> tfds.core.DatasetInfo:
        c = self.builder_config
        sig = synthetic.clip_signature(c.num_frames, c.height, c.width, **c.options)
        features = {
            "seed": tfds.features.Scalar(np.int64),
            "video": tfds.features.Video((c.num_frames, c.height, c.width, 3),
                                         encoding_format="png"),
        }
        for key, (shape, dtype) in sig.items():
            if key == "video":
                continue
            encoding = "zlib" if int(np.prod(shape)) > 256 else "none"
            features[key] = tfds.features.Tensor(shape=shape, dtype=dtype, encoding=encoding)
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            description=(
                "keras4ds procedural 4D scenes; generate_clip options: "
                + _options_json(c.options)
            ),
            homepage="https://github.com/keras4ds/keras4ds",
        )

    def _split_generators(self, dl_manager):
        c = self.builder_config
        return {
            "train": self._generate_examples(range(c.num_train)),
            "validation": self._generate_examples(
                range(VALIDATION_SEED_OFFSET, VALIDATION_SEED_OFFSET + c.num_validation)
            ),
        }

    def _generate_examples(self, seeds):
        c = self.builder_config
        for seed in seeds:
            clip = synthetic.generate_clip(seed, c.num_frames, c.height, c.width, **c.options)
            clip["video"] = np.round(clip["video"] * 255.0).astype(np.uint8)
            clip["seed"] = np.int64(seed)
            yield int(seed), clip


def decode_example(example: dict) -> dict:
    """TFDS example -> ``generate_clip``'s dict (video float32 in [0, 1], no seed)."""
    out = {k: v for k, v in example.items() if k != "seed"}
    out["video"] = tf.cast(example["video"], tf.float32) / 255.0
    return out
