"""A linear map from token features to the token's pixels, fit in closed form (ridge)."""
import numpy as np


def with_bias(features):
    """`(N, C)` -> `(N, C + 1)`: a column of ones for the decoder's bias."""
    return np.concatenate([features, np.ones((len(features), 1), features.dtype)], axis=1)


def ridge_decoder(features, pixels, ridge=1e-3):
    """Least-squares map with bias from token features `(N, C)` to pixels `(N, P)`.

    `ridge` is relative to the mean diagonal of the Gram matrix. Returns `(C + 1, P)`:
    the kernel stacked on the bias.
    """
    features = np.asarray(features, np.float64)
    pixels = np.asarray(pixels, np.float64)
    if features.ndim != 2 or pixels.ndim != 2 or len(features) != len(pixels):
        raise ValueError(f"features (N, C) and pixels (N, P) must have the same N; got "
                         f"{features.shape} and {pixels.shape}")
    if not (np.isfinite(features).all() and np.isfinite(pixels).all()):
        raise ValueError("features and pixels must be finite (found NaN or inf)")
    inputs = with_bias(features)
    gram = inputs.T @ inputs
    gram += ridge * np.trace(gram) / len(gram) * np.eye(len(gram))
    return np.linalg.solve(gram, inputs.T @ pixels)


def r_squared(predicted, target):
    """Fraction of the target's variance (about its per-column mean) that `predicted` explains."""
    target = np.asarray(target, np.float64)
    residual = np.sum((np.asarray(predicted, np.float64) - target) ** 2)
    return float(1.0 - residual / np.sum((target - target.mean(0)) ** 2))
