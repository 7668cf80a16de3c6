"""Adam with its own learning rate for the encoder's variables (fine-tuning)."""
import keras


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
