"""Tiny encoder and procedural clips shared by the readout tests."""
import pytest

FRAMES, SIZE = 4, 32


@pytest.fixture
def make_encoder():
    """Factory of width-32, 2-block encoders for 4 frames of 32x32 (token grid (2, 2, 2))."""
    from tiny_models import tiny_encoder

    def make():
        return tiny_encoder(num_frames=FRAMES, image_size=(SIZE, SIZE), patch_size=(2, 16, 16))
    return make


@pytest.fixture(scope="session")
def clips():
    """Ten 4x32x32 procedural clips with 32 tracks and 2 objects, labelled by seed parity."""
    from keras4ds.data.synthetic import generate_clip
    out = []
    for seed in range(10):
        clip = generate_clip(seed, num_frames=FRAMES, height=SIZE, width=SIZE, num_tracks=32,
                             num_objects=2)
        clip["label"] = seed % 2
        out.append(clip)
    return out
