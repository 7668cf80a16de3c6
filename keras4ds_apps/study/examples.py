"""Example predictions on held-out scenes: depth maps, point tracks and boxes (PNG).

`example_arrays` keeps what a trained probe predicts on two held-out clips next to the
truth (saved as `probes/mae_<size>_<task>_examples.npz`); the figures are drawn from
those files for the largest pretrained encoder.
"""
from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np

from keras4ds.data.visualize import colorize_depth

FRAMES = (0, 5, 10, 15)


def example_arrays(task: str, inputs: dict, targets: dict, predictions, count: int = 2) -> dict:
    """The first `count` eval clips' inputs, truth and predictions, as `train_probe` returns
    them (`eval_inputs`, `eval_targets`, `predictions`).

    depth: video, true/pred `(n, T, H, W, 1)`; points: video, true/pred tracks `(n, Q, T, 2)`
    (x, y) in [0, 1] image units and visibility `(n, Q, T)`; boxes: video, true/pred
    `(n, K, T, 4)` [ymin, xmin, ymax, xmax] in [0, 1] and true visibility `(n, K, T)`.
    """
    def first(tree):
        return {k: np.asarray(v)[:count] for k, v in tree.items()} if isinstance(tree, dict) \
            else np.asarray(tree)[:count]

    inputs, targets, pred = first(inputs), first(targets), first(predictions)
    arrays = {"video": inputs["video"]}
    if task == "depth":
        arrays.update(true=targets["depth"], pred=np.asarray(pred))
    elif task == "points":
        arrays.update(true=targets["tracks"], true_visible=targets["visible"] > 0.5,
                      pred=np.asarray(pred["tracks"]), pred_visible=np.asarray(pred["visible"]))
    elif task == "boxes":
        arrays.update(true=targets["boxes"], true_visible=targets["box_visible"] > 0.5,
                      pred=np.asarray(pred))
    else:
        raise ValueError(f"no example figure for task {task!r}; expected one of {sorted(FIGURES)}")
    return arrays


def _frames(num_frames: int) -> list[int]:
    return sorted({min(f, num_frames - 1) for f in FRAMES})


def _no_ticks(axes) -> None:
    for ax in np.ravel(axes):
        ax.set_xticks([])
        ax.set_yticks([])


def depth_figure(ex: dict, title: str):
    """Rows: input frame, true depth, predicted depth, for a few frames of clip 0."""
    video, true, predicted = ex["video"][0], ex["true"][0], ex["pred"][0]
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
    _no_ticks(axes)
    fig.suptitle(title, fontsize=9)
    return fig


def points_figure(ex: dict, title: str, max_tracks: int = 12):
    """Last frame of clip 0 with true (solid, dots where visible) and predicted (dashed)
    tracks of a few query points."""
    video = ex["video"][0]
    _, height, width, _ = video.shape
    scale = np.array([width, height])
    true, visible, predicted = ex["true"][0] * scale, ex["true_visible"][0], ex["pred"][0] * scale
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.imshow(video[-1])
    colours = plt.cm.tab20(np.linspace(0, 1, max_tracks))
    for n in range(min(max_tracks, len(true))):
        ax.plot(true[n, :, 0] - 0.5, true[n, :, 1] - 0.5, "-", color=colours[n], lw=1.5)
        seen = visible[n]
        ax.plot(true[n, seen, 0] - 0.5, true[n, seen, 1] - 0.5, "o", color=colours[n], ms=2)
        ax.plot(predicted[n, :, 0] - 0.5, predicted[n, :, 1] - 0.5, "--", color=colours[n], lw=1)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_title(f"{title}\nsolid: true, dashed: predicted", fontsize=8)
    _no_ticks(ax)
    return fig


def _draw_box(ax, box, height, width, colour, style):
    ymin, xmin, ymax, xmax = box
    ax.add_patch(plt.Rectangle((xmin * width - 0.5, ymin * height - 0.5),
                               (xmax - xmin) * width, (ymax - ymin) * height,
                               fill=False, edgecolor=colour, linestyle=style, lw=1.5))


def boxes_figure(ex: dict, title: str):
    """A few frames of clip 0 with true (solid) and predicted (dashed) object boxes."""
    video, true, visible, predicted = ex["video"][0], ex["true"][0], ex["true_visible"][0], ex["pred"][0]
    frames = _frames(len(video))
    _, height, width, _ = video.shape
    colours = plt.cm.tab10(np.arange(len(true)) % 10)
    fig, axes = plt.subplots(1, len(frames), figsize=(2.3 * len(frames), 2.6), squeeze=False)
    for ax, t in zip(axes[0], frames):
        ax.imshow(video[t])
        for k in range(len(true)):
            if visible[k, 0]:  # tracked objects: visible in the query frame
                if visible[k, t]:
                    _draw_box(ax, true[k, t], height, width, colours[k], "-")
                _draw_box(ax, predicted[k, t], height, width, colours[k], "--")
        ax.set_title(f"frame {t}", fontsize=8)
    _no_ticks(axes)
    fig.suptitle(f"{title} (solid: true, dashed: predicted)", fontsize=9)
    return fig


FIGURES = {"depth": depth_figure, "points": points_figure, "boxes": boxes_figure}


def example_figures(folder, results: dict, save) -> list[str]:
    """`examples_<task>.png` for depth, points and boxes from the largest pretrained
    encoder's saved predictions."""
    largest = results["sizes"][-1]["name"]
    paths = []
    for task, draw in FIGURES.items():
        path = folder.probe_examples("mae", largest, task)
        if not os.path.exists(path):
            continue
        with np.load(path) as data:
            ex = {k: data[k] for k in data.files}
        source = results["summary"].get(task, {}).get("eval_data")
        held_out = f"held-out clip of {source}" if source else "held-out scene"
        fig = draw(ex, f"{task} readout on pretrained {largest}, {held_out}")
        paths.append(save(fig, folder.path(f"examples_{task}.png")))
    return paths
