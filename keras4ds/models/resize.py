"""JAX-exact cubic resizing as fixed weight matrices, identical on every backend.

`jax.image.resize(..., "cubic")` uses the Keys kernel (a = -0.5), half-pixel centres,
drops taps that fall outside the input and renormalises the rest to sum to 1, and widens
the kernel when downsampling (antialiasing). Backend resize ops differ (PyTorch bicubic
uses a = -0.75 and clamps), so we build the `(out, in)` matrix once and apply it with an
einsum.
"""
import numpy as np


def _keys_cubic(x):
    """Keys cubic convolution kernel with a = -0.5, for |x| >= 0."""
    x = np.abs(x)
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def cubic_resize_matrix(in_size, out_size, antialias=True):
    """Weights `(out_size, in_size)` float32 such that `W @ x` resizes `x` along one axis.

    Equals what `jax.image.resize(x, ..., method="cubic")` does along that axis.
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be >= 1, got in_size={in_size}, out_size={out_size}")
    scale = out_size / in_size
    kernel_scale = max(1.0 / scale, 1.0) if antialias else 1.0
    sample = (np.arange(out_size) + 0.5) / scale - 0.5
    distance = np.abs(sample[:, None] - np.arange(in_size)[None, :]) / kernel_scale
    weights = _keys_cubic(distance)
    total = weights.sum(axis=1, keepdims=True)
    eps = 1000.0 * np.finfo(np.float32).eps
    weights = np.where(np.abs(total) > eps, weights / np.where(total != 0, total, 1), 0.0)
    inside = (sample >= -0.5) & (sample <= in_size - 0.5)
    weights = np.where(inside[:, None], weights, 0.0)
    return weights.astype(np.float32)


def resize_grid(array, new_shape):
    """Cubic-resize the leading axes of a numpy array, e.g. `(t, h, w, D)` to `(t2, h2, w2, D)`.

    Used to adapt a learned position embedding to another frame count or resolution
    (opt-in). Axes are resized one after the other, as separable JAX cubic resizing does.
    """
    out = np.asarray(array, np.float64)
    for axis, size in enumerate(new_shape):
        if out.shape[axis] == size:
            continue
        matrix = cubic_resize_matrix(out.shape[axis], size).astype(np.float64)
        out = np.moveaxis(np.tensordot(matrix, out, axes=([1], [axis])), 0, axis)
    return out.astype(np.float32)
