"""Child process (8 fake CPU devices, JAX): loss and gradients of single-device,
data-parallel and 2x4 model-parallel MAE steps, and the sharding of every weight.
Prints one JSON line."""
import os

os.environ["XLA_FLAGS"] = " ".join(filter(None, [os.environ.get("XLA_FLAGS"),
                                                   "--xla_force_host_platform_device_count=8"]))
os.environ["KERAS_BACKEND"] = "jax"

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mae"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def build(decoder, distribution, weights=None):
    import keras
    from helpers import tiny_encoder, tiny_mae

    scope = distribution.scope() if distribution is not None else _null()
    with scope:
        encoder = tiny_encoder(width=32, depth=1, heads=4)
        mae = tiny_mae(encoder=encoder, decoder=decoder, seed=1,
                       decoder_heads=4)
    if weights is not None:
        for v, w in zip(mae.variables, weights):
            v.assign(w)
    keras.distribution.set_distribution(None)
    return mae


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def loss_and_grads(mae, video, mask, distribution):
    import jax
    import keras

    trainable = [v.value for v in mae.trainable_variables]
    non_trainable = [v.value for v in mae.non_trainable_variables]
    if distribution is not None:
        layout = distribution.get_data_layout(video.shape)
        video = keras.distribution.distribute_tensor(video, layout)
        mask = keras.distribution.distribute_tensor(mask, distribution.get_data_layout(mask.shape))

    def loss_fn(trainable, video, mask):
        (prediction, target), _ = mae.stateless_call(trainable, non_trainable,
                                                     {"video": video, "mask": mask})
        return keras.ops.mean((prediction - target) ** 2)

    loss, grads = jax.jit(jax.value_and_grad(loss_fn))(trainable, video, mask)
    return float(loss), [np.asarray(g) for g in grads]


def compare(decoder):
    import jax
    import keras

    from keras4ds.distribution import data_parallel, layout_map, matching_rules, model_parallel

    keras.utils.set_random_seed(0)
    single = build(decoder, None)
    weights = [keras.ops.convert_to_numpy(v) for v in single.variables]
    video = np.random.default_rng(0).random((8, 4, 16, 16, 3)).astype("float32")
    mask = single.sample_mask(8, seed=4)
    out = {"devices": len(jax.devices())}
    ref_loss, ref_grads = loss_and_grads(single, video, mask, None)
    out["single"] = ref_loss
    for name, distribution in (("data", data_parallel()), ("model", model_parallel((2, 4)))):
        mae = build(decoder, distribution, weights)
        loss, grads = loss_and_grads(mae, video, mask, distribution)
        out[name] = loss
        # Largest gradient difference relative to the largest gradient (some gradients, e.g.
        # of attention key biases, are exactly zero in theory and only rounding noise).
        out[name + "_max_grad_rel"] = (max(float(np.max(np.abs(g - r))) for g, r in zip(grads, ref_grads))
                                       / max(float(np.max(np.abs(r))) for r in ref_grads))
        if name == "model":
            layouts = layout_map(distribution.device_mesh)
            mismatched, unmatched, sharded = [], [], 0
            for v in mae.trainable_variables:
                if len(matching_rules(v.path)) != 1:
                    unmatched.append(v.path)
                    continue
                expected = tuple(layouts[v.path].axes)
                actual = tuple(v.value.sharding.spec) + (None,) * (len(v.shape) - len(v.value.sharding.spec))
                sharded += any(a is not None for a in actual)
                if actual != expected:
                    mismatched.append((v.path, expected, actual))
            out.update(unmatched=unmatched, mismatched=[str(m) for m in mismatched], sharded=sharded,
                       num_weights=len(mae.trainable_variables))
    return out


def main():
    print("RESULT " + json.dumps({kind: compare(kind) for kind in ("standard", "cross")}))


if __name__ == "__main__":
    main()
