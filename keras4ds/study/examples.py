"""Example predictions on held-out scenes: depth maps, point tracks and boxes (PNG).

Drawn from the predictions that the largest pretrained encoder's probes saved
(`probes/mae_<size>_<task>_examples.npz`), against the ground truth of the same clips.
"""
from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np

from keras4ds.data.visualize import colorize_depth

FRAMES = (0, 5, 10, 15)


def _frames(num_frames: int) -> list[int]:
    return sorted({min(f, num_frames - 1) for f in FRAMES})


def _load(folder, size: str, task: str):
    path = folder.probe_examples("mae", size, task)
    if not os.path.exists(path):
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def depth_figure(evaluation: dict, pred: dict, title: str):
    """Rows: input frame, true depth, predicted depth, for a few frames of clip 0."""
    video, true = evaluation["video"][0], evaluation["depth"][0]
    predicted = pred["depth"][0]
    frames = _frames(len(video))
    fig, axes = plt.subplots(3, len(frames), figsize=(2 * len(frames), 6.2), squeeze=False)
    # One colour scale for true and predicted depth (colorize_depth normalises per call).
    both = colorize_depth(np.concatenate([true[frames], np.maximum(predicted[frames], 1e-3)]))
    for col, t in enumerate(frames):
        axes[0][col].imshow(video[t])
        axes[1][col].imshow(both[col])
        axes[2][col].imshow(both[len(frames) + col])
        axes[0][col].set_title(f"frame {t}", fontsize=8)
    for row, name in enumerate(("input", "true depth", "predicted")):
        axes[row][0].set_ylabel(name, fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    return fig


def points_figure(evaluation: dict, pred: dict, title: str, max_tracks: int = 12):
    """Last frame of clip 0 with true (solid) and predicted (dashed) tracks of a few points."""
    video = evaluation["video"][0]
    true, visible = evaluation["tracks"][0], evaluation["visible"][0]
    predicted = pred["tracks"][0]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.imshow(video[-1])
    colours = plt.cm.tab20(np.linspace(0, 1, max_tracks))
    for n in range(min(max_tracks, len(true))):
        seen = visible[n]
        ax.plot(true[n, :, 0] - 0.5, true[n, :, 1] - 0.5, "-", color=colours[n], lw=1.5)
        ax.plot(true[n, seen, 0] - 0.5, true[n, seen, 1] - 0.5, "o", color=colours[n], ms=2)
        ax.plot(predicted[n, :, 0] - 0.5, predicted[n, :, 1] - 0.5, "--", color=colours[n], lw=1)
    ax.set_xlim(-0.5, video.shape[2] - 0.5)
    ax.set_ylim(video.shape[1] - 0.5, -0.5)
    ax.set_title(f"{title}\nsolid: true, dashed: predicted", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _draw_box(ax, box, height, width, colour, style):
    ymin, xmin, ymax, xmax = box
    ax.add_patch(plt.Rectangle((xmin * width - 0.5, ymin * height - 0.5),
                               (xmax - xmin) * width, (ymax - ymin) * height,
                               fill=False, edgecolor=colour, linestyle=style, lw=1.5))


def boxes_figure(evaluation: dict, pred: dict, title: str):
    """A few frames of clip 0 with true (solid) and predicted (dashed) object boxes."""
    video = evaluation["video"][0]
    true, visible = evaluation["boxes"][0], evaluation["box_visible"][0]
    predicted = pred["boxes"][0]
    frames = _frames(len(video))
    _, height, width, _ = video.shape
    colours = plt.cm.tab10(np.arange(len(true)))
    fig, axes = plt.subplots(1, len(frames), figsize=(2.3 * len(frames), 2.6), squeeze=False)
    for ax, t in zip(axes[0], frames):
        ax.imshow(video[t])
        for k in range(len(true)):
            if visible[k, t]:
                _draw_box(ax, true[k, t], height, width, colours[k], "-")
            _draw_box(ax, predicted[k, t], height, width, colours[k], "--")
        ax.set_title(f"frame {t}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{title} (solid: true, dashed: predicted)", fontsize=9)
    return fig


FIGURES = {"depth": depth_figure, "points": points_figure, "boxes": boxes_figure}


def example_figures(folder, results: dict, evaluation: dict, save) -> list[str]:
    """`examples_<task>.png` for depth, points and boxes, where predictions were saved."""
    largest = results["sizes"][-1]["name"]
    paths = []
    for task, draw in FIGURES.items():
        pred = _load(folder, largest, task)
        if pred is None:
            continue
        fig = draw(evaluation, pred, f"{task} readout on pretrained {largest}, held-out scene")
        paths.append(save(fig, folder.path(f"examples_{task}.png")))
    return paths
