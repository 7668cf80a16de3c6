"""Tiny keras4ds models for tests, the one place their sizes are written.

Default encoder: width 32, 2 blocks, 2 heads, 4 frames of 16x16 in (2, 4, 4) tubelets:
token grid (2, 4, 4), 32 tokens.
"""
import keras

from keras4ds.mae import MaskedAutoencoder
from keras4ds.models import DepthModel, FourDSEncoder
from keras4ds.readouts import make_probe


def tiny_encoder(width=32, depth=2, heads=2, num_frames=4, image_size=(16, 16),
                 patch_size=(2, 4, 4), mlp_dim=None, seed=None, **kwargs):
    """A `FourDSEncoder` with MLP width `mlp_dim` (default 2 * width); `seed` seeds Keras
    first, for the same weights on every call."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    return FourDSEncoder(width, depth, mlp_dim or 2 * width, heads, num_frames=num_frames,
                         image_size=tuple(image_size), patch_size=tuple(patch_size), **kwargs)


def tiny_depth_model(encoder=None, num_params=16, num_heads=2, decoding_patch_size=(2, 8, 8),
                     **kwargs):
    return DepthModel(encoder or tiny_encoder(), num_params=num_params, num_heads=num_heads,
                      decoding_patch_size=decoding_patch_size, **kwargs)


def tiny_mae(decoder="standard", mask_ratio=0.75, encoder=None, **kwargs):
    """A `MaskedAutoencoder` with a width-16, 1-block, 2-head decoder."""
    options = {"decoder_width": 16, "decoder_depth": 1, "decoder_heads": 2, **kwargs}
    return MaskedAutoencoder(encoder or tiny_encoder(), decoder=decoder, mask_ratio=mask_ratio,
                             **options)


def tiny_probe(task, encoder=None, num_params=16, num_heads=2, **kwargs):
    """`make_probe(task, ...)` with a 16-parameter, 2-head readout."""
    return make_probe(task, encoder or tiny_encoder(), num_params=num_params,
                      num_heads=num_heads, **kwargs)
