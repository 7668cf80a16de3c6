"""LayoutMaps that shard every 4DS encoder and MAE decoder weight over a "model" mesh axis.

Attention heads and MLP hidden units go on "model" (Megatron-style: q/k/v and dense_in
split their outputs, out and dense_out their inputs); embeddings are split along the
width; norms, output biases and the pixel prediction head are replicated. Weights are
never sharded on the "batch" axis.
"""
import keras

MODEL_AXIS = "model"
BATCH_AXIS = "batch"

# (regex that must match the whole variable path, as Keras' LayoutMap uses re.fullmatch;
# axes per dimension). Each weight path matches exactly one rule.
RULES = (
    (r"(.*/)?attention/(query|key|value)/kernel", (None, MODEL_AXIS, None)),
    (r"(.*/)?attention/(query|key|value)/bias", (MODEL_AXIS, None)),
    (r"(.*/)?attention/out/kernel", (MODEL_AXIS, None, None)),
    (r"(.*/)?mlp/dense_in/kernel", (None, MODEL_AXIS)),
    (r"(.*/)?mlp/dense_in/bias", (MODEL_AXIS,)),
    (r"(.*/)?mlp/dense_out/kernel", (MODEL_AXIS, None)),
    (r"(.*/)?(attention/out|mlp/dense_out|prediction)/bias", (None,)),
    (r"(.*/)?(gamma|beta)", (None,)),
    (r"(.*/)?tubelet_embedding/kernel", (None, None, None, None, MODEL_AXIS)),
    (r"(.*/)?tubelet_embedding/bias", (MODEL_AXIS,)),
    (r"(.*/)?position_embedding/embeddings", (None, None, None, MODEL_AXIS)),
    (r"(.*/)?mae_decoder/position_embedding", (None, MODEL_AXIS)),
    (r"(.*/)?mae_decoder/mask_token", (MODEL_AXIS,)),
    (r"(.*/)?mae_decoder/input_projection/kernel", (None, MODEL_AXIS)),
    (r"(.*/)?mae_decoder/input_projection/bias", (MODEL_AXIS,)),
    (r"(.*/)?mae_decoder/prediction/kernel", (None, None)),
)


def layout_map(device_mesh):
    """`keras.distribution.LayoutMap` for a mesh with axes ("batch", "model")."""
    if MODEL_AXIS not in device_mesh.axis_names:
        raise ValueError(f"the device mesh needs an axis named {MODEL_AXIS!r}, got "
                         f"{device_mesh.axis_names}")
    layouts = keras.distribution.LayoutMap(device_mesh)
    for pattern, axes in RULES:
        layouts[pattern] = axes
    return layouts


def matching_rules(path):
    """The RULES patterns that match a variable path (exactly one for every weight we ship)."""
    import re

    return [pattern for pattern, _ in RULES if re.fullmatch(pattern, path)]


def model_axis_size() -> int:
    """Devices on the "model" axis of the distribution in effect (1 without one, or
    without a "model" axis): what every sharded head count must be a multiple of."""
    distribution = keras.distribution.distribution()
    mesh = getattr(distribution, "device_mesh", None)
    if mesh is None or MODEL_AXIS not in mesh.axis_names:
        return 1
    return int(mesh.shape[list(mesh.axis_names).index(MODEL_AXIS)])


def fitting_heads(width: int, heads: int, model_axis: int) -> int:
    """The fewest attention heads, at least `heads`, that a `model_axis`-way model axis
    splits and that divide `width` (e.g. 8 heads stay 8 on 1, 2, 4 or 8 devices and become
    16 narrower heads of the same width on 16). ValueError if there are none."""
    for count in range(heads, width + 1):
        if count % model_axis == 0 and width % count == 0:
            return count
    raise ValueError(f"no head count >= {heads} divides width {width} and splits over a "
                     f"model axis of {model_axis}")
