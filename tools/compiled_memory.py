"""XLA's memory analysis of the real compiled MAE gradient step (JAX backend).

The step is `jax.value_and_grad` of the MAE loss, lowered on abstract inputs
(`jax.ShapeDtypeStruct`), so no video or gradient is allocated; only the model's own
variables exist. `temp` is what XLA keeps alive between the forward and backward pass
plus scratch: the figure to compare with `plan(...)["activations"]`.

On CPU, XLA's default concurrency-optimised scheduler hoists the recomputation of remat
blocks into the forward pass, which hides remat's saving; set
`XLA_FLAGS=--xla_cpu_enable_concurrency_optimized_scheduler=false` before JAX starts to
get the memory-minimising schedule that GPU/TPU compilers aim for (`tools/plan_vs_xla.py`
does).
"""


def gradient_step_memory(mae, batch_size):
    """{"temp", "argument", "output"} bytes of the compiled loss+gradient step of `mae`
    (a `MaskedAutoencoder`) on a batch of `batch_size` videos `(B, T, H, W, 3)` float32."""
    import jax
    import keras

    if keras.backend.backend() != "jax":
        raise NotImplementedError(f"gradient_step_memory needs the JAX backend, this process "
                                  f"runs {keras.backend.backend()!r}")

    def abstract(variables):
        return [jax.ShapeDtypeStruct(tuple(v.shape), v.dtype) for v in variables]

    def loss_fn(trainable, non_trainable, video):
        (prediction, target), _ = mae.stateless_call(trainable, non_trainable, video)
        return keras.ops.mean((prediction - target) ** 2)

    video = jax.ShapeDtypeStruct((batch_size, *mae.encoder.input_video_shape), "float32")
    lowered = jax.jit(jax.value_and_grad(loss_fn)).lower(
        abstract(mae.trainable_variables), abstract(mae.non_trainable_variables), video)
    memory = lowered.compile().memory_analysis()
    return {"temp": int(memory.temp_size_in_bytes), "argument": int(memory.argument_size_in_bytes),
            "output": int(memory.output_size_in_bytes)}
