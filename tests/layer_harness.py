"""A small keras-hub-style harness: the checks every keras4ds layer and model goes through.

A `LayerCase` names a layer class, its init kwargs and one batch of inputs (an array, or a
dict of the call's named arguments); a `ModelCase` names a factory of a model, its inputs
and, for `fit`, its targets. The `run_*` functions are the checks:

- `run_call_test`: eager call, symbolic call (batch `None`), `compute_output_shape`;
- `run_serialization_test`: `get_config` -> `from_config` and `serialize_keras_object` ->
  JSON -> `deserialize_keras_object` give the same config, and the same outputs once the
  variables are copied;
- `run_training_test`: `compile` + `fit` one batch moves the trainable weights and
  leaves the non-trainable ones;
- `run_precision_test`: under the global policies `mixed_float16`, `mixed_bfloat16` and
  `bfloat16`, float outputs are in the compute dtype and float variables in the variable
  dtype (the global policy is restored afterwards);
- `run_quantization_test`: `quantize("int8")` turns the Dense/EinsumDense sublayers to
  int8, outputs stay near the float ones; `run_quantized_saving_test`: then save `.keras`,
  load: same outputs;
- `run_saving_test`: `save(.keras)` -> `keras.saving.load_model` -> same outputs;
- `run_export_test`: `export(format="tf_saved_model")` -> `tf.saved_model.load` -> same
  outputs (slow: for a model, where the backend supports it).

Layers are saved inside `LayerModel`, a one-layer model. `LayerTest` and `ModelTest` turn a
case into pytest tests; `known_failures` maps a check to the reason it fails today, and
such a check must keep failing (it is reported as xfail) until it is fixed.
"""
import contextlib
import dataclasses
import json
import os
from typing import Any, Callable

import keras
import numpy as np
import pytest
from keras import ops

POLICIES = ("mixed_float16", "mixed_bfloat16", "bfloat16")
QUANTIZABLE = (keras.layers.Dense, keras.layers.EinsumDense)
# The known failure of `run_quantized_saving_test` for layers whose Dense sublayers are not
# in their config: a loaded copy makes them again under the global (float) policy.
SUBLAYERS_LOSE_INT8 = ("the Dense sublayers are not in the layer's config, so a loaded copy "
                       "makes them float and the saved int8 variables do not load")


@dataclasses.dataclass
class LayerCase:
    """cls(**init_kwargs) called on `inputs`.

    inputs: a numpy array, or a dict of the call's named arguments (arrays, or lists of
      arrays). expected_output_shape: the output shape, or None to skip that assertion.
    build: positional arguments of `layer.build` before the first call, for layers whose
      `build` does not take the call's input shapes. atol: tolerance of the output
      comparisons (copies of one layer on one backend agree exactly in practice).
    """
    cls: type
    init_kwargs: dict
    inputs: Any
    expected_output_shape: Any = None
    build: tuple = None
    atol: float = 1e-6

    def make(self, **overrides):
        layer = self.cls(**{**self.init_kwargs, **overrides})
        if self.build is not None:
            layer.build(*self.build)
        return layer


@dataclasses.dataclass
class ModelCase:
    """make() builds the model; model(inputs) is its output.

    targets: what `fit` takes as y (None for models whose `compute_loss` needs none).
    compile_kwargs: for `compile` (default: Adam(1e-2) and, with targets, an mse loss).
    train_steps: batches `fit` runs before weights are compared (a zero-initialised head
      passes gradients on to the layers under it from the second step on).
    output_dtype: the dtype of the float outputs under a policy, None = the compute dtype.
    """
    make: Callable
    inputs: Any
    targets: Any = None
    expected_output_shape: Any = None
    compile_kwargs: dict = None
    train_steps: int = 1
    output_dtype: str = None
    atol: float = 1e-6


