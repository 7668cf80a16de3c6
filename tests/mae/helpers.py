"""Tiny MAE models for tests."""
from keras4ds.mae import MaskedAutoencoder
from keras4ds.models import FourDSEncoder

TINY_VIDEO_SHAPE = (4, 16, 16, 3)


def tiny_encoder(width=32, depth=2, heads=2):
    return FourDSEncoder(width, depth, 2 * width, heads, num_frames=4, image_size=(16, 16),
                         patch_size=(2, 4, 4))


def tiny_mae(decoder="standard", mask_ratio=0.75, encoder=None, **kwargs):
    options = {"decoder_width": 16, "decoder_depth": 1, "decoder_heads": 2, **kwargs}
    return MaskedAutoencoder(encoder or tiny_encoder(), decoder=decoder, mask_ratio=mask_ratio,
                             **options)
