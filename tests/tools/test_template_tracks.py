"""template_tracks: the learning-free pixel tracker behind tools/points_ceiling.py."""
import numpy as np
import pytest
from template_tracks import template_tracks


def _shifting_texture(shifts, size=32, seed=0):
    """A random texture moved by integer (dy, dx) per frame (wrapping): `(T, size, size, 3)`."""
    texture = np.random.default_rng(seed).uniform(size=(size, size, 3)).astype(np.float32)
    return np.stack([np.roll(texture, shift, axis=(0, 1)) for shift in shifts])


def test_follows_a_shifting_texture_exactly_with_sub_pixel_queries():
    shifts = [(0, 0), (1, 2), (3, -1), (-2, 4)]
    video = _shifting_texture(shifts)
    size = video.shape[1]
    # queries away from the wrap seam, at sub-pixel positions, in different frames
    queries = np.array([[0, 10.3 / size, 12.7 / size], [2, 15.5 / size, 9.25 / size],
                        [3, 20.9 / size, 18.1 / size]], np.float32)
    tracks = template_tracks(video, queries, radius=2)
    assert tracks.shape == (3, 4, 2)
    for q, (t, y, x) in enumerate(queries):
        for frame, (dy, dx) in enumerate(shifts):
            qy, qx = shifts[int(t)]
            expected = (x * size + dx - qx, y * size + dy - qy)
            np.testing.assert_allclose(tracks[q, frame] * size, expected, atol=1e-4)


def test_query_frame_is_exact_even_where_the_window_repeats():
    video = np.zeros((3, 8, 8, 1), np.float32)  # flat: every window matches everywhere
    queries = np.array([[1, 0.3, 0.6]], np.float32)
    tracks = template_tracks(video, queries)
    np.testing.assert_allclose(tracks[0, 1], [0.6, 0.3], atol=1e-6)


@pytest.mark.parametrize("video, queries, message", [
    (np.zeros((3, 8, 8)), np.zeros((1, 3)), "video must be"),
    (np.zeros((3, 8, 8, 1)), np.zeros((1, 2)), "query_points must be"),
])
def test_bad_shapes_say_what_was_expected(video, queries, message):
    with pytest.raises(ValueError, match=message):
        template_tracks(video, queries)
