"""Input checks that give clear errors instead of silent wrong answers."""
import numpy as np
from keras import ops


def check_video(video, expected_shape):
    """Check a `(B, T, H, W, 3)` float video in [0, 1] against `expected_shape` (T, H, W, 3).

    Shape and dtype are checked for every input; value range and NaN for concrete numpy
    inputs (traced tensors cannot be inspected). Returns the video as a backend tensor.
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
    if isinstance(video, np.ndarray):
        if not np.all(np.isfinite(video)):
            raise ValueError("video contains NaN or infinite values")
        low, high = float(video.min()), float(video.max())
        if low < -1e-3 or high > 1.0 + 1e-3:
            raise ValueError(f"expected video values in [0, 1], got range [{low:.3g}, {high:.3g}]")
        return ops.convert_to_tensor(video.astype(np.float32, copy=False))
    return video
