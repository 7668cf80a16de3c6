"""Per-device memory of MAE pretraining from shapes alone (nothing is allocated).

Weights are enumerated with the same paths as the Keras models and sharded by the same
`RULES` as the LayoutMap: a weight with a "model" axis is split over the model axis of the
mesh, the others are replicated; no weight is split over the batch axis.
"""
import math
import re

from keras4ds.distribution.layouts import MODEL_AXIS, RULES
from keras4ds.mae.masking import num_masked
from keras4ds.models.presets import size_config


def encoder_weights(width, depth, mlp_dim, num_heads, num_frames=16, image_size=(224, 224),
                    patch_size=(2, 16, 16)):
    """{path: shape} of every FourDSEncoder weight."""
    grid = (num_frames // patch_size[0], image_size[0] // patch_size[1], image_size[1] // patch_size[2])
    head = width // num_heads
    shapes = {"four_ds_encoder/tubelet_embedding/kernel": (*patch_size, 3, width),
              "four_ds_encoder/tubelet_embedding/bias": (width,),
              "four_ds_encoder/position_embedding/embeddings": (*grid, width)}
    for i in range(depth):
        shapes.update(_block(f"four_ds_encoder/block_{i}", width, mlp_dim, num_heads, head))
    return shapes


def _block(prefix, width, mlp_dim, num_heads, head, norms=("attention_norm", "mlp_norm")):
    shapes = {}
    for norm in norms:
        shapes[f"{prefix}/{norm}/gamma"] = (width,)
        shapes[f"{prefix}/{norm}/beta"] = (width,)
    for name in ("query", "key", "value"):
        shapes[f"{prefix}/attention/{name}/kernel"] = (width, num_heads, head)
        shapes[f"{prefix}/attention/{name}/bias"] = (num_heads, head)
    shapes[f"{prefix}/attention/out/kernel"] = (num_heads, head, width)
    shapes[f"{prefix}/attention/out/bias"] = (width,)
    shapes[f"{prefix}/mlp/dense_in/kernel"] = (width, mlp_dim)
    shapes[f"{prefix}/mlp/dense_in/bias"] = (mlp_dim,)
    shapes[f"{prefix}/mlp/dense_out/kernel"] = (mlp_dim, width)
    shapes[f"{prefix}/mlp/dense_out/bias"] = (width,)
    return shapes


def decoder_weights(kind, encoder_width, num_tokens, patch_dim, width, depth, num_heads):
    """{path: shape} of every MAE decoder weight ("standard"/"masked" or "cross")."""
    shapes = {"mae_decoder/input_projection/kernel": (encoder_width, width),
              "mae_decoder/input_projection/bias": (width,),
              "mae_decoder/mask_token": (width,),
              "mae_decoder/position_embedding": (num_tokens, width),
              "mae_decoder/norm/gamma": (width,), "mae_decoder/norm/beta": (width,),
              "mae_decoder/prediction/kernel": (width, patch_dim),
              "mae_decoder/prediction/bias": (patch_dim,)}
    norms = ("query_norm", "context_norm", "mlp_norm") if kind == "cross" else ("attention_norm", "mlp_norm")
    for i in range(depth):
        shapes.update(_block(f"mae_decoder/block_{i}", width, 4 * width, num_heads,
                             width // num_heads, norms))
    return shapes


def sharded_elements(path, shape, model_size):
    """Elements of `path` held by one device under the LayoutMap rules."""
    matches = [axes for pattern, axes in RULES if re.fullmatch(pattern, path)]
    if len(matches) != 1:
        raise ValueError(f"{path} matches {len(matches)} layout rules, expected exactly 1")
    count = math.prod(shape)
    for dim, axis in zip(shape, matches[0]):
        if axis == MODEL_AXIS:
            if dim % model_size:
                raise ValueError(f"{path} dimension {dim} is not divisible by the model axis {model_size}")
            count //= model_size
    return count


COMPILERS = ("cpu", "tpu")


def plan(size, mesh, batch, num_frames=16, image_size=224, patch_size=(2, 16, 16),
         mask_ratio=0.95, decoder="standard", decoder_width=512, decoder_depth=4,
         decoder_heads=8, target_ratio=None, activation_bytes=2, parameter_bytes=4,
         compiler="cpu"):
    """Per-device bytes of parameters, gradients, AdamW state and activations, and the
    step's `total` / `total_remat` at its peak. `mesh` = (batch axis, model axis);
    `activation_bytes` 2 for bfloat16 activations, 4 for float32; `parameter_bytes` 2 for
    bfloat16 parameters (`FourDSEncoder(dtype="bfloat16")`: their gradients and AdamW
    moments are bfloat16 too), 4 for float32.

    `compiler` says how XLA keeps them (both measured in benchmarks/scale*.md):
    - "cpu": what the CPU compiler keeps. Every value in its activation dtype; q/k/v and
      the attention output in two layouts; logits next to probabilities. Its schedule
      keeps activations and gradients at once, so the total is their sum.
    - "tpu": what the TPU compiler keeps. Matmul operands in bfloat16 even in a float32
      step (TPU matmuls take bfloat16 at default precision); one layout; probabilities
      only. The backward frees a block's activations as it makes its gradients, so the
      peak is the larger of the two phases: the turn of the step (every activation) and
      its end (every gradient); the clip batch is held throughout.
    """
    if compiler not in COMPILERS:
        raise ValueError(f"compiler must be one of {COMPILERS}, got {compiler!r}")
    data_size, model_size = mesh
    if batch % data_size:
        raise ValueError(f"global batch {batch} is not divisible by the batch axis {data_size}")
    config = size_config(size)
    width, depth, mlp_dim, heads = (config[k] for k in ("width", "depth", "mlp_dim", "num_heads"))
    grid = (num_frames // patch_size[0], image_size // patch_size[1], image_size // patch_size[2])
    tokens = math.prod(grid)
    masked = num_masked(grid, mask_ratio)
    visible = tokens - masked
    targets = masked if target_ratio is None else max(1, round(target_ratio * masked))
    if target_ratio is None and decoder == "masked":
        targets = max(1, round(0.5 * masked))
    patch_dim = math.prod(patch_size) * 3
    enc = encoder_weights(width, depth, mlp_dim, heads, num_frames, (image_size,) * 2, patch_size)
    dec = decoder_weights(decoder, width, tokens, patch_dim, decoder_width, decoder_depth, decoder_heads)
    per_device = sum(sharded_elements(p, s, model_size) for p, s in {**enc, **dec}.items())
    b = batch // data_size
    act = activation_bytes

    def block_activations(n, d, m, h, queries=None):
        """Bytes saved for the backward pass by one pre-norm block over n tokens (q queries)."""
        q = n if queries is None else queries
        if compiler == "tpu":
            # Everything split over the model axis (the residual stream and norm outputs are
            # kept as shards and gathered again in the backward); GELU recomputed from its input.
            operand = min(act, 2)  # matmul inputs, as the TPU's matmuls take them
            kept = (act * 2 * q * d + operand * 2 * q * d  # residual in and mid; two norm outputs
                    + operand * ((q + 2 * n) * d + q * d)  # q/k/v and the attention output
                    + act * q * m + act * h * q * n)       # GELU input; probabilities
            return b * kept / model_size
        # CPU, calibrated on XLA's memory analysis of the compiled jax step (benchmarks/mae.md,
        # tools/plan_vs_xla.py): q/k/v and the attention output in two layouts (tokens-first
        # and heads-first), the logits next to the probabilities.
        replicated = 4 * q * d                       # residual in/out, two LayerNorm outputs
        sharded = (2 * (2 * n * d + 2 * q * d) + 2 * q * m) / model_size  # q/k/v + attention out
        # in two layouts, MLP pre/post GELU
        probs = 2 * h * q * n / model_size           # attention logits and probabilities
        return b * act * (replicated + sharded + probs)

    encoder_full = depth * block_activations(visible, width, mlp_dim, heads)
    if decoder == "cross":
        decoder_full = decoder_depth * block_activations(visible, decoder_width, 4 * decoder_width,
                                                         decoder_heads, queries=targets)
    else:
        decoder_full = decoder_depth * block_activations(visible + targets, decoder_width,
                                                         4 * decoder_width, decoder_heads)
    # Remat of encoder blocks: keep each block's input, recompute one block at a time.
    # (The TPU keeps each block input as model-axis shards too.)
    kept_input = b * act * visible * width / (model_size if compiler == "tpu" else 1)
    encoder_remat = depth * kept_input + block_activations(visible, width, mlp_dim, heads)
    # Pixels, float32 whatever the activations: the clip's tubelets (patchified input), the
    # norm-pix targets, the predictions and the loss gradient on them. Measured against
    # XLA (benchmarks/scale.md): without them the plan was 7-14% low for 4DS-B.
    pixels = b * 4 * patch_dim * (tokens + 3 * targets)
    parameters = parameter_bytes * per_device
    state, gradients = 3 * parameters, parameters  # parameters + AdamW's two moments
    activations = encoder_full + decoder_full + pixels
    activations_remat = encoder_remat + decoder_full + pixels
    if compiler == "tpu":
        clips = b * 4 * num_frames * image_size ** 2 * 3  # the float32 batch, held throughout
        total, total_remat = (state + clips + max(a, gradients) for a in (activations, activations_remat))
    else:
        total, total_remat = (state + gradients + a for a in (activations, activations_remat))
    return {"encoder_parameters": sum(math.prod(s) for s in enc.values()),
            "decoder_parameters": sum(math.prod(s) for s in dec.values()),
            "tokens": tokens, "visible": visible, "targets": targets, "per_device_batch": b,
            "parameters": parameters, "gradients": gradients, "optimizer": 2 * parameters,
            "activations": activations, "activations_remat": activations_remat,
            "total": total, "total_remat": total_remat}
