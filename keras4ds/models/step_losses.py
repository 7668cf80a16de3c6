"""Per-step training losses and end times from `fit`: Keras logs each epoch's running mean."""
import time

import keras
import numpy as np


class StepLosses(keras.callbacks.Callback):
    """Recovers every step's loss from Keras' running epoch mean into `losses` (a list, in
    step order) and each step's end (`time.perf_counter()`, after its loss is on the host)
    into `step_ends`; subclasses act on each through `on_step(step, loss)`, where `step`
    counts from `start_step + 1`."""

    def __init__(self, start_step=0):
        super().__init__()
        self.start_step = start_step
        self.losses, self.step_ends = [], []
        self._previous_mean = 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        loss = (batch + 1) * mean - batch * self._previous_mean
        self._previous_mean = mean
        self.losses.append(loss)
        self.step_ends.append(time.perf_counter())
        self.on_step(self.start_step + batch + 1, loss)

    def step_seconds(self):
        """Median seconds of a step after the first (which compiles), None below 2 steps."""
        if len(self.step_ends) < 2:
            return None
        return float(np.median(np.diff(self.step_ends)))

    def on_step(self, step, loss):
        """Called after each step with its own loss."""
