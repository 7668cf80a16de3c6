"""`make_probe` and `train_probe`: train one readout on clips and score it against its
trivial baseline; `TwoRateAdam`, the optimizer of fine-tuning."""
import time

import keras
import numpy as np

from keras4ds.models.step_losses import StepLosses
from keras4ds.readouts.batches import check_task, clip_count, probe_batch
from keras4ds.readouts.boxes import BoxTrackingProbe
from keras4ds.readouts.classify import ClassificationProbe, clip_windows
from keras4ds.readouts.depth import DepthProbe
from keras4ds.readouts.evaluate import baseline_predictions, bootstrap_spread, task_metrics
from keras4ds.readouts.features import cache_features, compute_features
from keras4ds.readouts.points import PointTrackingProbe
from keras4ds.readouts.pose import PoseProbe
from keras4ds.readouts.template_points import TemplatePointProbe

PROBES = {"depth": DepthProbe, "pose": PoseProbe, "points": TemplatePointProbe,
          "boxes": BoxTrackingProbe, "classify": ClassificationProbe}
POINT_HEADS = {"template": TemplatePointProbe, "attention": PointTrackingProbe}


def make_probe(task, encoder, frozen=True, readout_index=None, num_params=128, num_heads=4,
               num_classes=None, **kwargs):
    """The probe class of `task` on `encoder`. For 'points', `head='template'` (default:
    `TemplatePointProbe`) or 'attention' (`PointTrackingProbe`)."""
    check_task(task)
    probe_class = PROBES[task]
    if task == "classify":
        if not num_classes:
            raise ValueError("task 'classify' needs num_classes")
        kwargs["num_classes"] = num_classes
    if task == "points":
        head = kwargs.pop("head", "template")
        if head not in POINT_HEADS:
            raise ValueError(f"points head must be one of {tuple(POINT_HEADS)}; got {head!r}")
        probe_class = POINT_HEADS[head]
    return probe_class(encoder, frozen=frozen, readout_index=readout_index,
                       num_params=num_params, num_heads=num_heads, **kwargs)


@keras.saving.register_keras_serializable("keras4ds")
class TwoRateAdam(keras.optimizers.Adam):
    """Adam whose updates of `encoder_variables` use `encoder_learning_rate` (a fixed
    multiple of `learning_rate`: `encoder_learning_rate / learning_rate` for schedules).

    Variables are matched by their index in the optimizer's variable list, which works
    on jax, tensorflow and torch (this subclass runs the generic per-variable update).
    Decoupled weight decay is not offered: Keras applies it outside `update_step`, at
    the base learning rate, so it would leak into the encoder.
    """

    def __init__(self, learning_rate, encoder_learning_rate, encoder_variables=(), **kwargs):
        if kwargs.get("weight_decay"):
            raise ValueError("TwoRateAdam does not support weight_decay (see its docstring)")
        super().__init__(learning_rate=learning_rate, **kwargs)
        base = float(learning_rate) if isinstance(learning_rate, (int, float)) else None
        if base is None or base <= 0:
            raise ValueError("TwoRateAdam needs a positive float learning_rate")
        self.encoder_learning_rate = float(encoder_learning_rate)
        self.encoder_ratio = self.encoder_learning_rate / base
        self._encoder_ids = {id(v) for v in encoder_variables}
        self._encoder_indices = set()

    def build(self, var_list):
        super().build(var_list)
        self._encoder_indices = {self._get_variable_index(v) for v in var_list
                                 if id(v) in self._encoder_ids}

    def update_step(self, gradient, variable, learning_rate):
        if self._get_variable_index(variable) in self._encoder_indices:
            learning_rate = learning_rate * self.encoder_ratio
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "encoder_learning_rate": self.encoder_learning_rate}



def _as_clips(clips, name):
    """A dict of stacked clip arrays as it is; a list or tf.data dataset as a list."""
    if hasattr(clips, "as_numpy_iterator"):
        clips = list(clips.as_numpy_iterator())
    if not isinstance(clips, dict):
        clips = list(clips)
    if not clip_count(clips):
        raise ValueError(f"{name} is empty")
    return clips


def _batches(inputs, targets, batch_size, seed):
    """Endless shuffled `(inputs, targets)` numpy batches."""
    count = len(next(iter(inputs.values())))
    rng = np.random.default_rng(seed)
    while True:
        for start in range(0, count - batch_size + 1, batch_size):
            if start == 0:
                order = rng.permutation(count)
            idx = order[start:start + batch_size]
            yield ({k: v[idx] for k, v in inputs.items()}, {k: v[idx] for k, v in targets.items()})


class _Batches(keras.utils.PyDataset):
    """A keras PyDataset over the endless batch generator (works on every backend)."""

    def __init__(self, generator, length):
        super().__init__()
        self.generator, self.length = generator, length

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        return next(self.generator)


