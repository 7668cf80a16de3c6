"""`pretrain`: MAE pretraining with `model.fit`, periodic Orbax checkpoints and resume."""
import itertools
import json
import os
import warnings

import keras
import numpy as np

from keras4ds.distribution.strategies import is_primary_process, same_on_every_process
from keras4ds.mae.checkpoint import TrainingCheckpointer
from keras4ds.mae.event_log import ScalarEventWriter
from keras4ds.mae.model import MaskedAutoencoder
from keras4ds.mae.optimizer import make_optimizer
from keras4ds.models.step_losses import StepLosses


class _StepLog(StepLosses):
    """Per-step loss appended to `csv_path` (columns step,loss, flushed every step), written
    as the scalar `train/loss` to `events` (a `ScalarEventWriter`) every `events_every`
    global steps, and checkpoints every `every` global steps and at the last step."""

    def __init__(self, start_step, steps, checkpointer=None, every=None, csv_path=None,
                 events=None, events_every=10):
        super().__init__(start_step)
        self.events, self.events_every = events, events_every
        self.steps = steps
        self.checkpointer, self.every = checkpointer, every
        self.csv_path = csv_path
        self.history = {"step": [], "loss": []}

    def on_train_begin(self, logs=None):
        if self.csv_path and not os.path.exists(self.csv_path):
            with open(self.csv_path, "w") as f:
                f.write("step,loss\n")

    def on_step(self, step, loss):
        self.history["step"].append(step)
        self.history["loss"].append(loss)
        if self.csv_path:
            with open(self.csv_path, "a") as f:
                f.write(f"{step},{loss:.6g}\n")
        if self.events is not None and step % self.events_every == 0:
            self.events.scalar("train/loss", loss, step)
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
    """What `fit` reads: the dataset from element `count` on (a callable `dataset` is asked
    for its batches from `count` on; anything else is skipped forward). Under a tf.distribute
    strategy a Python iterable becomes a tf.data dataset that restarts it on every
    iteration: Keras reads distributed data once before training, and its generator
    adapter then drops batches (checked: steps saw batches 0, 1, 5, 6 of 0..7)."""
    if callable(dataset):
        dataset, count = dataset(count), 0
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


def _batch_size(dataset):
    """The batch size of `dataset`'s first element, and `dataset` still reading from that
    element (a one-shot iterator gets it put back in front)."""
    iterator = iter(dataset.take(1) if hasattr(dataset, "take") else dataset)
    element = next(iterator, None)
    if element is None:
        raise ValueError("the pretraining dataset is empty: expected at least `steps` batches")
    if iterator is dataset:
        dataset = itertools.chain([element], iterator)
    element = element[0] if isinstance(element, tuple) else element
    return len(element["video"] if isinstance(element, dict) else element), dataset


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"run setting {value!r} ({type(value).__name__}) cannot be saved as JSON")


def run_settings(mae, batch_size, steps, learning_rate, warmup_steps, weight_decay, clipnorm,
                 data_settings=None):
    """The settings that define a pretraining run, as JSON values: the encoder's config
    (without its Keras name and `remat`, which changes memory, not the model), the MAE's,
    the dtype policy, the batch size, the optimizer's schedule and, under "data", the
    caller's `data_settings` (`pretrain` sees only batches: the data source and order seed
    are the caller's to name)."""
    encoder = {k: v for k, v in mae.encoder.get_config().items() if k not in ("name", "remat")}
    settings = {
        "encoder": encoder, "decoder": mae.decoder_kind, "decoder_width": mae.decoder.width,
        "decoder_depth": mae.decoder.depth, "decoder_heads": mae.decoder.num_heads,
        "mask_ratio": mae.mask_ratio, "target_ratio": mae.target_ratio,
        "norm_pix_loss": mae.norm_pix_loss, "tube_masking": mae.tube_masking, "seed": mae.seed,
        "dtype_policy": mae.dtype_policy.name, "batch_size": batch_size, "steps": steps,
        "learning_rate": learning_rate, "warmup_steps": warmup_steps,
        "weight_decay": weight_decay, "clipnorm": clipnorm, "data": dict(data_settings or {})}
    return json.loads(json.dumps(settings, default=_plain))


