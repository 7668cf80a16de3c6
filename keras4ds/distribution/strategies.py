"""Data and model parallelism: keras.distribution on JAX, MirroredStrategy on TensorFlow.

Create the model inside the distribution (`keras.distribution.set_distribution(d)` or
`with d.scope():`) so that every variable is placed by it.
"""
import keras
import numpy as np

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


def initialize_processes(coordinator, num_processes, process_id):
    """Join `num_processes` JAX processes into one job before any JAX computation:
    `coordinator` is "HOST:PORT" of process 0, `process_id` this one's index. Afterwards
    `keras.distribution.list_devices()` lists every process's devices, a distribution spans
    them all, and `fit` gives each process its rows of a `tf.data` dataset's global batches
    (Keras rebatches and shards it). On CPU the processes talk through gloo. JAX only."""
    _require_jax("initialize_processes")
    import jax

    if not jax.config.jax_platforms or "cpu" in str(jax.config.jax_platforms):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(coordinator, num_processes=num_processes, process_id=process_id)


def is_primary_process():
    """False in every JAX process but the first of a multi-process job: the one that writes
    a run's logs and files (every process still runs every step)."""
    if keras.backend.backend() != "jax":
        return True
    import jax

    return jax.process_index() == 0


def same_on_every_process(value, what):
    """`value` (an int) if every process of a multi-process JAX job has it, else a
    ValueError naming `what` and both values (a no-op in a single process). Every process
    must call it: process 0's value is broadcast to all."""
    if keras.backend.backend() != "jax":
        return value
    import jax

    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    first = int(multihost_utils.broadcast_one_to_all(np.int64(value)))
    if first != int(value):
        raise ValueError(f"{what} is {value} in process {jax.process_index()} but {first} in "
                         f"process 0")
    return value


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
    `draw(batch_size)`. That holds for one worker's replicas with equal shares of the batch
    (MirroredStrategy on batches that split evenly); under MultiWorkerMirroredStrategy the
    rows still differ per replica but are not one device's."""
    if keras.backend.backend() != "tensorflow":
        return draw(batch_size)
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if context is None or replicas == 1:
        return draw(batch_size)
    start = tf.cast(context.replica_id_in_sync_group, "int32") * batch_size
    return tf.gather(draw(replicas * batch_size), tf.range(start, start + batch_size))