def _loss(probe, inputs, targets, batch_size, predictions=None):
    """The probe's task loss over all of `inputs` (predicted now unless given)."""
    if predictions is None:
        predictions = probe.predict(inputs, batch_size=batch_size, verbose=0)
    predictions = keras.tree.map_structure(keras.ops.convert_to_tensor, predictions)
    return float(keras.ops.convert_to_numpy(probe.compute_loss(y=targets, y_pred=predictions)))


def _frozen_features(encoder, videos, indices, feature_cache, verbose):
    """Encoder states `(B, N, C)` of `videos` `(B, T, H, W, 3)`, through `feature_cache`
    (a directory, see `readouts.features`) when given."""
    if feature_cache is None:
        return compute_features(encoder, videos, indices, progress=bool(verbose))
    return cache_features(feature_cache, encoder, videos, indices)


def _multi_clip_scores(probe, windows, feature_cache, batch_size, verbose):
    """Mean softmax `(B, C)` of `probe` over the V windows `(B, V, T, H, W, 3)` of each video."""
    if not probe.frozen:
        return probe.predict_clips({"video": windows}, batch_size)
    b, v = windows.shape[:2]
    features = _frozen_features(probe.encoder, windows.reshape(b * v, *windows.shape[2:]),
                                probe.readout_index, feature_cache, verbose)
    return probe.predict_clips({"features": features.reshape(b, v, *features.shape[1:])},
                               batch_size)


def _check_readout(readout, task, encoder, steps):
    """A given trained readout, checked against the call: same task, same encoder shape."""
    if steps:
        raise ValueError(f"a given readout is scored, not trained: pass steps=0, got {steps}")
    if readout.task != task:
        raise ValueError(f"readout is a {readout.task} readout, not a {task} one")
    got = (readout.encoder.width, readout.encoder.depth, readout.encoder.input_video_shape)
    want = (encoder.width, encoder.depth, encoder.input_video_shape)
    if got != want:
        raise ValueError(f"readout's encoder (width, depth, input) {got} differs from the "
                         f"encoder given {want}")
    return readout