def _flat(settings, prefix=""):
    """Nested settings as `{"encoder.width": 16, ...}`."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def changed_settings(saved, now):
    """`{name: (saved, now)}` for each setting that differs. A larger `steps` is no change:
    resuming a run to go further is allowed (its cosine schedule is then recomputed over the
    new total, so the learning rate goes up from where the old schedule had taken it)."""
    saved, now = _flat(saved), _flat(now)
    changes = {}
    for name in sorted(saved.keys() | now.keys()):
        old, new = saved.get(name, "<not recorded>"), now.get(name, "<not recorded>")
        extends = name == "steps" and isinstance(old, int) and isinstance(new, int) and new > old
        if old != new and not extends:
            changes[name] = (old, new)
    return changes


def _allowed_names(allow, settings):
    """`allow_changed_settings` as a predicate on setting names; unknown names are an error."""
    if isinstance(allow, bool):
        return lambda name: allow
    allow = [allow] if isinstance(allow, str) else list(allow)
    names = _flat(settings)
    known = set(names) | {name.split(".")[0] for name in names}
    unknown = [name for name in allow if name not in known]
    if unknown:
        raise ValueError(f"allow_changed_settings names unknown settings {unknown}; "
                         f"expected some of {sorted(known)}")
    return lambda name: any(name == a or name.startswith(f"{a}.") for a in allow)


def _listed(changes):
    return "; ".join(f"{name}: {old!r} -> {new!r}" for name, (old, new) in changes.items())


def _check_settings(saved, now, allowed, source):
    """Refuse to resume from `source` when the run settings changed, unless `allowed`."""
    if saved is None:
        warnings.warn(f"{source} records no run settings (saved by an older keras4ds); "
                      "resuming without checking them", stacklevel=3)
        return
    changes = changed_settings(saved, now)
    refused = {name: change for name, change in changes.items() if not allowed(name)}
    if refused:
        raise ValueError(f"refusing to resume from {source}: the run settings changed "
                         f"(saved -> now: {_listed(refused)}); resume with the saved settings, "
                         "pass allow_changed_settings=True or a list of these names, or use "
                         "another checkpoint_dir")
    if changes:
        warnings.warn(f"resuming from {source} with changed settings: {_listed(changes)}",
                      stacklevel=3)


def _start_step(checkpointer, resume, mae, optimizer, allow_changed_settings):
    """The step training starts from: that of the checkpoint resumed, else 0; the same in
    every process of a multi-process job (a ValueError otherwise)."""
    return same_on_every_process(
        _resumed_step(checkpointer, resume, mae, optimizer, allow_changed_settings),
        "the step resumed from (every process must see the same checkpoint_dir, e.g. on a "
        "shared filesystem)")


def _resumed_step(checkpointer, resume, mae, optimizer, allow_changed_settings):
    if not resume:
        if checkpointer is not None and checkpointer.steps():
            raise ValueError(f"checkpoint_dir {checkpointer.directory} already holds checkpoints "
                             f"(steps {checkpointer.steps()}); pass resume=True to continue "
                             "from them, or use another folder")
        return 0
    if checkpointer is None:
        raise ValueError("resume=True needs a checkpoint_dir")
    allowed = _allowed_names(allow_changed_settings, checkpointer.settings)
    def check(step, meta):
        _check_settings(meta.get("settings"), checkpointer.settings, allowed,
                        checkpointer.step_path(step))
    found = checkpointer.read_latest(mae, optimizer, check_meta=check)
    if found is None:
        return 0
    step, contents = found
    check(step, contents["meta"])  # the step resumed may be older than the one checked first
    checkpointer.load(step, contents, mae, optimizer)
    return step


def pretrain(encoder, dataset, steps, *, mae=None, decoder="standard", mask_ratio=0.95,
             learning_rate=1.5e-4, warmup_steps=None, weight_decay=0.05, clipnorm=1.0,
             checkpoint_dir=None, checkpoint_every=100, keep_checkpoints=2, resume=False,
             async_checkpoints=False, allow_changed_settings=False, data_settings=None, seed=0,
             callbacks=(), verbose=1,
             csv_path=None, tensorboard_dir=None, tensorboard_every=10, **mae_kwargs):
    """Pretrain `encoder` (in place) as an MAE for `steps` optimizer steps.

    `dataset`: batches of video `(B, T, H, W, 3)` floats in [0, 1] (bare, or dicts with
    "video" and optional "mask"): a `tf.data.Dataset` or a Python iterable, yielding at
    least `steps` batches in a deterministic order (for `resume` to replay the same data,
    batch k must always be the same), or a function `step -> the batches from batch step
    on`, so a resumed run starts at its batch instead of reading the ones before.
    `mae`: a prebuilt `MaskedAutoencoder` around `encoder` (otherwise one is made from
    `decoder`, `mask_ratio`, `seed`, `**mae_kwargs`).
    With `checkpoint_dir`, the full training state is saved every `checkpoint_every` steps
    and at the end, with the run's settings (see `run_settings`); `resume=True` continues
    from the newest complete checkpoint there (half-written newer ones are skipped with a
    warning) and refuses, with a ValueError listing them, settings that differ from the
    saved ones, except a larger `steps` (see `changed_settings`).
    `data_settings`: what defines the batches, e.g. `{"source": path, "order_seed": 3}`,
    recorded with the settings (as "data.source", ...) and checked on resume alike.
    `allow_changed_settings`: True, or the names of the settings allowed to differ (e.g.
    `["learning_rate"]`, or "encoder" for all of `encoder.*`).
    Without `resume`, `checkpoint_dir` must hold no checkpoint. `async_checkpoints`: each
    save returns once the state is copied to host memory and is written in the background
    (`TrainingCheckpointer(asynchronous=True)`); the last one is complete when this returns.
    `csv_path`: per-step losses are appended there (rows after the resumed step may repeat
    lines of a killed run; the last line for a step is the one that counts).
    `tensorboard_dir`: the loss every `tensorboard_every` steps as TensorBoard scalars
    `train/loss` at the global step (`ScalarEventWriter`; needs the tensorboard package).
    In a multi-process JAX job only the first process writes the CSV and TensorBoard logs.

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
    checkpointer = None
    if checkpoint_dir:
        batch_size, first = _batch_size(dataset(0) if callable(dataset) else dataset)
        dataset = dataset if callable(dataset) else first
        settings = run_settings(mae, batch_size, steps, learning_rate, warmup_steps,
                                weight_decay, clipnorm, data_settings)
        checkpointer = TrainingCheckpointer(checkpoint_dir, keep_checkpoints, settings,
                                            asynchronous=async_checkpoints)
    start_step = _start_step(checkpointer, resume, mae, optimizer, allow_changed_settings)
    if tensorboard_every < 1:
        raise ValueError(f"tensorboard_every must be >= 1; got {tensorboard_every}")
    if not is_primary_process():
        csv_path = tensorboard_dir = None
    events = ScalarEventWriter(tensorboard_dir) if tensorboard_dir else None
    log = _StepLog(start_step, steps, checkpointer, checkpoint_every, csv_path, events,
                   tensorboard_every)
    remaining = steps - start_step
    try:
        if remaining > 0:
            mae.fit(_fit_data(dataset, start_step), epochs=1, steps_per_epoch=remaining,
                    callbacks=[log, *callbacks], verbose=verbose, shuffle=False)
    finally:
        if events is not None:
            events.close()
    if checkpointer is not None:
        checkpointer.close()
    return {"step": log.history["step"], "loss": [float(v) for v in np.asarray(log.history["loss"])]}
