import numpy as np
import pytest

from keras4ds.mae.masking import num_masked, random_mask


@pytest.mark.backend_independent
def test_random_mask_counts_and_seed():
    mask = random_mask(3, (8, 14, 14), 0.95, seed=1)
    assert mask.shape == (3, 8 * 14 * 14) and mask.dtype == bool
    assert (mask.sum(axis=1) == round(0.95 * 8 * 14 * 14)).all()
    np.testing.assert_array_equal(mask, random_mask(3, (8, 14, 14), 0.95, seed=1))
    assert not np.array_equal(mask, random_mask(3, (8, 14, 14), 0.95, seed=2))
    assert not np.array_equal(mask[0], mask[1])


@pytest.mark.backend_independent
def test_tube_mask_is_the_same_in_every_time_step():
    mask = random_mask(2, (4, 6, 6), 0.75, tube_masking=True, seed=0).reshape(2, 4, 36)
    assert (mask == mask[:, :1]).all()
    assert (mask.sum(axis=(1, 2)) == num_masked((4, 6, 6), 0.75, tube_masking=True)).all()


@pytest.mark.backend_independent
def test_mask_ratio_that_leaves_nothing_visible_is_an_error():
    with pytest.raises(ValueError, match="visible"):
        num_masked((1, 2, 2), 0.9)
    with pytest.raises(ValueError, match="mask_ratio"):
        num_masked((4, 4, 4), 1.0)
