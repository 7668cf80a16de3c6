"""Data and model parallelism: keras.distribution on JAX, MirroredStrategy on TensorFlow.

Create the model inside the distribution (`keras.distribution.set_distribution(d)` or
`with d.scope():`) so that every variable is placed by it.
"""
import keras

from keras4ds.distribution.layouts import BATCH_AXIS, MODEL_AXIS, layout_map


def _require_jax(what):
    backend = keras.backend.backend()
    if backend != "jax":
        hint = (" For data parallelism on TensorFlow use keras4ds.distribution.mirrored_strategy()."
                if backend == "tensorflow" else "")
        raise NotImplementedError(f"{what} needs the JAX backend (keras.distribution is JAX-only "
                                  f"in Keras 3.15); this process runs {backend!r}.{hint}")


def data_parallel(devices=None):
    """`keras.distribution.DataParallel` over `devices` (default: all). JAX only."""
    _require_jax("data_parallel")
    return keras.distribution.DataParallel(devices=devices)


def model_parallel(mesh_shape, devices=None):
    """`keras.distribution.ModelParallel` on a (batch, model) mesh with the keras4ds
    LayoutMap: e.g. `mesh_shape=(2, 4)` = 2-way data x 4-way model parallel. JAX only."""
    _require_jax("model_parallel")
    devices = devices or keras.distribution.list_devices()
    batch, model = mesh_shape
    if batch * model != len(devices):
        raise ValueError(f"mesh {mesh_shape} needs {batch * model} devices, {len(devices)} given")
    mesh = keras.distribution.DeviceMesh((batch, model), (BATCH_AXIS, MODEL_AXIS), devices)
    return keras.distribution.ModelParallel(layout_map=layout_map(mesh), batch_dim_name=BATCH_AXIS)


def mirrored_strategy(devices=None):
    """`tf.distribute.MirroredStrategy` for data parallelism on the TensorFlow backend;
    build and compile the model inside `strategy.scope()`."""
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(f"mirrored_strategy needs the TensorFlow backend, this process "
                                  f"runs {keras.backend.backend()!r}; on JAX use data_parallel()")
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices)


def replica_share(loss):
    """`loss` divided by the number of replicas in sync under a `tf.distribute` strategy
    (which sums gradients over replicas), unchanged otherwise. A custom `compute_loss` must
    return this so that a MirroredStrategy step equals a single-device step on the global
    batch (Keras' own `Loss` objects do the same)."""
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * (1.0 / replicas)


def replica_rows(draw, batch_size):
    """`draw(rows)` (a function returning a `(rows, ...)` tensor) for this replica's
    `batch_size` rows of the global batch. Under a `tf.distribute` strategy with R replicas
    in sync it draws all `R * batch_size` rows and keeps replica r's, rows `r * batch_size`
    to `(r + 1) * batch_size`: the strategy splits a global batch in order, so every row
    gets the number one device would draw for it (drawing `batch_size` rows on each replica
    from the shared seed state would give every replica the same numbers). Otherwise
    `draw(batch_size)`."""
    if keras.backend.backend() != "tensorflow":
        return draw(batch_size)
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if context is None or replicas == 1:
        return draw(batch_size)
    start = tf.cast(context.replica_id_in_sync_group, "int32") * batch_size
    return tf.gather(draw(replicas * batch_size), tf.range(start, start + batch_size))
