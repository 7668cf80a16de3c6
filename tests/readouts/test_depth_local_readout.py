"""The depth readout's local queries: each output block reads the tokens where it is."""
import numpy as np
import pytest
from keras import ops

from keras4ds.models import FourDSEncoder
from keras4ds.readouts import DepthProbe
from keras4ds.readouts.depth import local_query_mask


def test_radius_zero_gives_each_block_the_tokens_under_it():
    mask = local_query_mask((2, 2, 2), (2, 16, 16), 4, (4, 4), (8, 8), 0).reshape(2, 2, 2, 4, 4, 4)
    assert mask.sum() == 8 * 2 * 2 * 2  # every block: its 2 frames x 2 x 2 tokens
    assert mask[1, 0, 1][2:, :2, 2:].all() and mask[1, 0, 1].sum() == 8


def test_radius_one_adds_the_neighbouring_tokens():
    mask = local_query_mask((1, 2, 2), (2, 16, 16), 2, (4, 4), (8, 8), 1).reshape(1, 2, 2, 2, 4, 4)
    assert mask[0, 0, 0].sum() == 2 * 3 * 3  # a corner block: 3 x 3 tokens per frame
    assert mask[0, 1, 1][:, 1:, 1:].all() and not mask[0, 1, 1][:, 0].any()


def _probe(radius):
    encoder = FourDSEncoder(16, 1, 32, 2, num_frames=4, image_size=(32, 32), patch_size=(2, 8, 8))
    return DepthProbe(encoder, num_params=16, num_heads=2, decoding_patch_size=(2, 16, 16),
                      local_radius=radius)


def test_a_local_block_ignores_the_features_far_from_it():
    probe = _probe(0)
    features = np.random.default_rng(0).normal(size=(1, 32, 16)).astype("float32")
    changed = features.copy().reshape(1, 2, 4, 4, 16)
    changed[:, :, 2:, 2:] += 5.0  # the tokens under the bottom-right blocks only
    depth, again = (ops.convert_to_numpy(probe({"features": f})) for f in
                    (features, changed.reshape(1, 32, 16)))
    np.testing.assert_allclose(depth[:, :, :16, :16], again[:, :, :16, :16], atol=1e-6)
    assert not np.allclose(depth[:, :, 16:, 16:], again[:, :, 16:, 16:])


def test_local_radius_is_kept_in_the_config_and_checked():
    assert DepthProbe.from_config(_probe(1).get_config()).local_radius == 1
    with pytest.raises(ValueError, match="local_radius is a radius in tokens"):
        _probe(-1)


@pytest.mark.parametrize("use_mlp", [True, False])
def test_without_its_mlp_the_readout_ends_in_linear_maps(use_mlp):
    encoder = FourDSEncoder(16, 1, 32, 2, num_frames=4, image_size=(32, 32), patch_size=(2, 8, 8))
    probe = DepthProbe(encoder, num_params=16, num_heads=2, decoding_patch_size=(2, 16, 16),
                       readout_mlp=use_mlp)
    features = {"features": np.random.default_rng(1).normal(size=(1, 32, 16)).astype("float32")}
    before = ops.convert_to_numpy(probe(features))
    for weight in probe.readout.mlp.weights:
        weight.assign(weight + 0.5)
    after = ops.convert_to_numpy(probe(features))
    assert np.allclose(before, after) != use_mlp
