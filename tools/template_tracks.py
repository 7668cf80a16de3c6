"""Template matching of query points on pixels: a learning-free tracker, the yardstick
for what a frozen encoder's features keep of a video's detail (tools/points_ceiling.py)."""
import numpy as np


def template_tracks(video, query_points, radius=3):
    """Track query points by matching each one's pixel window against every frame.

    video `(T, H, W, C)` floats (pixels, or anything per pixel); query_points `(Q, 3)` as
    (t, y, x), t a frame index, y and x in [0, 1] image units. Each query's template is the
    `(2 * radius + 1)^2` window (edge-padded) around its pixel in its frame; in every frame
    the track goes to the pixel whose window is nearest in squared distance, plus the
    query's sub-pixel offset, and the query frame is exact. Returns tracks `(Q, T, 2)` as
    (x, y) in [0, 1] units.
    """
    video = np.asarray(video, np.float32)
    query_points = np.asarray(query_points, np.float32)
    if video.ndim != 4:
        raise ValueError(f"video must be (T, H, W, C); got shape {video.shape}")
    if query_points.ndim != 2 or query_points.shape[1] != 3:
        raise ValueError(f"query_points must be (Q, 3) as (t, y, x); got {query_points.shape}")
    if radius < 0:
        raise ValueError(f"radius must be >= 0; got {radius}")
    frames, height, width, _ = video.shape
    side = 2 * radius + 1
    padded = np.pad(video, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (side, side), axis=(1, 2))
    windows = windows.reshape(frames, height * width, -1)  # (T, H*W, side*side*C)
    t = np.clip(np.round(query_points[:, 0]).astype(int), 0, frames - 1)
    y = query_points[:, 1] * height
    x = query_points[:, 2] * width
    row = np.clip(np.floor(y).astype(int), 0, height - 1)
    col = np.clip(np.floor(x).astype(int), 0, width - 1)
    templates = windows[t, row * width + col]  # (Q, K)
    # |w - q|^2 = |w|^2 - 2 w.q (+ |q|^2, the same for every pixel of a query)
    distances = (np.sum(windows * windows, axis=-1)[:, None, :]
                 - 2.0 * np.einsum("tnk,qk->tqn", windows, templates))  # (T, Q, H*W)
    best = np.argmin(distances, axis=-1)  # (T, Q)
    best_x = (best % width + (x - col)) / width
    best_y = (best // width + (y - row)) / height
    tracks = np.stack([best_x, best_y], axis=-1).transpose(1, 0, 2)  # (Q, T, 2)
    queries = np.arange(len(t))
    tracks[queries, t] = np.stack([x / width, y / height], axis=-1)
    return tracks.astype(np.float32)