def train_probe(task, encoder, train_clips, eval_clips, steps, batch_size, learning_rate,
                frozen=True, seed=0, readout_index=None, num_params=128, num_heads=4,
                num_queries=32, encoder_learning_rate=None, num_classes=None,
                probe_kwargs=None, num_logs=20, verbose=0, return_probe=False,
                eval_loss=False, feature_cache=None, test_clips=None, bootstrap=None,
                readout=None):
    """Train a `task` readout on `encoder` and score it on `eval_clips`.

    Args:
      task: 'depth', 'pose', 'points', 'boxes' or 'classify' (clips need a "label").
      encoder: a `FourDSEncoder` whose input shape matches the clips.
      train_clips, eval_clips: lists of `generate_clip` dicts (or tf.data datasets of them),
        or dicts of those keys' arrays stacked on a leading clip axis.
      steps, batch_size, learning_rate: Adam training of the head.
      frozen: True: encoder features are computed once and the head trains on them (the
        encoder is untouched); False: fine-tune the encoder too, at `encoder_learning_rate`
        (default: `learning_rate`).
      feature_cache: a directory (frozen only): the features of the train and eval clips
        are read from it, or computed once and written there (`readouts.features`; keyed by
        the encoder's weights, the videos and the readout index, so nothing stale is
        reused).
      test_clips: 'classify' only: eval clips may be longer than the encoder's
        `num_frames` T; each is scored by the mean softmax over `test_clips` evenly spaced
        windows of T frames (`clip_windows`) as "multi_clip_metrics", while "metrics"
        scores the first window alone.
      readout_index: hidden state(s) read (None = the official 0.95 state).
      num_queries: query points per clip for 'points'.
      probe_kwargs: extra arguments of the probe class (e.g. head='dpt' for depth,
        head='attention' for points).
      bootstrap: a number of resamples: also return "spread" and "baseline_spread", the
        half-widths of bootstrap intervals over the eval clips of every metric of the probe
        and of the trivial answer (`evaluate.bootstrap_spread`; resampled alike for both).
      eval_loss: also score the task loss on the eval clips before and after training
        (one more pass over them), returned as "eval_loss" {"untrained", "trained"}.
      readout: a trained probe of `task` on `encoder` (e.g. from `load_readout`) to score
        instead of training one: nothing is trained (`steps` must be 0), the rest is the
        same, so a saved readout gives back the metrics it was saved with.

    Returns:
      dict: "metrics" and "baseline" (the task's metrics of the probe and of the trivial
      answer on eval_clips), "pixel_decoder_r2" (template points head: its decoder's R^2
      on the training tokens), "loss_history" (mean training loss over each of `num_logs`
      equal chunks of the steps) with "loss_steps" (the step each chunk ends at),
      "train_seconds", "step_seconds" (median seconds of a train step after the first,
      which compiles; None below 2 steps), "task", "frozen", "readout_index", "steps",
      "hand_made_paths" (`Probe.hand_made_paths`: empty for a head that reads features
      only); with `test_clips` also "test_clips" and
      "multi_clip_metrics" ("top1", "top5" as in "metrics"); with `return_probe` also
      "probe", "eval_inputs", "eval_targets" (numpy dicts, eval videos cut to their first
      window) and "predictions" on them, and with `test_clips` "multi_clip_scores" `(B, C)`.
    """
    check_task(task)
    if feature_cache is not None and not frozen:
        raise ValueError("feature_cache needs a frozen encoder: fine-tuning changes the "
                         "features at every step; pass frozen=True or feature_cache=None")
    if test_clips is not None and task != "classify":
        raise ValueError(f"test_clips (multi-clip testing) is for task 'classify'; got {task!r}")
    keras.utils.set_random_seed(seed)
    train_clips = _as_clips(train_clips, "train_clips")
    eval_clips = _as_clips(eval_clips, "eval_clips")
    train_x, train_y = probe_batch(task, train_clips, num_queries, seed)
    eval_x, eval_y = probe_batch(task, eval_clips, num_queries, seed + 1)
    if task == "classify" and num_classes is None:
        num_classes = int(max(train_y["label"].max(), eval_y["label"].max())) + 1
    frames = eval_x["video"].shape[1]
    if test_clips is not None:
        eval_windows = clip_windows(eval_x["video"], encoder.num_frames, test_clips)
        eval_x = {**eval_x, "video": eval_windows[:, 0]}
    elif frames != encoder.num_frames:
        raise ValueError(f"eval clips have {frames} frames, the encoder takes "
                         f"{encoder.num_frames}" + ("; pass test_clips to average over windows"
                                                   if task == "classify" else ""))
    if readout is None:
        probe = make_probe(task, encoder, frozen, readout_index, num_params, num_heads,
                           num_classes, **(probe_kwargs or {}))
    else:
        probe = _check_readout(readout, task, encoder, steps)
        frozen, encoder = probe.frozen, probe.encoder  # its own weights make the features
    fit_train_x, fit_eval_x = dict(train_x), dict(eval_x)
    if frozen:
        for fit_x in (fit_train_x, fit_eval_x):
            fit_x["features"] = _frozen_features(encoder, fit_x.pop("video"), probe.readout_index,
                                                 feature_cache, verbose)
        optimizer = keras.optimizers.Adam(learning_rate)
    else:
        rate = learning_rate if encoder_learning_rate is None else encoder_learning_rate
        optimizer = TwoRateAdam(learning_rate, rate, encoder.trainable_variables)
    extra = {}
    if hasattr(probe, "fit_pixel_decoder"):
        features = (fit_train_x["features"] if frozen else
                    compute_features(encoder, train_x["video"], probe.readout_index))
        extra["pixel_decoder_r2"] = probe.fit_pixel_decoder(features, train_x["video"])
    probe.compile(optimizer)
    batch_size = min(batch_size, clip_count(train_clips))
    if eval_loss:
        extra["eval_loss"] = {"untrained": _loss(probe, fit_eval_x, eval_y, batch_size)}
    data = _Batches(_batches(fit_train_x, train_y, batch_size, seed), steps)
    step_losses = StepLosses()
    start = time.perf_counter()
    if steps:
        probe.fit(data, epochs=1, verbose=verbose, callbacks=[step_losses])
    train_seconds = time.perf_counter() - start
    chunks = np.array_split(np.array(step_losses.losses), max(1, min(num_logs, steps)))
    predictions = probe.predict(fit_eval_x, batch_size=batch_size, verbose=0)
    if eval_loss:
        extra["eval_loss"]["trained"] = _loss(probe, fit_eval_x, eval_y, batch_size, predictions)
    baseline = baseline_predictions(task, eval_x, eval_y, train_y)
    if bootstrap:
        extra["spread"] = bootstrap_spread(task, eval_x, eval_y, predictions, bootstrap, seed=seed)
        extra["baseline_spread"] = bootstrap_spread(task, eval_x, eval_y, baseline, bootstrap,
                                                    seed=seed)
    result = {
        "task": task, "frozen": bool(frozen), "readout_index": list(probe.readout_index),
        "steps": steps, "hand_made_paths": probe.hand_made_paths(),
        "metrics": task_metrics(task, eval_x, eval_y, predictions),
        "baseline": task_metrics(task, eval_x, eval_y, baseline),
        "loss_history": [float(c.mean()) for c in chunks if len(c)],
        "loss_steps": [int(v) for v in np.cumsum([len(c) for c in chunks]) if v],
        "train_seconds": train_seconds, "step_seconds": step_losses.step_seconds(), **extra,
    }
    if test_clips is not None:
        scores = _multi_clip_scores(probe, eval_windows, feature_cache, batch_size, verbose)
        result.update(test_clips=test_clips,
                      multi_clip_metrics=task_metrics(task, eval_x, eval_y, scores))
    if return_probe:
        result.update(probe=probe, eval_inputs=eval_x, eval_targets=eval_y,
                      predictions=predictions)
        if test_clips is not None:
            result["multi_clip_scores"] = scores
    return result
