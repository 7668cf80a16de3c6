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


def check_video(video, expected_shape):
    """Check a `(B, T, H, W, 3)` float video in [0, 1] against `expected_shape` (T, H, W, 3).

    Shape and dtype are checked for every input; value range and NaN for concrete (eager)
    inputs, since traced tensors cannot be inspected.
    """
    shape = tuple(video.shape)
    if len(shape) != 5 or tuple(shape[1:]) != tuple(expected_shape):
        raise ValueError(f"expected video of shape (B, {', '.join(map(str, expected_shape))}) "
                         f"(B, T, H, W, 3), got {shape}. Use encoder.resized(...) for other "
                         f"frame counts or resolutions.")
    dtype = str(getattr(video, "dtype", ""))
    if "int" in dtype or "bool" in dtype:
        raise TypeError(f"expected a float video in [0, 1], got dtype {dtype}; "
                        f"convert uint8 frames with `frames / 255.0`")
    if is_concrete(video):
        low, high = float(ops.min(video)), float(ops.max(video))
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError("video contains NaN or infinite values")
        if low < -1e-3 or high > 1.0 + 1e-3:
            raise ValueError(f"expected video values in [0, 1], got range [{low:.3g}, {high:.3g}]")
    return video
