"""`pretrain`: MAE pretraining with `model.fit`, periodic Orbax checkpoints and resume."""
import itertools
import os

import keras
import numpy as np

from keras4ds.mae.checkpoint import TrainingCheckpointer
from keras4ds.mae.model import MaskedAutoencoder
from keras4ds.mae.optimizer import make_optimizer


class _StepLog(keras.callbacks.Callback):
    """Per-step loss (Keras logs a running mean; the step value is recovered from it),
    appended to `csv_path` (columns step,loss, flushed every step) and checkpoints every
    `every` global steps and at the last step."""

    def __init__(self, start_step, steps, checkpointer=None, every=None, csv_path=None):
        super().__init__()
        self.start_step, self.steps = start_step, steps
        self.checkpointer, self.every = checkpointer, every
        self.csv_path = csv_path
        self.history = {"step": [], "loss": []}
        self._previous_mean = 0.0

    def on_train_begin(self, logs=None):
        if self.csv_path and not os.path.exists(self.csv_path):
            with open(self.csv_path, "w") as f:
                f.write("step,loss\n")

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        loss = (batch + 1) * mean - batch * self._previous_mean
        self._previous_mean = mean
        step = self.start_step + batch + 1
        self.history["step"].append(step)
        self.history["loss"].append(loss)
        if self.csv_path:
            with open(self.csv_path, "a") as f:
                f.write(f"{step},{loss:.6g}\n")
        if self.checkpointer is not None and (step % self.every == 0 or step == self.steps):
            self.checkpointer.save(step, self.model, self.model.optimizer)


def _video_only(element):
    if isinstance(element, dict):
        return {k: element[k] for k in ("video", "mask") if k in element}
    return element


def _generator_elements(iterable, count):
    """A Python iterable's elements from `count` on, as the tuples Keras wants from a
    generator: `(x,)`."""
    for element in itertools.islice(iterable, count, None):
        yield element if isinstance(element, tuple) else (_video_only(element),)


def _under_tf_strategy():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy()


def _fit_data(dataset, count):
    """What `fit` reads: the dataset from element `count` on. Under a tf.distribute
    strategy a Python iterable becomes a tf.data dataset that restarts it on every
    iteration: Keras reads distributed data once before training, and its generator
    adapter then drops batches (checked: steps saw batches 0, 1, 5, 6 of 0..7)."""
    if hasattr(dataset, "skip"):
        return dataset.skip(count).map(_video_only)
    if not _under_tf_strategy():
        return _generator_elements(dataset, count)
    if iter(dataset) is dataset:
        raise ValueError(
            "under a tf.distribute strategy pretrain needs a tf.data.Dataset or a sequence it "
            f"can iterate again (e.g. a list of batches), got the one-shot iterator "
            f"{type(dataset).__name__}: Keras reads distributed data once before training, "
            "and the batches it took would be lost")
    import tensorflow as tf

    first = next(_generator_elements(dataset, count))
    signature = tf.nest.map_structure(
        lambda a: tf.TensorSpec((None, *np.shape(a)[1:]), tf.as_dtype(np.asarray(a).dtype)), first)
    return tf.data.Dataset.from_generator(lambda: _generator_elements(dataset, count),
                                          output_signature=signature)


def pretrain(encoder, dataset, steps, *, mae=None, decoder="standard", mask_ratio=0.95,
             learning_rate=1.5e-4, warmup_steps=None, weight_decay=0.05, clipnorm=1.0,
             checkpoint_dir=None, checkpoint_every=100, keep_checkpoints=2, resume=False,
             seed=0, callbacks=(), verbose=1, csv_path=None, **mae_kwargs):
    """Pretrain `encoder` (in place) as an MAE for `steps` optimizer steps.

    `dataset`: batches of video `(B, T, H, W, 3)` floats in [0, 1] (bare, or dicts with
    "video" and optional "mask"): a `tf.data.Dataset` or a Python iterable, yielding at
    least `steps` batches in a deterministic order (for `resume` to replay the same data,
    batch k must always be the same). `mae`: a prebuilt `MaskedAutoencoder` around
    `encoder` (otherwise one is made from `decoder`, `mask_ratio`, `seed`, `**mae_kwargs`).
    With `checkpoint_dir`, the full training state is saved every `checkpoint_every` steps
    and at the end; `resume=True` continues from the newest complete checkpoint there.
    `csv_path`: per-step losses are appended there (rows after the resumed step may repeat
    lines of a killed run; the last line for a step is the one that counts).

    Returns the history `{"step": [...], "loss": [...]}` of the steps run by this call.
    """
    if mae is None:
        mae = MaskedAutoencoder(encoder, decoder=decoder, mask_ratio=mask_ratio, seed=seed,
                                **mae_kwargs)
    elif mae.encoder is not encoder:
        raise ValueError("`mae.encoder` must be the `encoder` being pretrained")
    optimizer = make_optimizer(learning_rate, steps, warmup_steps, weight_decay, clipnorm)
    mae.compile(optimizer=optimizer)
    optimizer.build(mae.trainable_variables)
    checkpointer = TrainingCheckpointer(checkpoint_dir, keep_checkpoints) if checkpoint_dir else None
    start_step = 0
    if resume:
        if checkpointer is None:
            raise ValueError("resume=True needs a checkpoint_dir")
        if checkpointer.latest_step() is not None:
            start_step = checkpointer.restore(mae, optimizer)
    log = _StepLog(start_step, steps, checkpointer, checkpoint_every, csv_path)
    remaining = steps - start_step
    if remaining > 0:
        mae.fit(_fit_data(dataset, start_step), epochs=1, steps_per_epoch=remaining,
                callbacks=[log, *callbacks], verbose=verbose, shuffle=False)
    if checkpointer is not None:
        checkpointer.close()
    return {"step": log.history["step"], "loss": [float(v) for v in np.asarray(log.history["loss"])]}
