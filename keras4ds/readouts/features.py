"""Which encoder hidden states feed a readout, and computing them (frozen or not)."""
from keras import ops


def readout_indices(encoder, readout_index=None):
    """Normalise `readout_index` (None = the official 0.95 state, an int, or a list of
    ints whose states are concatenated on channels) to a tuple of ints in [0, depth]."""
    if readout_index is None:
        return (encoder.official_readout_index(0.95),)
    indices = (readout_index,) if isinstance(readout_index, int) else tuple(readout_index)
    if not indices or any(not isinstance(i, int) or not 0 <= i <= encoder.depth for i in indices):
        raise ValueError(f"readout_index must be None, an int or a list of ints in "
                         f"[0, {encoder.depth}] (hidden states h_0..h_L); got {readout_index!r}")
    return indices


def selected_states(encoder, video, indices):
    """The hidden states `indices` of `video` `(B, T, H, W, 3)`: a list of `(B, N, D)`,
    running each block once."""
    states, x = {}, encoder.tokens(video)
    if 0 in indices:
        states[0] = x
    for j in range(1, max(indices) + 1):
        x = encoder.blocks[j - 1](x)
        if j in indices:
            states[j] = x
    return [states[i] for i in indices]


def encoder_features(encoder, video, indices, frozen):
    """Concatenated selected states `(B, N, D * len(indices))`; no gradient when frozen."""
    states = selected_states(encoder, video, indices)
    features = states[0] if len(states) == 1 else ops.concatenate(states, axis=-1)
    return ops.stop_gradient(features) if frozen else features
