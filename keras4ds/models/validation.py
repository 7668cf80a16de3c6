"""Input checks that give clear errors instead of silent wrong answers."""
import keras
import numpy as np
from keras import ops


def is_concrete(x):
    """True for eager values whose contents can be read now (not traced or symbolic)."""
    if isinstance(x, np.ndarray):
        return True
    if isinstance(x, keras.KerasTensor):
        return False
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly() and hasattr(x, "numpy")
    if backend == "torch":
        import torch

        return not torch.compiler.is_compiling()
    return False


def _all_finite(x) -> bool:
    # An explicit isfinite: XLA's CPU min/max reductions may skip NaN (jax 0.10), so a
    # NaN cannot be found from the range alone.
    if isinstance(x, np.ndarray):  # a clip at a time: no temporary the size of the data
        return all(bool(np.isfinite(part).all()) for part in (x if x.ndim > 1 else [x]))
    return bool(ops.all(ops.isfinite(x)))


def _value_range(x):
    if isinstance(x, np.ndarray):
        return float(x.min()), float(x.max())
    return float(ops.min(x)), float(ops.max(x))


def check_values(x, name, low=None, high=None, tolerance=1e-3):
    """Check a concrete float array `x` for NaN/inf and, if both are given, the range
    [low, high]; errors name `name`. Traced or symbolic values are not inspected."""
    if not is_concrete(x) or int(np.prod(x.shape)) == 0:
        return x
    if not _all_finite(x):
        raise ValueError(f"{name} contains NaN or infinite values")
    if low is None or high is None:
        return x
    lo, hi = _value_range(x)
    if lo < low - tolerance or hi > high + tolerance:
        raise ValueError(f"expected {name} values in [{low:g}, {high:g}], got range "
                         f"[{lo:.3g}, {hi:.3g}]")
    return x


def check_video(video, expected_shape, name="video"):
    """Check a `(B, T, H, W, 3)` float video in [0, 1] against `expected_shape` (T, H, W, 3).

    Shape, dtype and a non-empty batch are checked for every input; value range and NaN
    for concrete (eager) inputs, since traced tensors cannot be inspected (`fit`,
    `evaluate` and `predict` check their data before tracing: `CheckedInputs`).
    """
    if not hasattr(video, "shape"):
        raise TypeError(f"expected {name} as an array (B, T, H, W, 3), got "
                        f"{type(video).__name__}")
    shape = tuple(video.shape)
    if len(shape) != 5 or tuple(shape[1:]) != tuple(expected_shape):
        raise ValueError(f"expected {name} of shape (B, {', '.join(map(str, expected_shape))}) "
                         f"(B, T, H, W, 3), got {shape}. Use encoder.resized(...) for other "
                         f"frame counts or resolutions.")
    if shape[0] == 0:
        raise ValueError(f"{name} batch is empty (B = 0); pass at least one clip")
    dtype = str(getattr(video, "dtype", ""))
    if "int" in dtype or "bool" in dtype:
        raise TypeError(f"expected a float {name} in [0, 1], got dtype {dtype}; "
                        f"convert uint8 frames with `frames / 255.0`")
    return check_values(video, name, 0.0, 1.0)


class CheckpointError(ValueError):
    """A checkpoint file or preset folder does not hold what it should."""
