"""Test helpers: random checkpoints in the official format and an independent numpy
re-implementation of the official forward pass (written from the official model definition, float64)."""
import math

import numpy as np


def random_backbone_arrays(rng, width, depth, mlp_dim, heads, grid, patch=(2, 16, 16),
                           prefix="params/"):
    """Official-format backbone arrays with every value random (no zeros or ones)."""
    head_dim = width // heads
    arrays = {
        "encoder/patch_embedding/Conv_0/kernel": (*patch, 3, width),
        "encoder/patch_embedding/Conv_0/bias": (width,),
        "encoder/posenc/embeddings": (*grid, width),
    }
    for i in range(depth):
        block = f"processor/layers_{i}/"
        for norm in ("attention_norm", "mlp_norm"):
            arrays[block + norm + "/scale"] = (width,)
            arrays[block + norm + "/bias"] = (width,)
        for name in ("query", "key", "value"):
            arrays[block + f"attention/{name}/kernel"] = (width, heads, head_dim)
            arrays[block + f"attention/{name}/bias"] = (heads, head_dim)
        arrays[block + "attention/out/kernel"] = (heads, head_dim, width)
        arrays[block + "attention/out/bias"] = (width,)
        arrays[block + "mlp/dense_in/kernel"] = (width, mlp_dim)
        arrays[block + "mlp/dense_in/bias"] = (mlp_dim,)
        arrays[block + "mlp/dense_out/kernel"] = (mlp_dim, width)
        arrays[block + "mlp/dense_out/bias"] = (width,)
    return {prefix + k: _random(rng, k, s) for k, s in arrays.items()}


