"""Per-step training losses from `fit`: Keras logs each epoch's running mean."""
import keras


class StepLosses(keras.callbacks.Callback):
    """Recovers every step's loss from Keras' running epoch mean into `losses` (a list, in
    step order); subclasses act on each through `on_step(step, loss)`, where `step` counts
    from `start_step + 1`."""

    def __init__(self, start_step=0):
        super().__init__()
        self.start_step = start_step
        self.losses = []
        self._previous_mean = 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        loss = (batch + 1) * mean - batch * self._previous_mean
        self._previous_mean = mean
        self.losses.append(loss)
        self.on_step(self.start_step + batch + 1, loss)

    def on_step(self, step, loss):
        """Called after each step with its own loss."""
