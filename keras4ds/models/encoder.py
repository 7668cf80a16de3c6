"""The 4DS video encoder: a plain ViT over (2, 16, 16) tubelets."""
import keras
import numpy as np
from keras import ops
from keras.src.utils.naming import auto_name

from keras4ds.models.backbone import Backbone
from keras4ds.models.layers import PositionEmbedding, TransformerBlock, TubeletEmbedding
from keras4ds.models.presets import size_config
from keras4ds.models.resize import resize_grid
from keras4ds.models.validation import check_video


@keras.saving.register_keras_serializable("keras4ds")
class FourDSEncoder(Backbone):
    """4DS encoder. `encoder(video)` maps `(B, T, H, W, 3)` floats in [0, 1] to the last
    hidden state `(B, N, D)`, N = (T/2)(H/16)(W/16) tokens ordered t, then h, then w.

    `hidden_states(video)` gives `[h_0, ..., h_L]` (h_j = state after j blocks). There is
    no CLS token and no final norm, as in the official model.

    A functional model (`Backbone`): `encoder.inputs`, `summary()` and
    `compute_output_shape` work before any call; `from_preset` / `save_to_preset` read and
    write preset folders.

    `remat=True` rematerialises every block in the backward pass (`keras.remat`:
    `jax.checkpoint`, `tf.recompute_grad`, `torch.utils.checkpoint`): only each block's
    input is kept for the gradient, the block's internals are recomputed. Same outputs and
    gradients, less activation memory, about one extra forward pass of compute.

    `dtype`: a dtype policy name (e.g. "bfloat16": bfloat16 weights and compute, or
    "mixed_bfloat16": float32 weights, bfloat16 compute) or a `keras.dtype_policies.
    DTypePolicyMap` keyed by layer path patterns (e.g. "NAME/block_0(/.*)?" for that block
    and its sublayers), honoured by every layer and kept in the config; default: the
    global policy.
    """

    def __init__(self, width, depth, mlp_dim, num_heads, num_frames=16, image_size=(224, 224),
                 patch_size=(2, 16, 16), layer_norm_epsilon=1e-6, remat=False, name=None,
                 **kwargs):
        image_size, patch_size = tuple(image_size), tuple(patch_size)
        sizes = (num_frames, *image_size)
        if any(s % p for s, p in zip(sizes, patch_size)):
            raise ValueError(f"input (T, H, W) = {sizes} must be divisible by patch_size "
                             f"{patch_size}")
        grid = tuple(s // p for s, p in zip(sizes, patch_size))
        name = name or auto_name(type(self).__name__)
        # one policy object (a config's serialized map included) for every layer below
        dtype = kwargs.get("dtype")
        if dtype is not None:
            dtype = kwargs["dtype"] = keras.dtype_policies.get(dtype)
        # === Layers ===
        tubelet_embedding = TubeletEmbedding(width, patch_size, name="tubelet_embedding",
                                             dtype=dtype)
        position_embedding = PositionEmbedding(grid, name="position_embedding", dtype=dtype)
        blocks = [TransformerBlock(num_heads, mlp_dim, layer_norm_epsilon, name=f"block_{i}",
                                   dtype=dtype)
                  for i in range(depth)]
        # === Functional model === (under the model's name scope: weight paths stay
        # "NAME/block_0/...", as the checkpoint mapping and sharding rules expect)
        video = keras.Input((*sizes, 3), name="video")
        with keras.name_scope(name):
            tokens = position_embedding(tubelet_embedding(video))
            tokens = keras.layers.Reshape((int(np.prod(grid)), width), name="flatten",
                                          dtype=dtype)(tokens)
            for block in blocks:
                tokens = block(tokens)
        super().__init__(inputs=video, outputs=tokens, name=name, **kwargs)
        # === Config ===
        self.width, self.depth, self.mlp_dim, self.num_heads = width, depth, mlp_dim, num_heads
        self.num_frames, self.image_size, self.patch_size = num_frames, image_size, patch_size
        self.layer_norm_epsilon = layer_norm_epsilon
        self.remat = bool(remat)
        self.grid = grid
        self.tubelet_embedding, self.position_embedding = tubelet_embedding, position_embedding
        self.blocks = blocks

    def call(self, video):
        # the blocks one by one (rematerialised with `remat`) rather than the graph's nodes;
        # the same layers and ops, so the same numbers
        return self.run_blocks(self.tokens(video))

    @classmethod
    def from_size(cls, size, **kwargs):
        """Build a named size ('ti', 's', 'm', 'b', 'l', 'h', 'g', 'G', 'e', '22b')."""
        return cls(**size_config(size), **kwargs)

    def check_inputs(self, video):
        """Check `(B, T, H, W, 3)` floats in [0, 1] (what `fit`/`predict` run first)."""
        check_video(video, self.input_video_shape)

    @property
    def input_video_shape(self):
        """`(T, H, W, 3)` this encoder expects."""
        return (self.num_frames, *self.image_size, 3)

    @property
    def num_tokens(self):
        return int(np.prod(self.grid))

    def embed(self, video, indices=None):
        """`(B, T, H, W, 3)` -> position-embedded tokens on the grid `(B, t, h, w, D)`, or
        with `indices` `(B, n)` int only those tokens, `(B, n, D)`."""
        video = check_video(video, self.input_video_shape)
        return self.position_embedding(self.tubelet_embedding(video, indices=indices),
                                       indices=indices)

    def tokens(self, video, indices=None):
        """`(B, T, H, W, 3)` -> embedded tokens `(B, N, D)` = h_0; with `indices` `(B, n)`
        int, only those tokens are embedded: `(B, n, D)`, h_0 at those positions."""
        if indices is None:
            return ops.reshape(self.embed(video), (-1, self.num_tokens, self.width))
        return self.embed(video, indices)

    def run_blocks(self, tokens, start=0, stop=None, training=False):
        """Apply blocks `start .. stop-1` to `(B, n, D)` tokens (any n, e.g. visible ones);
        `training=True` when a gradient will be taken (it picks the attention kernel,
        `layers.multi_head_attention`)."""
        for block in self.blocks[start:stop]:
            tokens = (_remat_call(block, tokens, training) if self.remat
                      else block(tokens, training=training))
        return tokens

    def hidden_states(self, video):
        """List of L+1 arrays `(B, N, D)`; entry j is the state after j blocks."""
        states = [self.tokens(video)]
        for i in range(self.depth):
            states.append(self.run_blocks(states[-1], i, i + 1))
        return states

    def hidden_state(self, video, index):
        """The state after `index` blocks, computing only the blocks it needs. `(B, N, D)`."""
        if not 0 <= index <= self.depth:
            raise ValueError(f"hidden state index must be in [0, {self.depth}], got {index}")
        return self.run_blocks(self.tokens(video), 0, index)

    def official_readout_index(self, readout_depth=0.95):
        """Hidden-state index that the official readouts read for `readout_depth`.

        The official processor returns `[h_0, h_0, h_1, ..., h_{L-1}]` and readouts take
        entry `int(len * readout_depth) - 1` of it; for 4DS-B that is h_10.
        """
        return official_readout_index(self.depth, readout_depth)

    def resized(self, num_frames=None, image_size=None):
        """A copy of this encoder for another input size (opt-in).

        The learned position embedding is resized with JAX-exact cubic interpolation on
        each axis that changes (DeepMind's evaluation colab resizes bicubically).
        """
        config = self.get_config()
        config["num_frames"] = num_frames or self.num_frames
        config["image_size"] = tuple(image_size or self.image_size)
        config.pop("name", None)
        resized = FourDSEncoder.from_config(config)
        for source, target in zip(self.weights, resized.weights):
            if source.path.endswith("position_embedding/embeddings"):
                target.assign(resize_grid(ops.convert_to_numpy(source), target.shape))
            else:
                target.assign(source)
        return resized

    def get_config(self):
        return {**super().get_config(), "width": self.width,
                "depth": self.depth, "mlp_dim": self.mlp_dim, "num_heads": self.num_heads,
                "num_frames": self.num_frames, "image_size": self.image_size,
                "patch_size": self.patch_size, "layer_norm_epsilon": self.layer_norm_epsilon,
                "remat": self.remat}


def _remat_call(block, tokens, training):
    """`block(tokens)` rematerialised in the backward pass. A fresh function per call:
    `jax.checkpoint` caches its trace per function, and a cached trace of `block.call` (what
    `keras.RematScope` wraps) would keep the weights of the first trace (stale or leaked
    tracers, keras#20936). Positional arguments only (tf.recompute_grad, keras#21207)."""
    return keras.remat(lambda x: block(x, training=training))(tokens)


def official_readout_index(num_blocks, readout_depth=0.95):
    """Map the official `readout_depth` selection onto our `h_0 ... h_L` indices."""
    official_entry = int((num_blocks + 1) * readout_depth) - 1
    if not 0 <= official_entry <= num_blocks:
        raise ValueError(f"readout_depth {readout_depth} selects no hidden state of a "
                         f"{num_blocks}-block encoder")
    return max(official_entry - 1, 0)
