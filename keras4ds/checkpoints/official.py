"""Load the official 4DS `.npz` checkpoints , inferring the configuration from shapes.

Keys are Flax paths joined by '/'. Backbone files hold `params/encoder/...` and
`params/processor/layers_{i}/...`; the depth file holds the backbone under
`params/layers_0/` and the readout under `params/layers_2/`. No transposes are needed.
"""
import os
import re
import zipfile

import numpy as np

from keras4ds.models.depth import DepthModel
from keras4ds.models.encoder import FourDSEncoder
from keras4ds.models.validation import CheckpointError

DEPTH_ENCODER_PREFIX = "params/layers_0/"
DEPTH_READOUT_PREFIX = "params/layers_2/"
BACKBONE_PREFIX = "params/"
_BLOCK_KEY = re.compile(r"processor/layers_(\d+)/")


def read_official_npz(path):
    """Read every array of an official `.npz` file into a dict, with clear errors."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise CheckpointError(f"{path!r} is not a readable .npz checkpoint: {error}") from error
    if not arrays:
        raise CheckpointError(f"{path!r} holds no arrays")
    for key, value in arrays.items():
        if value.dtype != np.float32:
            raise CheckpointError(f"{path!r}: {key} has dtype {value.dtype}, expected float32")
    return arrays


def _encoder_mapping(depth):
    """Official key (relative to the encoder prefix) -> our weight path suffix."""
    mapping = {
        "encoder/patch_embedding/Conv_0/kernel": "tubelet_embedding/kernel",
        "encoder/patch_embedding/Conv_0/bias": "tubelet_embedding/bias",
        "encoder/posenc/embeddings": "position_embedding/embeddings",
    }
    for i in range(depth):
        src, dst = f"processor/layers_{i}/", f"block_{i}/"
        for norm in ("attention_norm", "mlp_norm"):
            mapping[f"{src}{norm}/scale"] = f"{dst}{norm}/gamma"
            mapping[f"{src}{norm}/bias"] = f"{dst}{norm}/beta"
        for name in ("query", "key", "value", "out"):
            for kind in ("kernel", "bias"):
                mapping[f"{src}attention/{name}/{kind}"] = f"{dst}attention/{name}/{kind}"
        for name in ("dense_in", "dense_out"):
            for kind in ("kernel", "bias"):
                mapping[f"{src}mlp/{name}/{kind}"] = f"{dst}mlp/{name}/{kind}"
    return mapping


_READOUT_MAPPING = {
    "LayerNorm_0/scale": "feature_norm/gamma", "LayerNorm_0/bias": "feature_norm/beta",
    "temporal_posenc/embeddings": "temporal_posenc", "query": "query",
    "key_embedding/kernel": "key_embedding/kernel", "key_embedding/bias": "key_embedding/bias",
    "value_embedding/kernel": "value_embedding/kernel",
    "value_embedding/bias": "value_embedding/bias",
    "Dense_0/kernel": "token_dense/kernel", "Dense_0/bias": "token_dense/bias",
    "LayerNorm_1/scale": "mlp_norm/gamma", "LayerNorm_1/bias": "mlp_norm/beta",
    "MLP_0/Dense_0/kernel": "mlp/dense_0/kernel", "MLP_0/Dense_0/bias": "mlp/dense_0/bias",
    "MLP_0/Dense_1/kernel": "mlp/dense_1/kernel", "MLP_0/Dense_1/bias": "mlp/dense_1/bias",
    "Dense_1/kernel": "head/kernel", "Dense_1/bias": "head/bias",
}


def _require(arrays, key, path, ndim):
    if key not in arrays:
        raise CheckpointError(f"{path!r}: missing key {key!r}")
    if arrays[key].ndim != ndim:
        raise CheckpointError(f"{path!r}: {key} has shape {arrays[key].shape}, expected "
                              f"{ndim} dimensions")
    return arrays[key]


def infer_encoder_config(arrays, prefix, path="checkpoint"):
    """Encoder keyword arguments inferred from the official array shapes."""
    kernel = _require(arrays, prefix + "encoder/patch_embedding/Conv_0/kernel", path, 5)
    posenc = _require(arrays, prefix + "encoder/posenc/embeddings", path, 4)
    blocks = {int(m.group(1)) for key in arrays if key.startswith(prefix)
              for m in [_BLOCK_KEY.match(key[len(prefix):])] if m}
    if not blocks or blocks != set(range(len(blocks))):
        raise CheckpointError(f"{path!r}: expected processor/layers_0 ... layers_{{L-1}}, "
                              f"found block indices {sorted(blocks)}")
    query = _require(arrays, prefix + "processor/layers_0/attention/query/kernel", path, 3)
    dense_in = _require(arrays, prefix + "processor/layers_0/mlp/dense_in/kernel", path, 2)
    patch_size = kernel.shape[:3]
    grid = posenc.shape[:3]
    return {"width": int(kernel.shape[-1]), "depth": len(blocks),
            "mlp_dim": int(dense_in.shape[1]), "num_heads": int(query.shape[1]),
            "num_frames": int(grid[0] * patch_size[0]),
            "image_size": (int(grid[1] * patch_size[1]), int(grid[2] * patch_size[2])),
            "patch_size": tuple(int(p) for p in patch_size)}


def _assign(model, arrays, mapping, prefix, path):
    """Assign `arrays[prefix + key]` to the model weight whose path ends with mapping[key]."""
    by_suffix = {}
    for weight in model.weights:
        by_suffix[weight.path.split("/", 1)[1] if "/" in weight.path else weight.path] = weight
    for key, target in mapping.items():
        full_key = prefix + key
        if full_key not in arrays:
            raise CheckpointError(f"{path!r}: missing key {full_key!r}")
        weight = by_suffix[target]
        value = arrays[full_key]
        if tuple(value.shape) != tuple(weight.shape):
            raise CheckpointError(f"{path!r}: {full_key} has shape {value.shape}, expected "
                                  f"{tuple(weight.shape)}")
        weight.assign(value)


def _check_no_extra(arrays, expected_keys, path):
    extra = sorted(set(arrays) - set(expected_keys))
    if extra:
        raise CheckpointError(f"{path!r}: unexpected keys not in the 4DS format: {extra[:5]}"
                              + (f" and {len(extra) - 5} more" if len(extra) > 5 else ""))


def load_official(path, decoding_patch_size=None, expected=None):
    """Load an official 4DS `.npz`: the encoder for a backbone file, the depth model for a
    depth file. Every configuration value is inferred from the array shapes.

    `decoding_patch_size` is only needed for a depth readout whose patch cannot be
    inferred unambiguously; the official (2, 8, 8) is preferred when it fits. `expected`
    (`FourDSEncoder` or `DepthModel`) refuses a file of the other kind before building.
    """
    arrays = read_official_npz(path)
    path = os.fspath(path)
    is_depth = any(key.startswith(DEPTH_READOUT_PREFIX) for key in arrays)
    if not is_depth and not any(key.startswith(BACKBONE_PREFIX + "encoder/") for key in arrays):
        raise CheckpointError(f"{path!r}: neither a 4DS backbone file (params/encoder/...) "
                              f"nor a depth file (params/layers_0/..., params/layers_2/...)")
    found = DepthModel if is_depth else FourDSEncoder
    if expected is not None and not issubclass(found, expected):
        raise CheckpointError(f"{path!r}: holds a {found.__name__} "
                              f"({'depth' if is_depth else 'backbone'} file), expected a "
                              f"{expected.__name__}")
    if is_depth:
        return _load_depth(arrays, path, decoding_patch_size)
    encoder = _load_encoder(arrays, BACKBONE_PREFIX, path)
    _check_no_extra(arrays, [BACKBONE_PREFIX + k for k in _encoder_mapping(encoder.depth)], path)
    return encoder


def _load_encoder(arrays, prefix, path):
    encoder = FourDSEncoder(**infer_encoder_config(arrays, prefix, path))
    _assign(encoder, arrays, _encoder_mapping(encoder.depth), prefix, path)
    return encoder


def _infer_decoding_patch(encoder, num_queries, num_outputs, requested):
    frames, height, width = encoder.num_frames, *encoder.image_size

    def fits(patch):
        pt, ph, pw = patch
        return (frames % pt == 0 and height % ph == 0 and width % pw == 0
                and pt * ph * pw == num_outputs
                and (frames // pt) * (height // ph) * (width // pw) == num_queries)

    if requested is not None:
        if not fits(tuple(requested)):
            raise CheckpointError(f"decoding_patch_size {tuple(requested)} does not fit "
                                  f"{num_queries} queries x {num_outputs} outputs")
        return tuple(requested)
    candidates = [(2, 8, 8), (encoder.patch_size[0], *[int(round((num_outputs
                  / encoder.patch_size[0]) ** 0.5))] * 2)]
    candidates += [(pt, ph, ph) for pt in range(1, frames + 1) for ph in range(1, height + 1)]
    for patch in candidates:
        if fits(patch):
            return patch
    raise CheckpointError(f"cannot infer the decoding patch of a readout with {num_queries} "
                          f"queries x {num_outputs} outputs for a {frames}x{height}x{width} "
                          f"output; pass decoding_patch_size")


def _load_depth(arrays, path, decoding_patch_size):
    encoder = _load_encoder(arrays, DEPTH_ENCODER_PREFIX, path)
    query = _require(arrays, DEPTH_READOUT_PREFIX + "query", path, 3)
    head = _require(arrays, DEPTH_READOUT_PREFIX + "Dense_1/kernel", path, 2)
    num_queries, num_heads, head_dim = query.shape
    patch = _infer_decoding_patch(encoder, num_queries, head.shape[1], decoding_patch_size)
    model = DepthModel(encoder, num_params=num_heads * head_dim, num_heads=num_heads,
                       decoding_patch_size=patch)
    _assign(model.readout, arrays, _READOUT_MAPPING, DEPTH_READOUT_PREFIX, path)
    expected = [DEPTH_ENCODER_PREFIX + k for k in _encoder_mapping(encoder.depth)]
    expected += [DEPTH_READOUT_PREFIX + k for k in _READOUT_MAPPING]
    _check_no_extra(arrays, expected, path)
    return model