@keras.saving.register_keras_serializable("keras4ds_tests")
class LayerModel(keras.Model):
    """A model holding one layer: `model(inputs)` = `layer(**inputs)` for a dict of named
    arguments, `layer(inputs)` otherwise."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        self.layer = layer

    def call(self, inputs):
        return call_layer(self.layer, inputs)

    def get_config(self):
        return {**super().get_config(), "layer": keras.saving.serialize_keras_object(self.layer)}


def call_layer(layer, inputs):
    return layer(**inputs) if isinstance(inputs, dict) else layer(inputs)


def to_numpy(tree):
    return keras.tree.map_structure(lambda x: np.asarray(ops.convert_to_numpy(x)), tree)


def shapes_of(tree):
    """The shapes of the arrays of `tree`, flattened: `[(B, ...), ...]`."""
    return [tuple(x.shape) for x in keras.tree.flatten(tree)]


def _expected_shapes(expected):
    """An output shape `(B, ...)`, or a list of them, as a list of shapes."""
    return [tuple(expected)] if all(isinstance(d, int) for d in expected) else \
        [tuple(s) for s in expected]


def assert_same_outputs(actual, expected, atol=1e-6, what="outputs"):
    actual, expected = keras.tree.flatten(to_numpy(actual)), keras.tree.flatten(to_numpy(expected))
    assert len(actual) == len(expected), f"{what}: {len(actual)} arrays, expected {len(expected)}"
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=0,
                                   atol=atol, err_msg=what)


def copy_variables(source, target):
    """Assign every variable of `source` (weights, seed states, ...) to `target`."""
    assert len(source.variables) == len(target.variables), "the copies have other variables"
    for s, t in zip(source.variables, target.variables):
        t.assign(s)


def defines(layer, method):
    """True when `layer`'s class overrides keras.layers.Layer's `method`."""
    return getattr(type(layer), method) is not getattr(keras.layers.Layer, method)


def symbolic(tree):
    """KerasTensors like the arrays of `tree`, with the batch axis unknown."""
    return keras.tree.map_structure(
        lambda x: keras.KerasTensor((None, *np.shape(x)[1:]), dtype=np.asarray(x).dtype), tree)


def is_float(dtype):
    return "float" in keras.backend.standardize_dtype(dtype)


@contextlib.contextmanager
def global_policy(name):
    """The global dtype policy set to `name` inside the block, restored after it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield keras.config.dtype_policy()
    finally:
        keras.config.set_dtype_policy(previous)


def _config_json(obj):
    return json.dumps(obj.get_config(), sort_keys=True, default=str)


# ---- layers -------------------------------------------------------------------------------

def run_call_test(case):
    """Eager and symbolic calls give the expected shape; so does `compute_output_shape`."""
    layer = case.make()
    output = call_layer(layer, case.inputs)
    assert layer.built, f"{case.cls.__name__} is not built after a call"
    if case.expected_output_shape is not None:
        assert shapes_of(output) == _expected_shapes(case.expected_output_shape)
    for x in keras.tree.flatten(to_numpy(output)):
        assert np.all(np.isfinite(x)), f"{case.cls.__name__} gives non-finite outputs"
    spec = call_layer(layer, symbolic(case.inputs))
    assert shapes_of(spec) == [(None, *s[1:]) for s in shapes_of(output)], "symbolic call"
    if defines(layer, "compute_output_shape"):
        named = case.inputs if isinstance(case.inputs, dict) else {"x": case.inputs}
        shapes = keras.tree.map_structure(lambda x: tuple(np.shape(x)), list(named.values()))
        computed = _expected_shapes(layer.compute_output_shape(*shapes))
        assert computed == shapes_of(output), "compute_output_shape"


def run_serialization_test(case):
    """Config round trips keep the config; copies with the same variables agree."""
    layer = case.make()
    output = call_layer(layer, case.inputs)
    config = _config_json(layer)
    revived = case.cls.from_config(layer.get_config())
    assert _config_json(revived) == config, "from_config(get_config()) changed the config"
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    deserialized = keras.saving.deserialize_keras_object(serialized)
    assert type(deserialized) is case.cls
    assert _config_json(deserialized) == config, "deserialize(serialize()) changed the config"
    for copy in (revived, deserialized):
        if case.build is not None:
            copy.build(*case.build)
        call_layer(copy, case.inputs)
        copy_variables(layer, copy)
        assert_same_outputs(call_layer(copy, case.inputs), output, case.atol)


