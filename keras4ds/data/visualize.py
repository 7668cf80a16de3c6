"""Drawing clips with their labels: point tracks, boxes, depth; contact sheets."""
from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["palette", "draw_clip", "contact_sheet", "colorize_depth"]


def palette(n: int, seed: int = 0) -> np.ndarray:
    """n distinct bright RGB uint8 colours."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(n) * 0.618033988749895 + rng.random()) % 1.0
    return np.array([[int(255 * c) for c in colorsys.hsv_to_rgb(h, 0.85, 1.0)] for h in hues],
                    np.uint8).reshape(n, 3)


def colorize_depth(depth: np.ndarray) -> np.ndarray:
    """(T, H, W[, 1]) depth -> (T, H, W, 3) uint8, near = bright (inverse depth, turbo)."""
    from matplotlib import colormaps

    d = np.asarray(depth, np.float64)
    if d.ndim == 4:
        d = d[..., 0]
    inv = np.where(d > 0, 1.0 / np.maximum(d, 1e-6), 0.0)
    lo, hi = np.percentile(inv[d > 0], [1, 99]) if np.any(d > 0) else (0.0, 1.0)
    x = np.clip((inv - lo) / max(hi - lo, 1e-9), 0, 1)
    return (colormaps["turbo"](x)[..., :3] * 255).astype(np.uint8)


def draw_clip(clip: dict, scale: int = 4, max_tracks: int = 64, trail: int = 4,
              show_depth: bool = True) -> np.ndarray:
    """Frames (T, H*scale, W*scale[*2], 3) uint8 with tracks and boxes drawn.

    Visible track points are filled dots with a short trail; occluded (but in-frame)
    points are small hollow circles. Boxes are outlined in their object's colour. With
    ``show_depth`` and a ``depth`` key, the colourised depth is put on the right.
    """
    video = np.asarray(clip["video"])
    if video.dtype != np.uint8:
        video = np.clip(np.round(video * 255), 0, 255).astype(np.uint8)
    t, h, w = video.shape[:3]
    s = int(scale)
    big = video.repeat(s, axis=1).repeat(s, axis=2)
    panels = [big]
    if show_depth and "depth" in clip:
        panels.append(colorize_depth(clip["depth"]).repeat(s, axis=1).repeat(s, axis=2))
    tracks = np.asarray(clip.get("tracks", np.zeros((0, t, 2))))[:max_tracks]
    visible = np.asarray(clip.get("visible", np.ones(tracks.shape[:2], bool)))[:max_tracks]
    boxes = np.asarray(clip.get("boxes", np.zeros((0, t, 4))))
    box_vis = np.asarray(clip.get("box_visible", np.ones(boxes.shape[:2], bool)))
    tcol = palette(len(tracks), seed=1)
    bcol = palette(len(boxes), seed=2)
    out = []
    r = max(1.5, s * 0.6)
    for i in range(t):
        frame = np.concatenate([p[i] for p in panels], axis=1)
        img = Image.fromarray(frame)
        draw = ImageDraw.Draw(img)
        for k in range(len(boxes)):
            if box_vis[k, i]:
                y0, x0, y1, x1 = boxes[k, i] * [h * s, w * s, h * s, w * s]
                (y0, y1), (x0, x1) = sorted((y0, y1)), sorted((x0, x1))  # predicted boxes may be
                draw.rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)],  # inverted or thin
                               outline=tuple(int(c) for c in bcol[k]), width=max(1, s // 2))
        for n in range(len(tracks)):
            color = tuple(int(c) for c in tcol[n])
            pts = [(tracks[n, j, 0] * s, tracks[n, j, 1] * s, visible[n, j])
                   for j in range(max(0, i - trail), i + 1)]
            for (xa, ya, va), (xb, yb, vb) in zip(pts[:-1], pts[1:]):
                if va and vb:
                    draw.line([xa, ya, xb, yb], fill=color, width=1)
            x, y, v = pts[-1]
            if not (0 <= x < w * s and 0 <= y < h * s):
                continue
            if v:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=color, outline=(0, 0, 0))
            else:
                draw.ellipse([x - r * 0.7, y - r * 0.7, x + r * 0.7, y + r * 0.7], outline=color)
        out.append(np.asarray(img))
    return np.stack(out)


def contact_sheet(frames: np.ndarray, cols: int = 4, pad: int = 2) -> np.ndarray:
    """Tile (T, H, W, 3) uint8 frames in a grid with white padding."""
    frames = np.asarray(frames)
    t, h, w = frames.shape[:3]
    rows = -(-t // cols)
    sheet = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i in range(t):
        r, c = divmod(i, cols)
        sheet[pad + r * (h + pad):pad + r * (h + pad) + h,
              pad + c * (w + pad):pad + c * (w + pad) + w] = frames[i]
    return sheet
