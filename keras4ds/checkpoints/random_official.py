"""Random-weight checkpoints in exactly the official 4DS `.npz` format.

For demos, tests and benchmarks without the released files: `load_official` reads them like
the real ones, but whatever they predict is meaningless.
"""
import os

import numpy as np

from keras4ds.checkpoints.official import BACKBONE_PREFIX, DEPTH_ENCODER_PREFIX, DEPTH_READOUT_PREFIX
from keras4ds.utils import write_staged


def official_format_arrays(width, depth, mlp_dim, num_heads, grid, patch_size, seed=0,
                           readout=None):
    """Random float32 weights in the official `.npz` layout, keys `params/...`.

    Encoder: tubelet `patch_size` (pt, ph, pw), token `grid` (t, h, w), so the input is
    `(t*pt, h*ph, w*pw, 3)`. `readout=None` gives a backbone file; a dict
    `{"num_params": P, "num_heads": K, "decoding_patch_size": (dt, dh, dw)}` gives a depth
    file (encoder under `params/layers_0/`, depth readout under `params/layers_2/`, output
    `(t*pt, h*ph, w*pw, 1)`).

    Every array (norms and biases too) is drawn at random so no value hides behind 0 or 1;
    kernels are scaled by 1/sqrt(fan-in) so activations stay O(1) through the blocks.
    """
    rng = np.random.default_rng(seed)
    head_dim = width // num_heads

    def normal(shape, scale):
        return (scale * rng.standard_normal(shape)).astype(np.float32)

    def norm(prefix, size):
        return {prefix + "/scale": 1.0 + normal((size,), 0.05),
                prefix + "/bias": normal((size,), 0.02)}
    patch_in = int(np.prod(patch_size)) * 3
    arrays = {"encoder/patch_embedding/Conv_0/kernel":
              normal((*patch_size, 3, width), patch_in ** -0.5),
              "encoder/patch_embedding/Conv_0/bias": normal((width,), 0.02),
              "encoder/posenc/embeddings": normal((*grid, width), 0.02)}
    for i in range(depth):
        block = f"processor/layers_{i}/"
        arrays.update(norm(block + "attention_norm", width))
        arrays.update(norm(block + "mlp_norm", width))
        for name in ("query", "key", "value"):
            arrays[f"{block}attention/{name}/kernel"] = normal((width, num_heads, head_dim),
                                                                width ** -0.5)
            arrays[f"{block}attention/{name}/bias"] = normal((num_heads, head_dim), 0.02)
        arrays[block + "attention/out/kernel"] = normal((num_heads, head_dim, width),
                                                        width ** -0.5)
        arrays[block + "attention/out/bias"] = normal((width,), 0.02)
        arrays[block + "mlp/dense_in/kernel"] = normal((width, mlp_dim), width ** -0.5)
        arrays[block + "mlp/dense_in/bias"] = normal((mlp_dim,), 0.02)
        arrays[block + "mlp/dense_out/kernel"] = normal((mlp_dim, width), mlp_dim ** -0.5)
        arrays[block + "mlp/dense_out/bias"] = normal((width,), 0.02)
    if readout is None:
        return {BACKBONE_PREFIX + key: value for key, value in arrays.items()}
    params, heads = readout["num_params"], readout["num_heads"]
    decoding = tuple(readout["decoding_patch_size"])
    frames = grid[0] * patch_size[0]
    queries = int(np.prod([g * p // d for g, p, d in zip(grid, patch_size, decoding)]))
    outputs = int(np.prod(decoding))
    head = {"temporal_posenc/embeddings": normal((frames, 1, width), 0.02),
            "query": normal((queries, heads, params // heads), 1.0),
            "Dense_0/kernel": normal((params, params), params ** -0.5),
            "Dense_0/bias": normal((params,), 0.02),
            "MLP_0/Dense_0/kernel": normal((params, 4 * params), params ** -0.5),
            "MLP_0/Dense_0/bias": normal((4 * params,), 0.02),
            "MLP_0/Dense_1/kernel": normal((4 * params, params), (4 * params) ** -0.5),
            "MLP_0/Dense_1/bias": normal((params,), 0.02),
            "Dense_1/kernel": normal((params, outputs), params ** -0.5),
            "Dense_1/bias": normal((outputs,), 0.02),
            **norm("LayerNorm_0", width), **norm("LayerNorm_1", params)}
    for name in ("key_embedding", "value_embedding"):
        head[name + "/kernel"] = normal((width, heads, params // heads), width ** -0.5)
        head[name + "/bias"] = normal((heads, params // heads), 0.02)
    return {**{DEPTH_ENCODER_PREFIX + key: value for key, value in arrays.items()},
            **{DEPTH_READOUT_PREFIX + key: value for key, value in head.items()}}


def save_official_npz(path, arrays):
    """Write `arrays` (name -> float32 array) as an uncompressed `.npz` (the official
    files' container) via a temporary file and a rename; returns `path`. The file gets
    the usual mode (0o666 less the umask)."""
    def write(staged):
        with open(staged, "wb") as f:
            np.savez(f, **arrays)
    return write_staged(os.fspath(path), write)


def write_random_official(path, width=32, depth=4, mlp_dim=128, num_heads=2, num_frames=16,
                          image_size=(32, 32), patch_size=(2, 16, 16), depth_readout=True,
                          readout_params=64, readout_heads=4, decoding_patch_size=(2, 8, 8),
                          seed=0):
    """Write a random-weight official `.npz` of a (small) model to `path`; returns `path`.

    The defaults are the size of the shared development fixture: encoder width 32, 4 blocks,
    input `(16, 32, 32, 3)`; with `depth_readout` a depth file (`load_official` gives a
    `DepthModel`, output `(16, 32, 32, 1)`), else a backbone file (a `FourDSEncoder`).
    """
    grid = (num_frames // patch_size[0], image_size[0] // patch_size[1],
            image_size[1] // patch_size[2])
    if (grid[0] * patch_size[0], grid[1] * patch_size[1], grid[2] * patch_size[2]) != (
            num_frames, *image_size):
        raise ValueError(f"input {(num_frames, *image_size)} is not a multiple of the "
                         f"tubelet {tuple(patch_size)}")
    readout = ({"num_params": readout_params, "num_heads": readout_heads,
                "decoding_patch_size": decoding_patch_size} if depth_readout else None)
    arrays = official_format_arrays(width, depth, mlp_dim, num_heads, grid, patch_size,
                                    seed=seed, readout=readout)
    return save_official_npz(path, arrays)
