"""Checks of the data given to `fit`, `evaluate` and `predict`, run before Keras traces
its step function (inside it, values cannot be read, so `call` checks shapes only)."""
import inspect
import types

import keras
import numpy as np


def _inputs_of(element):
    """The model inputs of one data element: `x` of `(x, y)` or `(x, y, w)`, else itself."""
    if isinstance(element, tuple) and not hasattr(element, "_fields"):
        return element[0]
    return element


def _to_numpy(tree):
    return keras.tree.map_structure(
        lambda v: np.asarray(v) if hasattr(v, "__array__") and not isinstance(v, np.ndarray)
        else v, tree)


def _is_tf_dataset(data) -> bool:
    return type(data).__module__.startswith("tensorflow") and hasattr(data, "element_spec")


class _CheckedPyDataset(keras.utils.PyDataset):
    """A `PyDataset` whose batches are checked as they are read."""

    def __init__(self, inner, check):
        super().__init__(workers=inner.workers, use_multiprocessing=inner.use_multiprocessing,
                         max_queue_size=inner.max_queue_size)
        self.inner, self.check = inner, check

    def __len__(self):
        return len(self.inner)

    @property
    def num_batches(self):
        return self.inner.num_batches

    def __getitem__(self, index):
        element = self.inner[index]
        self.check(_to_numpy(_inputs_of(element)))
        return element

    def on_epoch_end(self):
        self.inner.on_epoch_end()


def _checked_generator(generator, check, failures):
    """`generator`'s elements until one fails `check`: its error goes to `failures` and
    the stream ends there (Keras then finishes cleanly and `CheckedInputs` raises it)."""
    for element in generator:
        try:
            check(_to_numpy(_inputs_of(element)))
        except Exception as error:
            failures.append(error)
            return
        yield element


def _checked_tf_dataset(dataset, check, failures):
    """`dataset` until an element's inputs fail `check` (run in `tf.numpy_function`): its
    error goes to `failures` and the dataset ends there, as `_checked_generator`."""
    import tensorflow as tf

    def passes(element):
        inputs = _inputs_of(element)

        def verify(*arrays):
            try:
                check(tf.nest.pack_sequence_as(inputs, list(arrays)))
            except Exception as error:
                failures.append(error)
                return False
            return True
        return tf.numpy_function(verify, tf.nest.flatten(inputs), tf.bool)

    def whole(parts):
        return parts[0] if len(parts) == 1 else parts

    flagged = dataset.map(lambda *parts: (passes(whole(parts)), whole(parts)))
    return flagged.take_while(lambda ok, element: ok).map(lambda ok, element: element)


def checked_data(data, check, failures):
    """`data` as Keras reads it, with `check(inputs)` run on every batch's model inputs:
    arrays (or dicts of them) are checked whole now; tf.data datasets, `PyDataset`s and
    generators batch by batch as they are read. Other data (e.g. a torch DataLoader) is
    passed on and checked by `call` for shapes only."""
    if data is None:
        return None
    if _is_tf_dataset(data):
        return _checked_tf_dataset(data, check, failures)
    if isinstance(data, keras.utils.PyDataset):
        return _CheckedPyDataset(data, check)
    if isinstance(data, types.GeneratorType):
        return _checked_generator(data, check, failures)
    if type(data).__module__.startswith("torch"):
        return data
    check(_inputs_of(data))
    return data


def _copied_values(model):
    """On jax, copies of every model, optimizer and metric variable's value, for a
    `PyDataset` stream: a failing batch raises inside Keras' jax loop, which holds (and
    donates) the values outside the variables, so they would be lost. Elsewhere `[]`."""
    if keras.backend.backend() != "jax":
        return []
    import jax.numpy as jnp

    variables = list(model.variables) + list(model.metrics_variables)
    if getattr(model, "optimizer", None) is not None and model.optimizer.built:
        variables += list(model.optimizer.variables)
    return [(variable, jnp.array(variable.value, copy=True)) for variable in variables]


def _restore_lost_values(kept):
    """Put back the kept value of every variable left unset (a failed `fit` keeps the
    weights it had before it began)."""
    for variable, value in kept:
        if variable._value is None:
            variable.assign(value)


class _StopOnFailure(keras.callbacks.Callback):
    """Ends `fit` after the epoch in which a checked stream ended on a bad batch."""

    def __init__(self, failures):
        super().__init__()
        self.failures = failures

    def on_epoch_end(self, epoch, logs=None):
        if self.failures:
            self.model.stop_training = True


class CheckedInputs:
    """Mixin for `keras.Model` subclasses: `fit`, `evaluate`, `predict` and the `*_on_batch`
    methods run `check_inputs(inputs)` (inputs of one batch, or of all of it) on their
    data before Keras traces the step, so a bad value range or NaN is an error on every
    entry path. A stream (tf.data, generator) ends at its first bad batch and the call
    then raises that batch's error, the model left as it was."""

    def check_inputs(self, inputs):
        raise NotImplementedError

    def _run_checked(self, method, *args, **kwargs):
        bound = inspect.signature(method).bind(*args, **kwargs)
        failures = []
        streams = []
        for name in ("x", "validation_data"):
            data = bound.arguments.get(name)
            if data is not None:
                streams.append(isinstance(data, keras.utils.PyDataset))
                bound.arguments[name] = checked_data(data, self.check_inputs, failures)
        if method.__name__ == "fit":
            bound.arguments["callbacks"] = [*(bound.arguments.get("callbacks") or []),
                                            _StopOnFailure(failures)]
        kept = _copied_values(self) if any(streams) else []
        try:
            result = method(*bound.args, **bound.kwargs)
        except Exception:
            _restore_lost_values(kept)
            if failures:
                raise failures[0] from None
            raise
        if failures:
            raise failures[0]
        return result

    def fit(self, *args, **kwargs):
        return self._run_checked(super().fit, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        if kwargs.get("_use_cached_eval_dataset"):  # fit's validation, checked already
            return super().evaluate(*args, **kwargs)
        return self._run_checked(super().evaluate, *args, **kwargs)

    def predict(self, *args, **kwargs):
        return self._run_checked(super().predict, *args, **kwargs)

    def predict_on_batch(self, x):
        self.check_inputs(x)
        return super().predict_on_batch(x)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        self.check_inputs(x)
        return super().test_on_batch(x, y, *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        self.check_inputs(x)
        return super().train_on_batch(x, y, *args, **kwargs)
