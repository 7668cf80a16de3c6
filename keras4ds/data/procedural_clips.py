"""Seeded sets of procedural scenes: one `generate_clip` per seed, optionally labelled by
camera motion (the motion-classification task)."""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from keras4ds.data.synthetic import CAMERA_MOTIONS, generate_clip


def procedural_clips(seeds, num_frames: int, image_size: int, scene_options=None,
                     motion_labels: bool = False, desc: str = "scenes") -> list[dict]:
    """One clip dict per seed (the keys of `generate_clip`: video `(T, H, W, 3)` floats in
    [0, 1], depth `(T, H, W, 1)`, tracks `(N, T, 2)`, ...), square `image_size` frames.

    `scene_options`: `generate_clip` keyword arguments of every scene. `motion_labels`: the
    clip of seed s moves its camera as `CAMERA_MOTIONS[s % 4]` and gets that index as its
    int32 "label".
    """
    clips = []
    for seed in tqdm(list(seeds), desc=desc, leave=False):
        options = dict(scene_options or {})
        if motion_labels:
            options["camera_motion"] = CAMERA_MOTIONS[seed % len(CAMERA_MOTIONS)]
        clip = generate_clip(seed, num_frames, image_size, image_size, **options)
        if motion_labels:
            clip["label"] = np.int32(seed % len(CAMERA_MOTIONS))
        clips.append(clip)
    return clips
