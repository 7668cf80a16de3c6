"""Child process (TensorFlow, 2 logical CPU devices): one MAE training step under
`tf.distribute.MirroredStrategy` vs one single-device step on the same global batch.
Prints one JSON line."""
import os

os.environ["KERAS_BACKEND"] = "tensorflow"

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def build(weights=None):
    import keras

    from keras4ds.mae import MaskedAutoencoder
    from keras4ds.models import FourDSEncoder

    keras.utils.set_random_seed(0)
    encoder = FourDSEncoder(32, 1, 64, 2, num_frames=4, image_size=(16, 16), patch_size=(2, 4, 4))
    mae = MaskedAutoencoder(encoder, mask_ratio=0.75, decoder_width=16, decoder_depth=1,
                            decoder_heads=2, seed=1)
    if weights is not None:
        for v, w in zip(mae.variables, weights):
            v.assign(w)
    # Plain SGD: the update is proportional to the gradient, so a wrong replica scaling of
    # the loss shows (AdamW would hide it). No global-norm clipping under MirroredStrategy:
    # Keras clips each replica's gradients before the all-reduce (and fails on 2 replicas).
    mae.compile(optimizer=keras.optimizers.SGD(0.5))
    return mae


def one_step(mae, batch):
    history = mae.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    return float(history.history["loss"][0]), [np.array(v.numpy()) for v in mae.trainable_variables]


def main():
    import keras

    from keras4ds.distribution import mirrored_strategy

    video = np.random.default_rng(0).random((4, 4, 16, 16, 3)).astype("float32")
    out = {"devices": len(tf.config.list_logical_devices("CPU"))}
    single = build()
    # int32 0/1: Keras reduces a first distributed batch with MEAN, which fails on bool.
    batch = {"video": video, "mask": single.sample_mask(4, seed=2).astype("int32")}
    start = [keras.ops.convert_to_numpy(v) for v in single.variables]
    start_trainable = [keras.ops.convert_to_numpy(v) for v in single.trainable_variables]
    loss0, weights0 = one_step(single, batch)
    strategy = mirrored_strategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = build(start)
    loss1, weights1 = one_step(mirrored, batch)
    deltas = [np.abs(w0 - s).max() for w0, s in zip(weights0, start_trainable)]
    errors = [np.abs(w1 - w0).max() for w0, w1 in zip(weights0, weights1)]
    out["sgd"] = {"replicas": strategy.num_replicas_in_sync, "single_loss": loss0,
                  "mirrored_loss": loss1, "max_update": float(max(deltas)),
                  "max_weight_error": float(max(errors))}
    out["pretrain"] = pretrain_runs(start, strategy)
    print("RESULT " + json.dumps(out))


def pretrain_runs(start, strategy):
    """`pretrain` on a list of 3 different batches, single-device and mirrored, from the
    same weights: per-step losses of both, and the error of a one-shot iterator."""
    from keras4ds.mae import pretrain

    rng = np.random.default_rng(3)
    batches = [{"video": rng.random((4, 4, 16, 16, 3)).astype("float32"),
                "mask": build().sample_mask(4, seed=10 + i).astype("int32")} for i in range(3)]

    def run(data):
        mae = build(start)
        return pretrain(mae.encoder, data, 3, mae=mae, clipnorm=None, verbose=0)["loss"]

    # Without a mask the model draws one per row from its seed state in the step.
    unmasked = [{"video": b["video"]} for b in batches]
    single, single_drawn = run(batches), run(unmasked)
    with strategy.scope():
        mirrored, mirrored_drawn = run(batches), run(unmasked)
        try:
            run(iter(batches))
            error = None
        except ValueError as e:
            error = str(e)
    return {"single": single, "mirrored": mirrored, "one_shot_error": error,
            "single_drawn_masks": single_drawn, "mirrored_drawn_masks": mirrored_drawn}


if __name__ == "__main__":
    main()
