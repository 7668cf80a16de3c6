"""Overlapping time windows and their blending, streamed so memory stays flat.

A video longer than the model's window is cut into windows of `window` frames every
`stride` frames (the last one aligned to the end); window outputs are blended with
triangular weights (largest in the window's middle) and each output frame is released as
soon as no later window covers it.
"""
import numpy as np


def window_starts(num_frames, window, stride):
    """Start frames of windows of `window` frames every `stride`, the last ending at the end."""
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1, got {window} and {stride}")
    if stride > window:
        raise ValueError(f"stride {stride} > window {window} would skip frames")
    if num_frames < window:
        raise ValueError(f"video has {num_frames} frames, fewer than the window of {window}; "
                         f"use the model directly or a smaller window")
    starts = list(range(0, num_frames - window + 1, stride))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return starts


def window_weights(length):
    """Triangular blending weights `(length,)`, positive, largest in the middle."""
    i = np.arange(length, dtype=np.float64)
    return np.minimum(i + 1.0, length - i)


def blend_windows(outputs, starts, length):
    """Blend window outputs along axis 1 and yield `(first_index, block)` when final.

    `outputs` yields arrays `(B, length, ...)` in order, one per entry of `starts` (start
    indices in output units). Blocks are float32 `(B, n, ...)`; concatenated they cover
    `[0, starts[-1] + length)`. Only the frames still open are held in memory.
    """
    weights = window_weights(length)
    acc = total = None
    offset = 0  # output index of acc[:, 0]
    for k, out in enumerate(outputs):
        out = np.asarray(out, np.float64)
        start = starts[k]
        if out.shape[1] != length:
            raise ValueError(f"window output has {out.shape[1]} steps on axis 1, expected {length}")
        if acc is None:
            acc = np.zeros((out.shape[0], 0, *out.shape[2:]))
            total = np.zeros((0,))
        grow = start + length - (offset + acc.shape[1])
        if grow > 0:
            acc = np.concatenate([acc, np.zeros((acc.shape[0], grow, *acc.shape[2:]))], axis=1)
            total = np.concatenate([total, np.zeros(grow)])
        shape = (1, length) + (1,) * (out.ndim - 2)
        acc[:, start - offset:start - offset + length] += out * weights.reshape(shape)
        total[start - offset:start - offset + length] += weights
        done = (starts[k + 1] if k + 1 < len(starts) else start + length) - offset
        if done > 0:
            norm = total[:done].reshape((1, done) + (1,) * (out.ndim - 2))
            yield offset, (acc[:, :done] / norm).astype(np.float32)
            acc, total, offset = acc[:, done:], total[done:], offset + done
