"""Build the study's encoders and keep them as preset folders.

The random-init baseline of a size is exactly the encoder that MAE pretraining of that
size starts from (same seed), so the two differ only by pretraining.
"""
from __future__ import annotations

import os

import keras

from keras4ds.checkpoints import load_preset, save_preset
from keras4ds.models import FourDSEncoder
from keras4ds_apps.encoders import random_encoder


def build_encoder(budget, size, index: int) -> FourDSEncoder:
    """A freshly initialised encoder of `size` for `budget`'s clips, seeded by `index`."""
    keras.utils.set_random_seed(budget.seed * 1000 + index)
    return random_encoder(budget.num_frames, budget.image_size, **size.encoder_kwargs(),
                          patch_size=budget.patch_size, name=f"encoder_{size.name}")


def initial_encoder(folder, budget, size, index: int) -> FourDSEncoder:
    """The seeded initial encoder of a size, saved once as the 'random' preset."""
    directory = folder.encoder("random", size.name)
    if os.path.isdir(directory):
        return load_preset(directory, expected=FourDSEncoder)
    encoder = build_encoder(budget, size, index)
    save_preset(encoder, directory)
    return encoder


def load_encoder(folder, init: str, size) -> FourDSEncoder:
    """A saved encoder: init 'random' (baseline) or 'mae' (pretrained)."""
    directory = folder.encoder(init, size.name)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"no {init} encoder for size {size.name} at {directory}; "
                                f"its stage has not finished")
    return load_preset(directory, expected=FourDSEncoder)
