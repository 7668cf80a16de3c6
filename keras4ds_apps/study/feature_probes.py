"""Closed-form feature probes: how much of a token's 4D content its frozen features carry.

A ridge regression from each token's features `(C,)` to its patch's targets, fit on the
probe-training scenes and scored by R^2 on the held-out ones. No training loop and no
head design: a cheap gate that says whether pretraining changed the features before any
readout is trained, and a measured cause when a readout verdict fails.

Targets per token (tubelet of `patch_size` pixels):
- `log_depth`: the mean log depth of its pixels;
- `objectness`: the fraction of its pixels on an object (segmentation > 0);
- `motion`: the mean image speed, in pixels per frame, of the visible point tracks that
  are inside it at each of its frames (what tracking and pose readouts need).
"""
from __future__ import annotations

import numpy as np

TARGETS = ("log_depth", "objectness", "motion")


def _token_means(values, patch_size):
    """`(B, T, H, W)` -> `(B, t*h*w)` mean over each tubelet."""
    pt, ph, pw = patch_size
    b, t, h, w = values.shape
    blocks = values.reshape(b, t // pt, pt, h // ph, ph, w // pw, pw)
    return blocks.mean(axis=(2, 4, 6)).reshape(b, -1)


def _track_step_means(steps, tracks, visible, grid, patch_size, image_size):
    """Per token, the mean of `steps` `(B, N, T-1, K)` (a value per track and frame step)
    over the visible tracks inside it at each of its frames -> `(B, t*h*w, K)`; tokens
    that hold no track get NaN. tracks `(B, N, T, 2)` pixel (x, y), visible `(B, N, T)`."""
    t, h, w = grid
    pt, ph, pw = patch_size
    b, n, frames, _ = tracks.shape
    both = visible[:, :, 1:] & visible[:, :, :-1]
    total = np.zeros((b, t * h * w, steps.shape[-1]))
    count = np.zeros((b, t * h * w))
    for f in range(frames - 1):
        x, y = tracks[:, :, f, 0], tracks[:, :, f, 1]
        cell = ((f // pt) * h + np.clip((y // ph).astype(int), 0, h - 1)) * w + \
            np.clip((x // pw).astype(int), 0, w - 1)
        ok = both[:, :, f] & (x >= 0) & (x < image_size[1]) & (y >= 0) & (y < image_size[0])
        for i in range(b):
            np.add.at(total[i], cell[i][ok[i]], steps[i, :, f][ok[i]])
            np.add.at(count[i], cell[i][ok[i]], 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count[..., None] > 0, total / count[..., None], np.nan)


def token_speed(clips: dict, grid, patch_size):
    """Per token, the mean image speed in pixels per frame of the visible tracks inside
    it `(B, t*h*w)` (NaN where none)."""
    speed = np.linalg.norm(np.diff(clips["tracks"], axis=2), axis=-1)[..., None]
    return _track_step_means(speed, clips["tracks"], clips["visible"] > 0.5, grid, patch_size,
                             clips["video"].shape[2:4])[..., 0]


def token_velocity(clips: dict, grid, patch_size):
    """Per token, the mean image velocity (dx, dy) in pixels per frame of the visible
    tracks inside it `(B, t*h*w, 2)` (NaN where none): the signed motion pose and
    tracking readouts need."""
    steps = np.diff(clips["tracks"], axis=2)
    return _track_step_means(steps, clips["tracks"], clips["visible"] > 0.5, grid, patch_size,
                             clips["video"].shape[2:4])


def token_targets(clips: dict, grid, patch_size) -> dict:
    """Per-token targets `{name: (B, N)}` of stacked clips (`generate_clip` keys)."""
    depth = np.maximum(clips["depth"][..., 0], 1e-3)
    return {
        "log_depth": _token_means(np.log(depth), patch_size),
        "objectness": _token_means((clips["segmentation"] > 0).astype(np.float64), patch_size),
        "motion": token_speed(clips, grid, patch_size),
    }


def ridge_r2(train_x, train_y, test_x, test_y, penalty=1e-3) -> float:
    """R^2 on (test_x, test_y) of a ridge fit on (train_x, train_y); x `(n, C)`, y `(n,)`.
    Features are standardised on the training rows; `penalty` is relative to the mean
    feature variance (1 after standardising). Rows with a NaN target are left out; NaN
    when fewer than 2 rows are left on either side."""
    keep, test_keep = np.isfinite(train_y), np.isfinite(test_y)
    if keep.sum() < 2 or test_keep.sum() < 2:
        return float("nan")
    train_x, train_y = train_x[keep], train_y[keep]
    test_x, test_y = test_x[test_keep], test_y[test_keep]
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    a = np.concatenate([(train_x - mean) / std, np.ones((len(train_x), 1))], 1)
    gram = a.T @ a
    gram[:-1, :-1] += penalty * len(a) * np.eye(a.shape[1] - 1)
    weights = np.linalg.solve(gram, a.T @ train_y)
    b = np.concatenate([(test_x - mean) / std, np.ones((len(test_x), 1))], 1)
    residual = np.sum((b @ weights - test_y) ** 2)
    total = np.sum((test_y - test_y.mean()) ** 2)
    return float(1.0 - residual / total) if total > 0 else float("nan")


def feature_probe_r2(train_features, train_targets, test_features, test_targets) -> dict:
    """`{target: R^2}` of ridge probes from token features `(B, N, C)` to the
    `token_targets` of the same clips."""
    flat = lambda x: x.reshape(-1, x.shape[-1]).astype(np.float64)  # noqa: E731
    return {name: ridge_r2(flat(train_features), train_targets[name].reshape(-1),
                           flat(test_features), test_targets[name].reshape(-1))
            for name in TARGETS}


def correspondence_accuracy(features, clips: dict, grid, patch_size) -> float:
    """Label-free matching of frozen features across time: for every track visible in the
    clip's first frame and in the first frame of a later token frame, the token of frame 0
    that holds it is matched (highest cosine similarity) among that later token frame's
    tokens; the fraction matched to the token that holds the track there. What point and
    box tracking need from features, with no head trained. features `(B, t*h*w, C)`."""
    t, h, w = grid
    pt, ph, pw = patch_size
    b, _, c = features.shape
    x = features.reshape(b, t, h * w, c).astype(np.float64)
    x = x - x.mean(axis=2, keepdims=True)
    x /= np.linalg.norm(x, axis=-1, keepdims=True) + 1e-9
    tracks, visible = clips["tracks"], clips["visible"] > 0.5
    height, width = clips["video"].shape[2:4]

    def cells(frame):
        px, py = tracks[:, :, frame, 0], tracks[:, :, frame, 1]
        inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)
        cell = np.clip((py // ph).astype(int), 0, h - 1) * w + np.clip((px // pw).astype(int), 0, w - 1)
        return cell, inside & visible[:, :, frame]

    start, start_ok = cells(0)
    hits = total = 0
    for later in range(1, t):
        end, end_ok = cells(later * pt)
        for i in range(b):
            ok = start_ok[i] & end_ok[i]
            if not ok.any():
                continue
            similarity = x[i, 0, start[i][ok]] @ x[i, later].T  # (tracks, h*w)
            hits += int(np.sum(similarity.argmax(axis=-1) == end[i][ok]))
            total += int(ok.sum())
    return hits / total if total else float("nan")
