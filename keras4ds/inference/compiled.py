"""One compiled `video -> output` function per backend, for inference."""
import keras


def compile_forward(fn, variables, torch_compile=False, tf_xla=True):
    """Compile `fn(video)` (which reads `variables`) for the current backend.

    jax: `jax.jit` of a stateless call (variables passed as arguments, not baked in as
    constants); tensorflow: `tf.function(jit_compile=True)` (a plain graph with
    `tf_xla=False`); torch: `torch.no_grad()`, plus `torch.compile` when asked. Returns
    `video -> output` (a backend tensor, computed).
    """
    backend = keras.backend.backend()
    variables = list(variables)
    if backend == "jax":
        import jax

        def pure(values, video):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(video)
        jitted = jax.jit(pure)
        return lambda video: jitted([v.value for v in variables], video).block_until_ready()
    if backend == "tensorflow":
        import tensorflow as tf
        return tf.function(fn, jit_compile=tf_xla, reduce_retracing=True)
    if backend == "torch":
        import torch
        call = torch.compile(fn) if torch_compile else fn

        def run(video):
            with torch.no_grad():
                return call(video)
        return run
    raise NotImplementedError(f"no compiled forward for backend {backend!r}")
