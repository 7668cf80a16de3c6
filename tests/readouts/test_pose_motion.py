"""The pose head's global cost volume, step composition and translation losses."""
import keras
import numpy as np
import pytest
from keras import ops

from keras4ds.readouts.pose import GlobalMotion, compose, pose_losses


def _moving_tokens(step_x, frames=3, size=6, channels=16, seed=0):
    """Tokens `(1, frames*size*size, C)` of a random map whose content moves `step_x`
    tokens to the right per frame."""
    field = np.random.default_rng(seed).normal(size=(size, size + 2 * frames, channels))
    crops = [field[:, frames - step_x * i:frames - step_x * i + size] for i in range(frames)]
    return np.stack(crops).reshape(1, -1, channels).astype("float32")


@pytest.mark.parametrize("step_x", [1, -1])
def test_global_motion_finds_the_sign_of_the_shift(step_x):
    layer = GlobalMotion((3, 6, 6), num_frames=3, radius=1)
    out = ops.convert_to_numpy(layer(_moving_tokens(step_x)))
    assert out.shape == (1, 3, 2 * layer.num_shifts)
    cumulative, step = out[0, :, :9], out[0, :, 9:]
    # Shifts are row-major over (dy, dx) in [-1, 1]^2; content moving right by one token
    # matches the previous frame at dx = -1 (index 3), moving left at dx = +1 (index 5).
    best = 3 if step_x == 1 else 5
    assert np.all(np.argmax(step[1:], axis=-1) == best)
    np.testing.assert_allclose(cumulative[0], 0.0, atol=1e-6)
    np.testing.assert_allclose(cumulative[2], step[1] + step[2], rtol=1e-4, atol=1e-5)
    assert np.argmax(cumulative[2]) == best


def test_global_motion_rejects_bad_grids():
    with pytest.raises(ValueError, match="2 token frames"):
        GlobalMotion((1, 4, 4), num_frames=2)
    with pytest.raises(ValueError, match="radius"):
        GlobalMotion((2, 4, 4), num_frames=4, radius=4)


def test_compose_chains_steps_into_camera_to_first_poses():
    rng = np.random.default_rng(0)
    angle = 0.3
    step_rot = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0],
                         [-np.sin(angle), 0, np.cos(angle)]], "float32")
    step_trans = rng.normal(size=3).astype("float32")
    frames = 4
    rot, trans = compose(np.broadcast_to(step_rot, (1, frames, 3, 3)),
                         np.broadcast_to(step_trans, (1, frames, 3)))
    step = np.eye(4)
    step[:3, :3], step[:3, 3] = step_rot, step_trans
    for t in range(frames):
        expected = np.linalg.matrix_power(step, t)
        np.testing.assert_allclose(ops.convert_to_numpy(rot)[0, t], expected[:3, :3], atol=1e-5)
        np.testing.assert_allclose(ops.convert_to_numpy(trans)[0, t], expected[:3, 3], atol=1e-5)


def test_pose_translation_losses():
    gt = np.broadcast_to(np.eye(4, dtype="float32"), (1, 2, 4, 4)).copy()
    gt[0, 1, :3, 3] = [1.0, -2.0, 0.5]
    rotation = gt[..., :3, :3]
    pred = np.zeros((1, 2, 3), "float32")
    expected = {"l1": 3.5 / 2, "l2": 5.25 / 2, "huber": (0.5 + 1.5 + 0.125) / 2}
    for name, value in expected.items():
        rot_loss, trans_loss = pose_losses(rotation, pred, gt, name)
        assert float(rot_loss) == pytest.approx(0.0, abs=1e-6)
        assert float(trans_loss) == pytest.approx(value, rel=1e-5), name
    _, halved = pose_losses(rotation, pred, gt, "l2", scale=2.0)
    assert float(halved) == pytest.approx(expected["l2"] / 4, rel=1e-5)
    with pytest.raises(ValueError, match="translation_loss"):
        pose_losses(rotation, pred, gt, "cosine")


def test_pose_probe_options_and_their_errors(make_encoder, clips):
    from keras4ds.readouts import PoseProbe
    from keras4ds.readouts.batches import probe_batch
    x, _ = probe_batch("pose", clips[:2])
    keras.utils.set_random_seed(0)
    plain = PoseProbe(make_encoder(), num_params=32, num_heads=2, global_motion=False)
    assert not hasattr(plain, "step_mlp")
    assert plain(x)["pose"].shape == (2, x["video"].shape[1], 4, 4)
    with pytest.raises(ValueError, match="translation_loss"):
        PoseProbe(make_encoder(), num_params=32, num_heads=2, translation_loss="cosine")
    from keras4ds.models import FourDSEncoder
    one_frame = FourDSEncoder(32, 1, 64, 2, num_frames=2, image_size=(32, 32))
    with pytest.raises(ValueError, match="global_motion=False"):
        PoseProbe(one_frame, num_params=32, num_heads=2)
