"""The readout's own position code: where a token is comes from the head, not the encoder."""
import keras
import numpy as np
import pytest

from keras4ds.models import FourDSEncoder
from keras4ds.models.readout import AttentionReadout, sincos_grid_code
from keras4ds.readouts import make_probe


def test_grid_code_gives_every_position_its_own_code():
    code = sincos_grid_code((4, 6), 16)
    assert code.shape == (24, 16) and code.dtype == np.float32
    distances = np.linalg.norm(code[:, None] - code[None], axis=-1)
    assert np.all(distances[~np.eye(24, dtype=bool)] > 1e-3)


def test_grid_code_needs_channels_divisible_by_four():
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_grid_code((2, 2), 6)


def _readout(spatial_grid):
    keras.utils.set_random_seed(0)
    readout = AttentionReadout(num_classes=3, num_params=16, num_heads=2, num_queries=2,
                               spatial_grid=spatial_grid)
    readout.build((None, 1, 6, 8))
    return readout


def _token_order_matters(readout):
    """Does moving the content of the tokens around change the readout's answer?"""
    features = np.random.default_rng(0).normal(size=(1, 1, 6, 8)).astype("float32")
    moved = features[:, :, ::-1]
    answer, moved_answer = (keras.ops.convert_to_numpy(readout(f)) for f in (features, moved))
    return not np.allclose(answer, moved_answer, atol=1e-6)


def test_official_readout_sees_a_token_only_through_its_features():
    assert not _token_order_matters(_readout(None))


def test_spatial_grid_tells_the_readout_where_each_token_is():
    assert _token_order_matters(_readout((2, 3)))


def test_spatial_grid_must_match_the_tokens():
    readout = AttentionReadout(num_classes=3, num_params=16, num_heads=2, spatial_grid=(2, 2))
    with pytest.raises(ValueError, match=r"spatial_grid \(2, 2\) has 4 positions but the features have 6"):
        readout.build((None, 1, 6, 8))


def test_spatial_grid_survives_the_config():
    restored = AttentionReadout.from_config(_readout((2, 3)).get_config())
    assert restored.spatial_grid == (2, 3)


@pytest.mark.parametrize("task", ["depth", "pose", "points", "boxes", "classify"])
def test_probe_readout_position_reaches_its_readout(task):
    encoder = FourDSEncoder(32, 1, 64, 2, num_frames=4, image_size=(32, 32))
    head = {"head": "attention"} if task == "points" else {}
    probe = make_probe(task, encoder, num_params=32, num_classes=4, readout_position=True, **head)
    assert probe.readout.spatial_grid == encoder.grid[1:]
    assert probe.get_config()["readout_position"] is True
    plain = make_probe(task, encoder, num_params=32, num_classes=4, **head)
    assert plain.readout.spatial_grid is None
