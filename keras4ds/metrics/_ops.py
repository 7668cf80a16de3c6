"""One kernel per metric, run either on numpy or on `keras.ops`.

Every metric in this package is computed by a single kernel function that takes
an `ops` namespace as its first argument.  The plain numpy functions call it with
`NUMPY` (numpy arrays, the caller's float precision, errors raised before the
call); the stateful Keras metrics call it with `keras.ops` inside
`update_state`, so the same arithmetic runs on jax, tensorflow and torch.
Kernels therefore only use names that exist with the same meaning in both
namespaces; the few that numpy lacks or spells differently are defined here.
"""

import numpy as np


class _NumpyOps:
    """numpy under the `keras.ops` names the metric kernels use."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x).astype(dtype)

    @staticmethod
    def convert_to_tensor(x, dtype=None):
        return np.asarray(x, dtype=dtype)

    @staticmethod
    def svd(x):
        return np.linalg.svd(x)

    @staticmethod
    def divide_no_nan(x, y):
        x, y = np.asarray(x), np.asarray(y)
        return np.where(y == 0, 0, x / np.where(y == 0, 1, y))


NUMPY = _NumpyOps()


def div_or_nan(ops, num, den):
    """`num / den`, NaN where `den == 0` (numpy's 0/0, without the warning)."""
    positive = den > 0
    return ops.where(positive, num / ops.where(positive, den, 1), float("nan"))


def count(ops, mask, axis):
    """Number of true entries of a boolean `mask` along `axis`, as floats.

    float64 under numpy, the Keras float type (float32) under `keras.ops`.
    """
    return ops.sum(ops.where(mask, 1.0, 0.0), axis=axis)


def dot3(a, b):
    """Dot product over a last axis of size 3 (a plain sum, same on every backend)."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def cross3(ops, a, b):
    """Cross product over a last axis of size 3."""
    return ops.stack(
        [
            a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
            a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
            a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0],
        ],
        axis=-1,
    )


def det3(ops, m):
    """Determinant of `(..., 3, 3)` matrices: row0 . (row1 x row2)."""
    return dot3(m[..., 0, :], cross3(ops, m[..., 1, :], m[..., 2, :]))


def float_dtype(x):
    """The float dtype numpy kernels compute in: the input's, float64 for ints."""
    x = np.asarray(x)
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype("float64")


def as_float(x):
    """`x` as a numpy float array, keeping float32/float64 as given."""
    x = np.asarray(x)
    return x.astype(float_dtype(x), copy=False)


def check_finite(name, x, where=None, at="entries"):
    """Raise a clear error, naming the input, if `x` holds NaN or infinity.

    With `where` (a boolean mask broadcastable to `x`), only the entries where it is
    True must be finite; `at` names them in the message (e.g. "visible frames").
    """
    bad = ~np.isfinite(x)
    if where is not None:
        bad &= np.broadcast_to(where, bad.shape)
    if bad.any():
        raise ValueError(
            f"`{name}` must be finite at all its {at}; got {int(bad.sum())} non-finite "
            "value(s) (NaN or inf), for which the metrics are undefined."
        )


def static_shape(x):
    """The shape of an array or tensor as a tuple; None for a size unknown while tracing."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def shapes_agree(a, b):
    """Whether two shapes are equal where both sizes are known (None matches any size)."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def check_same_shape(**arrays):
    """Raise a clear error unless all named arrays (or tensors) have the same shape.

    Works on static shapes, so also inside a traced step (unknown sizes match).
    """
    shapes = {name: static_shape(a) for name, a in arrays.items()}
    first, *others = shapes.values()
    if not all(shapes_agree(first, s) for s in others):
        listed = ", ".join(f"{n}{s}" for n, s in shapes.items())
        raise ValueError(f"Shape mismatch: {listed}; they must be equal.")


def _size_fits(size, want):
    """Whether an axis of size `size` fits the `check_shape` pattern entry `want`."""
    if size is None or isinstance(want, str):
        return True
    return size in (want if isinstance(want, tuple) else (want,))


def check_shape(name, x, pattern, note=""):
    """Raise a clear error, naming the input, unless its shape fits `pattern` and is not empty.

    `pattern` lists the axes: a name ("B") for any size, an int for a required size, a
    tuple of ints for one of several (e.g. `("B", "T", (3, 4), 4)`).  `note` follows the
    expected shape in the message (e.g. " as (t, y, x)").  Static shapes: an unknown size
    (None, in a traced step) fits anything.
    """
    shape = static_shape(x)
    expected = "(" + ", ".join(
        "|".join(map(str, want)) if isinstance(want, tuple) else str(want) for want in pattern
    ) + ")"
    if len(shape) != len(pattern) or not all(map(_size_fits, shape, pattern)):
        raise ValueError(f"`{name}` must be {expected}{note}; got shape {shape}.")
    check_nonempty(name, x)


def check_nonempty(name, x):
    """Raise a clear error, naming the input, if an axis of `x` is known to have size 0."""
    shape = static_shape(x)
    if 0 in shape:
        raise ValueError(f"`{name}` is empty (shape {shape}); there is nothing to score.")
