"""Tubelet patchify / unpatchify with keras.ops."""
from keras import ops


def patchify(video, patch_size):
    """`(B, T, H, W, C)` -> `(B, t, h, w, pt*ph*pw*C)`, pixels ordered (pt, ph, pw, C)."""
    pt, ph, pw = patch_size
    _, T, H, W, C = video.shape
    b = ops.shape(video)[0]
    x = ops.reshape(video, (b, T // pt, pt, H // ph, ph, W // pw, pw, C))
    x = ops.transpose(x, (0, 1, 3, 5, 2, 4, 6, 7))
    return ops.reshape(x, (b, T // pt, H // ph, W // pw, pt * ph * pw * C))


def unpatchify(patches, grid, patch_size, channels):
    """`(B, t*h*w, pt*ph*pw*C)` (or `(B, t, h, w, ...)`) -> `(B, t*pt, h*ph, w*pw, C)`."""
    t, h, w = grid
    pt, ph, pw = patch_size
    b = ops.shape(patches)[0]
    x = ops.reshape(patches, (b, t, h, w, pt, ph, pw, channels))
    x = ops.transpose(x, (0, 1, 4, 2, 5, 3, 6, 7))
    return ops.reshape(x, (b, t * pt, h * ph, w * pw, channels))


def gather_tokens(tokens, indices):
    """`(B, N, D)` tokens, `(B, n)` int indices -> `(B, n, D)`."""
    indices = ops.expand_dims(ops.cast(indices, "int32"), -1)
    indices = ops.broadcast_to(indices, (*ops.shape(indices)[:2], ops.shape(tokens)[-1]))
    return ops.take_along_axis(tokens, indices, axis=1)
