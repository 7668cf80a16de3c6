"""Shared pieces of the stateful Keras metrics."""

import keras
from keras import ops

from keras4ds.metrics._ops import shapes_agree, static_shape


class SumMetric(keras.metrics.Metric):
    """A Keras metric whose whole state is float32 sums.

    Every variable is created with `aggregation="sum"`, and each subclass keeps
    only sums and counts (never running means), so the result is the same
    whether the data arrive in one batch or many, on one replica or several.
    The inherited `reset_state` sets every variable back to zero.
    """

    def add_sum(self, name, shape=()):
        return self.add_variable(
            shape=shape, initializer="zeros", dtype="float32", aggregation="sum", name=name
        )


def per_video_weight(sample_weight, batch_size_like):
    """Per-video weights `(B,)`: ones, or `sample_weight` `(B,)`, `(B, 1)` or `()` flattened.

    Raises ValueError, naming `sample_weight`, for another (static) shape.
    """
    if sample_weight is None:
        return ops.ones_like(batch_size_like, dtype="float32")
    sample_weight = ops.convert_to_tensor(sample_weight)
    shape, batch = static_shape(sample_weight), static_shape(batch_size_like)[0]
    if not any(shapes_agree(shape, allowed) for allowed in ((), (batch,), (batch, 1))):
        raise ValueError(
            f"`sample_weight` must hold one weight per video, (B,) with B = {batch}; "
            f"got shape {shape}."
        )
    return ops.reshape(ops.cast(sample_weight, "float32"), (-1,))


def weighted_sum(values, weight):
    """`sum(weight * values)` over the leading axis; zero-weight rows add nothing.

    A zero weight removes a row even when its value is NaN (a padded video), while
    a NaN value with a positive weight still propagates, as in a plain mean.
    """
    weight = ops.reshape(weight, (-1,) + (1,) * (len(values.shape) - 1))
    return ops.sum(ops.where(weight > 0, values * weight, 0.0), axis=0)