def _assert_moved(before, model, steps):
    trainable = {id(v) for v in model.trainable_weights}
    for (path, old), variable in zip(before, model.weights):
        new = np.asarray(ops.convert_to_numpy(variable))
        if id(variable) in trainable:
            assert not np.array_equal(new, old), f"trainable weight {path} did not move in {steps} step(s)"
        else:
            np.testing.assert_array_equal(new, old, err_msg=f"non-trainable weight {path} moved")


def _snapshot(model):
    return [(v.path, np.array(ops.convert_to_numpy(v))) for v in model.weights]


def _fit(model, inputs, targets, compile_kwargs, steps):
    model.compile(**compile_kwargs)
    batch = len(keras.tree.flatten(inputs)[0])
    model.fit(inputs, targets, batch_size=batch, epochs=steps, verbose=0, shuffle=False)


def run_training_test(case, steps=1):
    """One `fit` step of a LayerModel around the layer, mse to random targets, moves every
    trainable weight."""
    layer = case.make()
    output = to_numpy(call_layer(layer, case.inputs))
    if not layer.trainable_weights:
        pytest.skip(f"{case.cls.__name__} has no trainable weights")
    model = LayerModel(layer)
    rng = np.random.default_rng(0)
    targets = keras.tree.map_structure(lambda y: rng.normal(size=y.shape).astype(np.float32), output)
    before = _snapshot(model)
    _fit(model, case.inputs, targets, {"optimizer": keras.optimizers.Adam(1e-2), "loss": "mse"},
         steps)
    _assert_moved(before, model, steps)


def _assert_policy(obj, output, policy, output_dtype=None):
    expected = output_dtype or policy.compute_dtype
    for x in keras.tree.flatten(output):
        if is_float(x.dtype):
            assert keras.backend.standardize_dtype(x.dtype) == expected, \
                f"{type(obj).__name__} output is {x.dtype} under {policy.name}, expected {expected}"
    for variable in obj.weights:
        if is_float(variable.dtype):
            assert keras.backend.standardize_dtype(variable.dtype) == policy.variable_dtype, \
                f"{variable.path} is {variable.dtype} under {policy.name}"
    for sub in obj._flatten_layers():
        assert sub.compute_dtype == policy.compute_dtype, f"{sub.path} computes in {sub.compute_dtype}"


def _skip_torch_cpu_precision():
    """As keras-hub does: torch on CPU does not keep float16 through every op."""
    if keras.backend.backend() == "torch":
        import torch
        if not torch.cuda.is_available():
            pytest.skip("mixed precision is not checked on torch without CUDA")


def run_precision_test(case):
    """Outputs in the compute dtype, variables in the variable dtype, for each policy."""
    _skip_torch_cpu_precision()
    for name in POLICIES:
        with global_policy(name) as policy:
            layer = case.make()
            output = call_layer(layer, case.inputs)
            _assert_policy(layer, output, policy)
            _assert_policy(layer, call_layer(layer, symbolic(case.inputs)), policy)


def _quantizable(model):
    return [sub for sub in model._flatten_layers() if type(sub) in QUANTIZABLE]


def _save_load_same(model, inputs, path, atol):
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert_same_outputs(loaded(inputs), model(inputs), atol, "outputs after load")
    return loaded


def _assert_near(quantized, output, tolerance=0.1):
    """int8 outputs within `tolerance` of the float ones (relative to their norm)."""
    for q, f in zip(keras.tree.flatten(to_numpy(quantized)), keras.tree.flatten(to_numpy(output))):
        error = np.linalg.norm(q.astype(np.float64) - f) / max(np.linalg.norm(f), 1e-12)
        assert error < tolerance, f"int8 outputs are {error:.3f} (relative) from the float ones"


