"""Closed-form feature probes: token targets from clips and ridge R^2."""
import numpy as np
import pytest

from keras4ds_apps.study.feature_probes import (
    correspondence_accuracy,
    feature_probe_r2,
    ridge_r2,
    token_targets,
)

pytestmark = pytest.mark.backend_independent


def test_ridge_r2_is_one_for_a_linear_target_and_about_zero_for_noise():
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(500, 8)), rng.normal(size=(200, 8))
    w = rng.normal(size=8)
    assert ridge_r2(x, x @ w + 2, x_test, x_test @ w + 2, penalty=1e-8) == pytest.approx(1, abs=1e-6)
    assert abs(ridge_r2(x, rng.normal(size=500), x_test, rng.normal(size=200))) < 0.1
    y = x @ w
    y[::3] = np.nan  # NaN targets are left out, not fit
    assert ridge_r2(x, y, x_test, x_test @ w, penalty=1e-8) == pytest.approx(1, abs=1e-6)
    assert np.isnan(ridge_r2(x, np.full(500, np.nan), x_test, x_test @ w))  # nothing to fit


def test_token_targets_of_a_procedural_clip():
    from keras4ds.data.synthetic import generate_clip

    clip = generate_clip(3, 4, 32, 32, num_tracks=64)
    clips = {k: v[None] for k, v in clip.items()}
    targets = token_targets(clips, (2, 4, 4), (2, 8, 8))
    assert {k: v.shape for k, v in targets.items()} == {k: (1, 32) for k in targets}
    depth = np.log(np.maximum(clip["depth"][:2, :8, :8, 0], 1e-3)).mean()
    assert targets["log_depth"][0, 0] == pytest.approx(depth, rel=1e-5)
    assert 0 <= np.nanmin(targets["objectness"]) and np.nanmax(targets["objectness"]) <= 1
    assert np.nanmin(targets["motion"]) >= 0 and np.isfinite(targets["motion"]).any()


def test_features_that_are_the_targets_score_one():
    rng = np.random.default_rng(1)
    targets = [{name: rng.normal(size=(4, 16)) for name in ("log_depth", "objectness", "motion")}
               for _ in range(2)]
    features = [np.stack([t[k] for k in ("log_depth", "objectness", "motion")], -1) for t in targets]
    r2 = feature_probe_r2(features[0], targets[0], features[1], targets[1])
    assert all(v > 0.99 for v in r2.values())


def test_token_speed_and_velocity_of_hand_made_tracks():
    """One track moving +2 px/frame in x through token 0 (frames 0-1), one still and one
    hidden elsewhere; tokens without a visible track are NaN."""
    from keras4ds_apps.study.feature_probes import token_speed, token_velocity

    tracks = np.zeros((1, 3, 4, 2))
    tracks[0, 0, :, 0] = [1, 3, 5, 7]  # x, pixels
    tracks[0, 0, :, 1] = 1
    tracks[0, 1] = [20, 20]  # still, at token (y 2, x 2) of each frame pair
    tracks[0, 2] = [20, 4]
    visible = np.ones((1, 3, 4), bool)
    visible[0, 2] = False
    clips = {"tracks": tracks, "visible": visible, "video": np.zeros((1, 4, 32, 32, 3))}
    velocity = token_velocity(clips, (2, 4, 4), (2, 8, 8))
    speed = token_speed(clips, (2, 4, 4), (2, 8, 8))
    assert velocity.shape == (1, 32, 2) and speed.shape == (1, 32)
    np.testing.assert_allclose(velocity[0, 0], [2, 0])  # steps 0->1 and 1->2 start in token 0
    assert speed[0, 0] == pytest.approx(2)
    still = 2 * 4 + 2
    np.testing.assert_allclose(velocity[0, still], [0, 0])
    assert speed[0, still] == 0
    assert np.isnan(speed[0, 1])  # no visible track there
    assert np.isnan(velocity[0, 1]).all()


def test_correspondence_matches_features_that_name_the_surface_point():
    """Features that are a code of the surface under each token (which track sits there)
    match every track across frames; features that are noise match about 1 in h*w."""
    from keras4ds.data.synthetic import generate_clip

    grid, patch = (4, 8, 8), (2, 8, 8)
    clip = generate_clip(5, 8, 64, 64, num_tracks=24)
    clips = {k: v[None] for k, v in clip.items()}
    codes = np.random.default_rng(0).normal(size=(24, 32))
    features = np.zeros((1, 4, 64, 32))
    for frame in range(4):  # each token holds the code of the visible track inside it
        for n in np.flatnonzero(clip["visible"][:, 2 * frame] > 0.5):
            x, y = clip["tracks"][n, 2 * frame]
            if 0 <= x < 64 and 0 <= y < 64:
                features[0, frame, int(y // 8) * 8 + int(x // 8)] = codes[n]
    features = features.reshape(1, 256, 32)
    perfect = correspondence_accuracy(features, clips, grid, patch)
    noise = correspondence_accuracy(np.random.default_rng(1).normal(size=(1, 256, 32)), clips,
                                    grid, patch)
    assert perfect > 0.5 and noise < 0.1  # tracks that share a token can be mistaken
