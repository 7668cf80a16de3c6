"""The base of the 4DS models: a functional Keras model (keras-hub's Backbone way) with
checked inputs, preset folders and quantisation that survives saving."""
import keras

from keras4ds.models.checked_data import CheckedInputs


class Backbone(CheckedInputs, keras.Model):
    """A `keras.Model` whose subclass builds its layers, calls them on `keras.Input`s and
    passes both to `super().__init__(inputs=..., outputs=...)`: `model.inputs`, `summary()`
    and `compute_output_shape` come from that graph.

    `call` may run the same layers another way (e.g. rematerialised); `check_inputs` checks
    what `__call__`, `fit` and `predict` get, with errors that say what to do, in place of
    Keras' input spec. `quantize(...)`d layers are named in the config (`quantized`), so
    `save_to_preset` / `model.save` round trips rebuild them quantised before the weights load.
    """

    def __init__(self, *args, quantized=None, dtype=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Functional models drop `dtype`: keep it as this model's policy and in the config
        # (the subclass passed it to every layer it built).
        self._dtype_argument = None if dtype is None else keras.dtype_policies.get(dtype)
        if self._dtype_argument is not None:
            self._dtype_policy = self._dtype_argument
        for path, mode in (quantized or {}).items():
            self._own_layers()[path].quantize(mode)
        if quantized:
            self.predict_function = self.train_function = self.test_function = None

    @classmethod
    def from_preset(cls, preset):
        """Load a preset: a registry name (`keras4ds.models.registry.PRESETS`), a
        `kaggle://` or `hf://` handle, or a local preset folder (what `save_to_preset` or
        `keras4ds convert` wrote). Refuses a preset of another class."""
        from keras4ds.models.preset_folder import load_preset
        from keras4ds.models.registry import resolve_preset

        return load_preset(resolve_preset(preset), expected=cls)

    def save_to_preset(self, preset_dir):
        """Write `config.json`, `metadata.json` and `model.weights.h5` to `preset_dir`
        (staged, then swapped in whole); returns its absolute path."""
        from keras4ds.models.preset_folder import save_preset

        return save_preset(self, preset_dir)

    @property
    def input_spec(self):
        return None

    @input_spec.setter
    def input_spec(self, value):
        del value

    def _obj_type(self):
        # Weights files keep the layout of the subclassed models these classes used to be
        # (layers by attribute, not by graph), so earlier presets and archives still load.
        return "Layer"

    def _own_layers(self):
        """Relative path -> leaf layer with weights, for this model's layers outside nested
        Backbones (the path without this model's name, which Keras may have uniquified)."""
        nested = {id(layer) for child in self._flatten_layers(include_self=False)
                  if isinstance(child, Backbone) for layer in child._flatten_layers()}
        prefix = self.name + "/"
        return {layer.path.removeprefix(prefix): layer
                for layer in self._flatten_layers(include_self=False)
                if id(layer) not in nested and layer.weights
                and not list(layer._flatten_layers(include_self=False))}

    def quantized_layers(self):
        """Relative path -> quantisation mode of this model's quantised layers."""
        return {path: layer.quantization_mode for path, layer in self._own_layers().items()
                if getattr(layer, "quantization_mode", None)}

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        if self._dtype_argument is not None:
            config["dtype"] = keras.dtype_policies.serialize(self._dtype_argument)
        if self.quantized_layers():
            config["quantized"] = self.quantized_layers()
        return config
