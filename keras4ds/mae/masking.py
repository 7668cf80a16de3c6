"""Token masks for MAE: which tubelet tokens the encoder sees and which it must rebuild.

A mask is boolean `(B, N)` (or `(B, t, h, w)`), True = masked, with the same number of
masked tokens in every row (`round(mask_ratio * N)`, or per tube with tube masking).
Tokens are ordered t, then h, then w, as in `FourDSEncoder.tokens`.
"""
import numpy as np
from keras import ops

from keras4ds.models.validation import is_concrete


def num_masked(grid, mask_ratio, tube_masking=False):
    """Number of masked tokens per clip for a token grid (t, h, w)."""
    t, h, w = grid
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
    if tube_masking:
        per_frame = int(round(mask_ratio * h * w))
        count = per_frame * t
        visible = h * w - per_frame
    else:
        count = int(round(mask_ratio * t * h * w))
        visible = t * h * w - count
    if visible < 1 or count < 1:
        raise ValueError(f"mask_ratio {mask_ratio} on a {grid} token grid leaves "
                         f"{visible} visible and {count} masked tokens; need at least one each")
    return count


def random_mask(batch_size, grid, mask_ratio=0.95, tube_masking=False, seed=0):
    """Seeded numpy mask `(B, N)` bool, True = masked. Tube masking masks the same
    (h, w) positions in every time step."""
    rng = np.random.default_rng(seed)
    t, h, w = grid
    count = num_masked(grid, mask_ratio, tube_masking)
    if tube_masking:
        noise = np.tile(rng.random((batch_size, 1, h * w)), (1, t, 1)).reshape(batch_size, -1)
    else:
        noise = rng.random((batch_size, t * h * w))
    ranks = np.argsort(np.argsort(noise, axis=1, kind="stable"), axis=1)
    return ranks >= t * h * w - count


def token_order(noise, mask=None):
    """Permutation `(B, N)` int: visible tokens first, then masked ones.

    `noise` `(B, N)` floats in [0, 1) decides the order; without a mask the lowest
    `N - num_masked` noise values are the visible tokens. With a `mask` `(B, N)` (True =
    masked) the mask decides membership and the noise only the order inside each part,
    so the first masked tokens of the order are a random subset of the masked ones.
    """
    if mask is None:
        return ops.argsort(noise, axis=-1)
    return ops.argsort(ops.cast(mask, noise.dtype) + 0.5 * noise, axis=-1)


def check_mask(mask, num_tokens, grid, expected_masked):
    """Validate an explicit mask and return it as `(B, N)`. Counts are checked for concrete
    (eager) masks; traced masks cannot be read."""
    shape = tuple(mask.shape)
    if shape[1:] == tuple(grid):
        mask = ops.reshape(mask, (-1, num_tokens))
    elif len(shape) != 2 or shape[1] != num_tokens:
        raise ValueError(f"expected a mask of shape (B, {num_tokens}) or (B, {', '.join(map(str, grid))}) "
                         f"with True = masked, got {shape}")
    if is_concrete(mask):
        counts = ops.convert_to_numpy(mask).reshape(shape[0], -1).astype(bool).sum(axis=1)
        if not np.all(counts == expected_masked):
            raise ValueError(f"every mask row must mask exactly {expected_masked} tokens "
                             f"(mask_ratio of {num_tokens}), got counts {sorted(set(counts.tolist()))}")
    return mask

