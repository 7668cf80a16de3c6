"""Clip sets of the study, made once and cached in the output folder.

Procedural by default: pretraining, probe-training and evaluation use disjoint seed ranges,
so evaluation is on held-out scenes that no encoder or head saw. `StudyData` swaps in real
data: a folder of videos for pretraining and, per task, probe-training and held-out
evaluation clips from two different sources (`keras4ds.data.task_clips`). A cached set is
reused only while its seeds, or its source's file fingerprint, and its clip size match.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
from tqdm.auto import tqdm

from keras4ds.data.procedural_clips import procedural_clips
from keras4ds.data.task_clips import (
    check_source,
    files_fingerprint,
    read_task_clips,
    source_fingerprint,
    stack_clips,
)
from keras4ds_apps.study.store import write_npz

# First seed of each split; splits never overlap for fewer than 10**6 clips.
SPLIT_SEEDS = {"pretrain": 0, "probe_train": 1_000_000, "eval": 2_000_000}


def split_seeds(split: str, count: int, seed: int = 0) -> list[int]:
    """Scene seeds of a split: `count` ints, disjoint from the other splits."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split must be one of {sorted(SPLIT_SEEDS)}, got {split!r}")
    start = SPLIT_SEEDS[split] + 10_000_000 * seed
    return list(range(start, start + count))


def generate_clips(seeds, num_frames: int, image_size: int, num_tracks: int,
                   desc: str = "clips", scene_options=None, motion_labels=False) -> dict:
    """Stack `generate_clip` outputs: dict of arrays with a leading clip axis, e.g.
    video `(n, T, H, W, 3)` floats in [0, 1], depth `(n, T, H, W, 1)`, tracks `(n, N, T, 2)`.
    `motion_labels`: the clip of seed s moves its camera as `CAMERA_MOTIONS[s % 4]` and
    gets that index as its "label" `(n,)` (the study's motion classification task)."""
    options = {**(scene_options or {}), "num_tracks": num_tracks}
    return stack_clips(procedural_clips(seeds, num_frames, image_size, options, motion_labels,
                                        desc))


def _cached(path: str, budget, **expected):
    """The arrays cached at `path` if its `expected` entries (popped) match and its clips
    have the budget's size, else None."""
    if not os.path.exists(path):
        return None
    with np.load(path) as cached:
        arrays = {k: cached[k] for k in cached.files}
    if any(k not in arrays or arrays.pop(k).tolist() != v for k, v in expected.items()):
        return None
    size = (budget.num_frames, budget.image_size, budget.image_size)
    return arrays if arrays["video"].shape[1:4] == size else None


def load_or_generate(path: str, split: str, count: int, budget, keys=None,
                     motion_labels=False) -> dict:
    """The clip set of `split`, read from `path` if a matching one is cached, else made;
    `keys` (default: all) are the arrays kept; `motion_labels` as in `generate_clips`."""
    seeds = split_seeds(split, count, budget.seed)
    arrays = _cached(path, budget, seeds=seeds)
    if arrays is not None:
        return arrays
    arrays = generate_clips(seeds, budget.num_frames, budget.image_size, budget.num_tracks,
                            desc=f"{split} scenes", scene_options=budget.scene_options,
                            motion_labels=motion_labels)
    if keys is not None:
        arrays = {k: arrays[k] for k in keys}
    write_npz(path, {**arrays, "seeds": np.asarray(seeds)})
    return arrays


@dataclasses.dataclass(frozen=True)
class StudyData:
    """Real data of a study; empty (the default): every clip set is procedural.

    `probe` and `evaluation` map a task to 'FORMAT:PATH' (probe-training clips and held-out
    evaluation clips; both or neither per task, from different sources); `pretrain` is a
    folder of videos for MAE pretraining.
    """

    probe: dict = dataclasses.field(default_factory=dict)
    evaluation: dict = dataclasses.field(default_factory=dict)
    pretrain: str | None = None

    def __post_init__(self):
        if set(self.probe) != set(self.evaluation):
            raise ValueError(f"each task with probe data needs evaluation data and back: probe "
                             f"data for {sorted(self.probe)}, evaluation data for "
                             f"{sorted(self.evaluation)}")
        for task, spec in self.probe.items():
            if check_source(task, spec) == check_source(task, self.evaluation[task]):
                raise ValueError(f"{task}: probe and evaluation data are both {spec}; the "
                                 f"evaluation clips must be held out (another source)")
        if self.pretrain is not None and not os.path.isdir(self.pretrain):
            raise ValueError(f"pretraining data must be a folder of videos; {self.pretrain} "
                             f"is not a folder")

    def __bool__(self) -> bool:
        return bool(self.probe or self.pretrain)

    def fingerprint(self) -> dict:
        """Sources and their file fingerprints (what a resumed study must find again)."""
        return {"probe": {t: source_fingerprint(s) for t, s in sorted(self.probe.items())},
                "evaluation": {t: source_fingerprint(s)
                               for t, s in sorted(self.evaluation.items())},
                "pretrain": self.pretrain and pretrain_fingerprint(self.pretrain)}


def pretrain_fingerprint(folder: str) -> str:
    """'videos:ABSPATH sha256' of a folder of pretraining videos."""
    folder = os.path.abspath(folder)
    return f"videos:{folder} {files_fingerprint(folder)}"


def load_or_read(path: str, task: str, spec: str, count: int, budget) -> dict:
    """At most `count` `task` clips of `spec` ('FORMAT:PATH'), stacked (`stack_clips`),
    read from `path` if cached from the same unchanged source, else read and cached."""
    source = source_fingerprint(spec)
    arrays = _cached(path, budget, source=source, limit=count)
    if arrays is not None:
        return arrays
    arrays = stack_clips(read_task_clips(task, spec, budget.num_frames, budget.image_size, count))
    write_npz(path, {**arrays, "source": np.asarray(source), "limit": np.asarray(count)})
    return arrays


def load_or_decode(path: str, folder: str, count: int, budget) -> np.ndarray:
    """`count` pretraining clips `(count, T, H, W, 3)` decoded from the videos of `folder`
    as `recipes/pretrain_mae.py --data folder:DIR` reads them (`video_folder_dataset`:
    shuffled, a random start per clip, a bad file's clip taken from the next good file;
    passes over the folder repeat with new seeds until `count` clips), cached at `path`
    while the folder is unchanged."""
    from keras4ds.data.pipelines import BadFiles, video_folder_dataset

    source = pretrain_fingerprint(folder)
    arrays = _cached(path, budget, source=source, limit=count)
    if arrays is not None:
        return arrays["video"]
    import tensorflow as tf

    videos, bad = [], BadFiles(verbose=False)
    with tqdm(total=count, desc=f"pretraining clips of {folder}", leave=False) as bar:
        for epoch in range(count):
            dataset = video_folder_dataset(folder, budget.num_frames, budget.image_size,
                                           budget.image_size, seed=budget.seed + epoch,
                                           skip_bad_files=bad, prefetch=False)
            try:
                for element in dataset.take(count - len(videos)).as_numpy_iterator():
                    videos.append(element["video"])
                    bar.update()
            except tf.errors.OpError:
                raise ValueError(f"{folder}: no video gave a clip of {budget.num_frames} "
                                 f"frames; {bad.report()}") from None
            if len(videos) == count:
                break
    videos = np.stack(videos)
    write_npz(path, {"video": videos, "source": np.asarray(source), "limit": np.asarray(count)})
    return videos
