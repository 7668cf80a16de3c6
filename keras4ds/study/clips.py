"""Procedural clip sets of the study, generated once and cached in the output folder.

Pretraining, probe-training and evaluation use disjoint seed ranges, so evaluation is on
held-out scenes that no encoder or head saw.
"""
from __future__ import annotations

import os

import numpy as np
from tqdm.auto import tqdm

from keras4ds.data.synthetic import generate_clip
from keras4ds.study.store import write_npz

# First seed of each split; splits never overlap for fewer than 10**6 clips.
SPLIT_SEEDS = {"pretrain": 0, "probe_train": 1_000_000, "eval": 2_000_000}


def split_seeds(split: str, count: int, seed: int = 0) -> list[int]:
    """Scene seeds of a split: `count` ints, disjoint from the other splits."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split must be one of {sorted(SPLIT_SEEDS)}, got {split!r}")
    start = SPLIT_SEEDS[split] + 10_000_000 * seed
    return list(range(start, start + count))


def generate_clips(seeds, num_frames: int, image_size: int, num_tracks: int,
                   desc: str = "clips", scene_options=None) -> dict:
    """Stack `generate_clip` outputs: dict of arrays with a leading clip axis, e.g.
    video `(n, T, H, W, 3)` floats in [0, 1], depth `(n, T, H, W, 1)`, tracks `(n, N, T, 2)`."""
    clips = [generate_clip(s, num_frames, image_size, image_size, num_tracks=num_tracks,
                           **(scene_options or {}))
             for s in tqdm(seeds, desc=desc, leave=False)]
    return {key: np.stack([c[key] for c in clips]) for key in clips[0]}


def load_or_generate(path: str, split: str, count: int, budget, keys=None) -> dict:
    """The clip set of `split`, read from `path` if a matching one is cached, else made;
    `keys` (default: all) are the arrays kept."""
    seeds = split_seeds(split, count, budget.seed)
    if os.path.exists(path):
        with np.load(path) as cached:
            arrays = {k: cached[k] for k in cached.files}
        if arrays.get("seeds") is not None and list(arrays.pop("seeds")) == seeds and \
                arrays["video"].shape[1:4] == (budget.num_frames, budget.image_size,
                                                budget.image_size):
            return arrays
    arrays = generate_clips(seeds, budget.num_frames, budget.image_size, budget.num_tracks,
                            desc=f"{split} scenes", scene_options=budget.scene_options)
    if keys is not None:
        arrays = {k: arrays[k] for k in keys}
    write_npz(path, {**arrays, "seeds": np.asarray(seeds)})
    return arrays


def as_list(arrays: dict) -> list[dict]:
    """Stacked clip arrays -> a list of per-clip dicts (what `train_probe` takes)."""
    return [{k: v[i] for k, v in arrays.items()} for i in range(len(arrays["video"]))]