def random_readout_arrays(rng, width, params, heads, num_queries, num_frames, num_outputs,
                          prefix="params/layers_2/"):
    shapes = {
        "LayerNorm_0/scale": (width,), "LayerNorm_0/bias": (width,),
        "temporal_posenc/embeddings": (num_frames, 1, width),
        "query": (num_queries, heads, params // heads),
        "key_embedding/kernel": (width, heads, params // heads),
        "key_embedding/bias": (heads, params // heads),
        "value_embedding/kernel": (width, heads, params // heads),
        "value_embedding/bias": (heads, params // heads),
        "Dense_0/kernel": (params, params), "Dense_0/bias": (params,),
        "LayerNorm_1/scale": (params,), "LayerNorm_1/bias": (params,),
        "MLP_0/Dense_0/kernel": (params, 4 * params), "MLP_0/Dense_0/bias": (4 * params,),
        "MLP_0/Dense_1/kernel": (4 * params, params), "MLP_0/Dense_1/bias": (params,),
        "Dense_1/kernel": (params, num_outputs), "Dense_1/bias": (num_outputs,),
    }
    return {prefix + k: _random(rng, k, s) for k, s in shapes.items()}


def _random(rng, key, shape):
    if key.endswith("scale"):
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    fan_in = shape[0] if len(shape) > 1 else 1
    if "kernel" in key and "Conv_0" in key:
        fan_in = int(np.prod(shape[:-1]))
    if "out/kernel" in key:
        fan_in = shape[0] * shape[1]
    return (rng.normal(size=shape) / math.sqrt(max(fan_in, 1))).astype(np.float32)


def _layer_norm(x, scale, bias, eps=1e-6):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * scale + bias


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def reference_aux(arrays, video, prefix="params/"):
    """The official processor's list `[h_0, h_0, h_1, ..., h_{L-1}]`, in float64."""
    a = {k[len(prefix):]: v.astype(np.float64) for k, v in arrays.items() if k.startswith(prefix)}
    kernel = a["encoder/patch_embedding/Conv_0/kernel"]
    pt, ph, pw, c, width = kernel.shape
    b, T, H, W, _ = video.shape
    t, h, w = T // pt, H // ph, W // pw
    tokens = np.zeros((b, t, h, w, width))
    v = video.astype(np.float64)
    for i in range(t):  # a direct VALID convolution, one tubelet at a time
        for j in range(h):
            for k in range(w):
                patch = v[:, i * pt:(i + 1) * pt, j * ph:(j + 1) * ph, k * pw:(k + 1) * pw]
                tokens[:, i, j, k] = np.einsum("bxyzc,xyzcd->bd", patch, kernel)
    tokens += a["encoder/patch_embedding/Conv_0/bias"] + a["encoder/posenc/embeddings"]
    x = tokens.reshape(b, t * h * w, width)
    aux = [x]
    depth = len({key.split("/")[1] for key in a if key.startswith("processor/")})
    for i in range(depth):
        aux.append(x)
        p = f"processor/layers_{i}/"
        y = _layer_norm(x, a[p + "attention_norm/scale"], a[p + "attention_norm/bias"])
        q, k_, v_ = (np.einsum("bnd,dhk->bnhk", y, a[p + f"attention/{n}/kernel"])
                     + a[p + f"attention/{n}/bias"] for n in ("query", "key", "value"))
        q = q / np.sqrt(q.shape[-1])
        weights = _softmax(np.einsum("bqhk,bshk->bhqs", q, k_))
        attended = np.einsum("bhqs,bshk->bqhk", weights, v_)
        x = x + np.einsum("bqhk,hkd->bqd", attended, a[p + "attention/out/kernel"]) \
            + a[p + "attention/out/bias"]
        y = _layer_norm(x, a[p + "mlp_norm/scale"], a[p + "mlp_norm/bias"])
        y = _gelu_tanh(y @ a[p + "mlp/dense_in/kernel"] + a[p + "mlp/dense_in/bias"])
        x = x + y @ a[p + "mlp/dense_out/kernel"] + a[p + "mlp/dense_out/bias"]
    return aux, (t, h, w)


def reference_depth(arrays, video, decoding_patch, readout_depth=0.95):
    """The official depth model output `(B, T, H, W, 1)`, in float64 (uses jax.image.resize)."""
    import jax

    aux, (t, h, w) = reference_aux(arrays, video, prefix="params/layers_0/")
    features = aux[int(len(aux) * readout_depth) - 1]
    b, T, H, W, _ = video.shape
    features = features.reshape(b, t, h * w, -1)
    features = np.asarray(jax.image.resize(features.astype(np.float32),
                                           (b, T, h * w, features.shape[-1]), "cubic"),
                          np.float64)
    r = {k[len("params/layers_2/"):]: v.astype(np.float64) for k, v in arrays.items()
         if k.startswith("params/layers_2/")}
    x = _layer_norm(features, r["LayerNorm_0/scale"], r["LayerNorm_0/bias"])
    x = (x + r["temporal_posenc/embeddings"]).reshape(b, -1, x.shape[-1])
    query = np.broadcast_to(r["query"], (b, *r["query"].shape))
    key = np.einsum("bnd,dhk->bnhk", x, r["key_embedding/kernel"]) + r["key_embedding/bias"]
    value = np.einsum("bnd,dhk->bnhk", x, r["value_embedding/kernel"]) + r["value_embedding/bias"]
    weights = _softmax(np.einsum("bqhk,bshk->bhqs", query / np.sqrt(query.shape[-1]), key))
    token = np.einsum("bhqs,bshk->bqhk", weights, value).reshape(b, query.shape[1], -1)
    token = query.reshape(b, query.shape[1], -1) + token @ r["Dense_0/kernel"] + r["Dense_0/bias"]
    y = _layer_norm(token, r["LayerNorm_1/scale"], r["LayerNorm_1/bias"])
    y = _gelu_tanh(y @ r["MLP_0/Dense_0/kernel"] + r["MLP_0/Dense_0/bias"])
    token = token + y @ r["MLP_0/Dense_1/kernel"] + r["MLP_0/Dense_1/bias"]
    out = token @ r["Dense_1/kernel"] + r["Dense_1/bias"]
    p0, p1, p2 = decoding_patch
    out = out.reshape(b, T // p0, H // p1, W // p2, p0, p1, p2)
    return out.transpose(0, 1, 4, 2, 5, 3, 6).reshape(b, T, H, W, 1)