def _quantized_layer_model(case):
    model = LayerModel(case.make())
    output = model(case.inputs)
    if not _quantizable(model):
        pytest.skip(f"{case.cls.__name__} has no Dense/EinsumDense sublayers")
    model.quantize("int8")
    assert all(sub.quantization_mode == "int8" for sub in _quantizable(model))
    return model, output


def run_quantization_test(case):
    """`quantize("int8")` turns every Dense/EinsumDense sublayer to int8; outputs stay near."""
    model, output = _quantized_layer_model(case)
    _assert_near(model(case.inputs), output)


def run_quantized_saving_test(case, tmp_path):
    """An int8-quantised LayerModel survives a `.keras` round trip: same outputs."""
    model, _ = _quantized_layer_model(case)
    loaded = _save_load_same(model, case.inputs, os.path.join(tmp_path, "int8.keras"), case.atol)
    assert all(sub.quantization_mode == "int8" for sub in _quantizable(loaded))


def run_saving_test(case, tmp_path):
    """A LayerModel around the layer saves to `.keras` and loads with the same outputs."""
    model = LayerModel(case.make())
    model(case.inputs)
    loaded = _save_load_same(model, case.inputs, os.path.join(tmp_path, "layer.keras"), case.atol)
    assert type(loaded.layer) is case.cls


def run_layer_test(case, tmp_path):
    """Every layer check in turn."""
    run_call_test(case)
    run_serialization_test(case)
    run_training_test(case)
    run_precision_test(case)
    run_quantization_test(case)
    run_quantized_saving_test(case, tmp_path)
    run_saving_test(case, tmp_path)


# ---- models -------------------------------------------------------------------------------

def run_model_call_test(case):
    model = case.make()
    output = model(case.inputs)
    if case.expected_output_shape is not None:
        assert shapes_of(output) == _expected_shapes(case.expected_output_shape)
    for x in keras.tree.flatten(to_numpy(output)):
        assert np.all(np.isfinite(x)), f"{type(model).__name__} gives non-finite outputs"


def run_model_serialization_test(case):
    model = case.make()
    config = _config_json(model)
    revived = type(model).from_config(model.get_config())
    assert _config_json(revived) == config, "from_config(get_config()) changed the config"
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    deserialized = keras.saving.deserialize_keras_object(serialized)
    assert type(deserialized) is type(model)
    assert _config_json(deserialized) == config, "deserialize(serialize()) changed the config"
    for copy in (revived, deserialized):
        copy_variables(model, copy)
        assert_same_outputs(copy(case.inputs), model(case.inputs), case.atol)
        copy_variables(model, copy)  # the same seed states for the next copy


def run_model_training_test(case):
    model = case.make()
    compile_kwargs = case.compile_kwargs or {"optimizer": keras.optimizers.Adam(1e-2),
                                             **({"loss": "mse"} if case.targets is not None else {})}
    before = _snapshot(model)
    _fit(model, case.inputs, case.targets, compile_kwargs, case.train_steps)
    _assert_moved(before, model, case.train_steps)


def run_model_precision_test(case):
    _skip_torch_cpu_precision()
    for name in POLICIES:
        with global_policy(name) as policy:
            model = case.make()
            _assert_policy(model, model(case.inputs), policy, case.output_dtype)


def _seed_states(model):
    return [v for v in model.variables if "seed_generator_state" in v.path]


def run_model_quantization_test(case):
    model = case.make()
    seeds = [(v, np.array(ops.convert_to_numpy(v))) for v in _seed_states(model)]
    output = model(case.inputs)
    for variable, value in seeds:  # the same random draws in the int8 call
        variable.assign(value)
    model.quantize("int8")
    assert _quantizable(model) and all(s.quantization_mode == "int8" for s in _quantizable(model))
    _assert_near(model(case.inputs), output)
    return model


