"""keras4ds_apps.encoders: the runners' random-init and file encoders."""
import os

import pytest
from fixture_files import OFFICIAL_FORMAT

from keras4ds_apps.encoders import file_encoder, random_encoder


def test_random_encoder_takes_a_size_or_a_shape_and_overrides():
    small = random_encoder(4, 32, width=32, depth=1, num_heads=2, patch_size=(2, 8, 8))
    assert (small.width, small.mlp_dim, small.grid) == (32, 128, (2, 4, 4))
    tiny = random_encoder(2, 32, "ti", depth=1, patch_size=(2, 16, 16), name="x")
    assert (tiny.width, tiny.depth, tiny.num_heads, tiny.name) == (192, 1, 3, "x")
    with pytest.raises(ValueError, match="missing depth, num_heads"):
        random_encoder(4, 32, width=32)


def test_file_encoder_takes_a_depth_models_encoder_resizes_and_names_a_bad_file(tmp_path):
    backbone = file_encoder(os.path.join(OFFICIAL_FORMAT, "dev_backbone.npz"))
    depth = file_encoder(os.path.join(OFFICIAL_FORMAT, "dev_depth.npz"))
    assert type(depth) is type(backbone)
    size = 2 * backbone.image_size[0]
    resized = file_encoder(os.path.join(OFFICIAL_FORMAT, "dev_backbone.npz"), image_size=size)
    assert resized.image_size == (size, size) and resized.num_frames == backbone.num_frames
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(Exception, match="bad.npz"):
        file_encoder(str(tmp_path / "bad.npz"))
