"""The procedural 4D scenes as a ``tf.data`` source.

``synthetic_dataset(seeds, ...)`` maps a dataset of seeds through
:func:`keras4ds.data.synthetic.generate_clip` in parallel, keeping the order of the seeds
(so the stream is deterministic), with static shapes set from the options.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from keras4ds.data import synthetic
from keras4ds.data.tf_import import tensorflow as tf

__all__ = ["synthetic_dataset", "clip_tensor_spec"]


def clip_tensor_spec(num_frames=16, height=64, width=64, **options):
    """{key: tf.TensorSpec} of one clip."""
    sig = synthetic.clip_signature(num_frames, height, width, **options)
    return {k: tf.TensorSpec(shape, tf.as_dtype(dtype)) for k, (shape, dtype) in sig.items()}


def _seed_array(seeds) -> np.ndarray:
    if isinstance(seeds, (int, np.integer)):
        seeds = range(int(seeds))
    arr = np.asarray(list(seeds) if not isinstance(seeds, np.ndarray) else seeds, np.int64)
    if arr.ndim != 1:
        raise ValueError("seeds must be an int count or a 1-D sequence of ints")
    return arr


def synthetic_dataset(
    seeds: int | Iterable[int],
    num_frames: int = 16,
    height: int = 64,
    width: int = 64,
    *,
    num_parallel_calls: int | None = tf.data.AUTOTUNE,
    deterministic: bool = True,
    repeat: bool = False,
    **options,
) -> tf.data.Dataset:
    """``tf.data.Dataset`` of :func:`~keras4ds.data.synthetic.generate_clip` dicts.

    Args:
      seeds: a count ``n`` (seeds ``0..n-1``) or a sequence of seeds (``range(a, b)``).
      num_frames, height, width, **options: passed to ``generate_clip``.
      num_parallel_calls: parallel generator calls (numpy releases the GIL in its
        array loops, so threads overlap).
      deterministic: keep the order of the seeds (the stream is then a pure function of
        the seeds and options).
      repeat: cycle through the seeds forever (for training on the fly).

    Example::

      ds = synthetic_dataset(range(10_000), 16, 64, 64, num_tracks=64)
      ds = ds.shuffle(256, seed=0).batch(8).prefetch(tf.data.AUTOTUNE)
    """
    spec = clip_tensor_spec(num_frames, height, width, **options)
    keys = list(spec)
    # Validate the options eagerly (errors otherwise surface inside tf.data).
    synthetic._parse_options(options)

    def _gen(seed):
        clip = synthetic.generate_clip(int(seed), num_frames, height, width, **options)
        return [clip[k] for k in keys]

    def _map(seed):
        out = tf.numpy_function(_gen, [seed], [spec[k].dtype for k in keys], stateful=False)
        return {k: tf.ensure_shape(v, spec[k].shape) for k, v in zip(keys, out)}

    ds = tf.data.Dataset.from_tensor_slices(_seed_array(seeds))
    if repeat:
        ds = ds.repeat()
    return ds.map(_map, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
