"""The runners' `--distribution` and `--mesh`: where the model's variables and batches go."""
import contextlib

KINDS = ("none", "data", "model", "mirrored")


def add_distribution_arguments(parser, multi_process=False):
    """`--distribution {none,data,model,mirrored}` and `--mesh BxM` on an argparse parser;
    with `multi_process`, also multi-process JAX's `--coordinator`, `--num-processes` and
    `--process-id` (see `join_processes`)."""
    parser.add_argument("--distribution", choices=KINDS, default="none",
                        help="data: data parallel over all devices (JAX); model: the keras4ds "
                             "LayoutMap on a --mesh BxM (batch x model) mesh (JAX); mirrored: "
                             "tf.distribute.MirroredStrategy (TensorFlow)")
    parser.add_argument("--mesh", metavar="BxM",
                        help="device mesh for --distribution model, e.g. 2x4 (B*M devices)")
    if not multi_process:
        return
    parser.add_argument("--coordinator", metavar="HOST:PORT",
                        help="multi-process JAX: process 0's address; every process runs the "
                             "same command with its --process-id")
    parser.add_argument("--num-processes", type=int, default=1,
                        help="processes in the multi-process JAX job (default 1: this one)")
    parser.add_argument("--process-id", type=int, default=0,
                        help="this process's index in [0, --num-processes)")


def join_processes(args):
    """With `--num-processes N` > 1, join this process to the others (before any JAX
    computation: call it first); the distribution then spans every process's devices, and
    each "model" axis must lie within one process (its weights are then whole in each)."""
    if args.num_processes < 1:
        raise ValueError(f"--num-processes must be at least 1, got {args.num_processes}")
    if args.num_processes == 1:
        if args.coordinator or args.process_id:
            raise ValueError("--coordinator and --process-id go with --num-processes N > 1")
        return
    if args.distribution not in ("data", "model"):
        raise ValueError(f"--num-processes {args.num_processes} needs --distribution data or "
                         f"model (JAX), got {args.distribution}")
    if not args.coordinator or not 0 <= args.process_id < args.num_processes:
        raise ValueError(f"--num-processes {args.num_processes} needs --coordinator HOST:PORT and "
                         f"a --process-id in [0, {args.num_processes}); got {args.coordinator!r}, "
                         f"{args.process_id}")
    from keras4ds.distribution import initialize_processes

    initialize_processes(args.coordinator, args.num_processes, args.process_id)
    if args.distribution == "model":
        import jax

        model = parse_mesh(args.mesh)[1]
        if jax.local_device_count() % model:
            raise ValueError(f"--mesh {args.mesh}: the model axis ({model}) must lie within one "
                             f"process, which has {jax.local_device_count()} devices")


def parse_mesh(text):
    """'2x4' -> (2, 4); a ValueError naming --mesh otherwise."""
    try:
        batch, model = (int(n) for n in str(text).lower().split("x"))
    except ValueError:
        raise ValueError(f"--mesh must be BxM with two positive integers, e.g. 2x4; got {text!r}") from None
    if batch < 1 or model < 1:
        raise ValueError(f"--mesh must be BxM with two positive integers, e.g. 2x4; got {text!r}")
    return batch, model


def distribution_scope(kind, mesh=None, batch_size=None):
    """A context in which to build, compile and fit the model under `kind` (see
    `add_distribution_arguments`); checks that `batch_size` splits over the batch axis."""
    if kind not in KINDS:
        raise ValueError(f"--distribution must be one of {KINDS}; got {kind!r}")
    if (mesh is not None) != (kind == "model"):
        raise ValueError("--mesh BxM goes with --distribution model (and only with it)")
    if kind == "none":
        return contextlib.nullcontext()
    import keras

    from keras4ds.distribution import data_parallel, mirrored_strategy, model_parallel

    if kind == "mirrored":
        strategy = mirrored_strategy()
        replicas = strategy.num_replicas_in_sync
    elif kind == "data":
        strategy = data_parallel()
        replicas = len(keras.distribution.list_devices())
    else:
        shape = parse_mesh(mesh)
        strategy = model_parallel(shape)
        replicas = shape[0]
    if batch_size is not None and batch_size % replicas:
        raise ValueError(f"--batch {batch_size} does not split over the {replicas} replicas of "
                         f"--distribution {kind}")
    return strategy.scope()


def fresh_keras_session():
    """`keras.backend.clear_session()` that keeps the distribution in force: a Keras
    distribution (JAX), or a tf.distribute strategy's scope (TensorFlow). Clearing alone
    drops either, and every later stage would run on one device: Keras' global
    distribution is reset, and on TensorFlow the default graph, which holds the entered
    strategy scopes and their variable creators, is replaced."""
    import keras

    current = keras.distribution.distribution()
    if _in_tensorflow_strategy():
        from unittest import mock

        import tensorflow as tf

        # Keras' names and state are cleared; the graph holding the scope is kept (eager
        # execution has nothing else in it to free).
        with mock.patch.object(tf.compat.v1, "reset_default_graph", lambda: None):
            keras.backend.clear_session()
    else:
        keras.backend.clear_session()
    if current is not None:
        keras.distribution.set_distribution(current)


def _in_tensorflow_strategy():
    """Whether this process runs TensorFlow inside a tf.distribute strategy's scope."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy()
