"""AdamW with linear warm-up and cosine decay for MAE pretraining."""
import keras

# Variables whose name is one of these get no weight decay: LayerNorm scale/offset, biases,
# position embeddings and the decoder mask token. The optimizer sees "bias" on JAX/torch
# but the TensorFlow variable name "path/to/bias:0" on TensorFlow, so both forms match.
NO_DECAY_NAMES = (r"(^|/)(gamma|beta|bias|embeddings|position_embedding|mask_token)(:\d+)?$",)


def make_optimizer(learning_rate=1.5e-4, steps=1000, warmup_steps=None, weight_decay=0.05,
                   clipnorm=1.0, beta_2=0.95):
    """AdamW: linear warm-up from 0 to `learning_rate` over `warmup_steps` (default 5% of
    `steps`), then cosine decay to 0 at `steps`; decoupled weight decay on kernels only;
    gradients clipped to global norm `clipnorm` (None disables)."""
    optimizer = keras.optimizers.AdamW(
        learning_rate=warmup_cosine_schedule(learning_rate, steps, warmup_steps),
        weight_decay=weight_decay, beta_2=beta_2, global_clipnorm=clipnorm)
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer


def warmup_cosine_schedule(learning_rate, steps, warmup_steps=None):
    """Linear warm-up 0 -> `learning_rate` over `warmup_steps` (default 5% of `steps`),
    then cosine decay to 0 at `steps`."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if warmup_steps is None:
        warmup_steps = max(1, steps // 20)
    if not 0 <= warmup_steps <= steps:
        raise ValueError(f"warmup_steps must be in [0, steps={steps}], got {warmup_steps}")
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=max(1, steps - warmup_steps), alpha=0.0,
        warmup_target=learning_rate, warmup_steps=warmup_steps)
