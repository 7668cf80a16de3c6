"""procedural_clips: seeded scene sets, with camera-motion labels for classification."""
import numpy as np
import pytest

from keras4ds.data.procedural_clips import procedural_clips
from keras4ds.data.synthetic import CAMERA_MOTIONS


@pytest.mark.backend_independent
def test_same_seeds_same_clips_and_labels_follow_the_camera_motion():
    first = procedural_clips([4, 5], 4, 16, {"num_tracks": 3}, motion_labels=True)
    again = procedural_clips([4, 5], 4, 16, {"num_tracks": 3}, motion_labels=True)
    assert [c["label"] for c in first] == [4 % len(CAMERA_MOTIONS), 5 % len(CAMERA_MOTIONS)]
    assert first[0]["video"].shape == (4, 16, 16, 3) and first[0]["tracks"].shape[0] == 3
    np.testing.assert_array_equal(first[1]["video"], again[1]["video"])
    assert not np.array_equal(first[0]["video"], first[1]["video"])
    assert "label" not in procedural_clips([4], 4, 16)[0]