def run_model_quantized_saving_test(case, tmp_path):
    model = run_model_quantization_test(case)
    _save_load_same(model, case.inputs, os.path.join(tmp_path, "int8.keras"), case.atol)


def run_model_saving_test(case, tmp_path):
    model = case.make()
    model(case.inputs)
    loaded = _save_load_same(model, case.inputs, os.path.join(tmp_path, "model.keras"), case.atol)
    assert type(loaded) is type(model)


def run_export_test(case, tmp_path, atol=1e-5):
    """SavedModel export (`model.export`), reloaded with TensorFlow: same outputs."""
    tf = pytest.importorskip("tensorflow")
    model = case.make()
    expected = to_numpy(model(case.inputs))
    path = os.path.join(tmp_path, "saved_model")
    try:
        model.export(path, format="tf_saved_model", verbose=False)
    except (ImportError, NotImplementedError) as error:
        pytest.skip(f"SavedModel export is not supported on {keras.backend.backend()}: {error}")
    artifact = tf.saved_model.load(path)  # kept: its variables die with it
    served = artifact.serve(keras.tree.map_structure(tf.constant, case.inputs))
    assert_same_outputs(served, expected, atol, "exported outputs")


# ---- pytest classes -----------------------------------------------------------------------

def expect(known_failures, check, run):
    """Run `run()`; a check listed in `known_failures` must fail (xfail) until it is fixed."""
    if check not in known_failures:
        return run()
    try:
        run()
    except Exception as error:  # noqa: BLE001 - any failure of a known-failing check
        pytest.xfail(f"{known_failures[check]} ({type(error).__name__}: {str(error)[:200]})")
    pytest.fail(f"check {check!r} now passes: remove it from known_failures")


class LayerTest:
    """Subclass as `class TestX(LayerTest)` with `case = LayerCase(...)` for the six checks."""

    case: LayerCase
    known_failures: dict = {}

    def test_call(self):
        expect(self.known_failures, "call", lambda: run_call_test(self.case))

    def test_serialization(self):
        expect(self.known_failures, "serialization", lambda: run_serialization_test(self.case))

    def test_training(self):
        expect(self.known_failures, "training", lambda: run_training_test(self.case))

    def test_precision(self):
        expect(self.known_failures, "precision", lambda: run_precision_test(self.case))

    def test_quantization(self):
        expect(self.known_failures, "quantization", lambda: run_quantization_test(self.case))

    def test_quantized_saving(self, tmp_path):
        expect(self.known_failures, "quantized_saving",
                lambda: run_quantized_saving_test(self.case, tmp_path))

    def test_saving(self, tmp_path):
        expect(self.known_failures, "saving", lambda: run_saving_test(self.case, tmp_path))


class ModelTest:
    """Subclass as `class TestX(ModelTest)` with `case = ModelCase(...)`; `quantize = False`
    skips the int8 check (`run_export_test` is for a test of its own: it is slow)."""

    case: ModelCase
    known_failures: dict = {}
    quantize = True

    def test_call(self):
        expect(self.known_failures, "call", lambda: run_model_call_test(self.case))

    def test_serialization(self):
        expect(self.known_failures, "serialization",
                lambda: run_model_serialization_test(self.case))

    def test_training(self):
        expect(self.known_failures, "training", lambda: run_model_training_test(self.case))

    def test_precision(self):
        expect(self.known_failures, "precision", lambda: run_model_precision_test(self.case))

    def test_quantization(self):
        if not self.quantize:
            pytest.skip("int8 quantisation is not checked for this model")
        expect(self.known_failures, "quantization", lambda: run_model_quantization_test(self.case))

    def test_quantized_saving(self, tmp_path):
        if not self.quantize:
            pytest.skip("int8 quantisation is not checked for this model")
        expect(self.known_failures, "quantized_saving",
                lambda: run_model_quantized_saving_test(self.case, tmp_path))

    def test_saving(self, tmp_path):
        expect(self.known_failures, "saving", lambda: run_model_saving_test(self.case, tmp_path))
