"""The pretraining runner (`recipes/pretrain_mae.py`) end to end on procedural scenes, with a
resume."""
import importlib.util
import os

import numpy as np
import pytest

from keras4ds_apps import pretrain


def test_recipe_trains_checkpoints_resumes_exports_and_draws(tmp_path):
    args = ["--out", str(tmp_path), "--width", "32", "--depth", "1", "--mlp-dim", "64", "--heads", "2",
            "--frames", "4", "--image-size", "16", "--patch", "2", "4", "4", "--mask-ratio", "0.75",
            "--decoder-width", "16", "--decoder-depth", "1", "--decoder-heads", "2", "--batch", "2",
            "--checkpoint-every", "2", "--lr", "1e-3", "--tensorboard-every", "1"]
    first = pretrain.main(args + ["--steps", "2"])
    assert first["step"] == [1, 2]
    second = pretrain.main(args + ["--steps", "4", "--resume"])
    assert second["step"] == [3, 4]  # continued from the step-2 checkpoint
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["2", "4"]
    rows = np.loadtxt(tmp_path / "metrics.csv", delimiter=",", skiprows=1)
    assert rows[:, 0].tolist() == [1, 2, 3, 4] and np.isfinite(rows[:, 1]).all()
    if importlib.util.find_spec("tensorboard"):
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(tmp_path / "tensorboard"))
        events.Reload()
        logged = events.Scalars("train/loss")  # both runs' event files, at global steps
        assert [e.step for e in logged] == [1, 2, 3, 4]
        np.testing.assert_allclose([e.value for e in logged], rows[:, 1], rtol=1e-4)
    for name in ("reconstruction.png", "reconstruction.mp4"):
        assert os.path.getsize(tmp_path / name) > 0
    from keras4ds.checkpoints import load_preset

    encoder = load_preset(tmp_path / "encoder_preset")
    assert encoder.grid == (2, 4, 4) and encoder.width == 32


def test_augment_crops_flips_and_jitters_the_pretraining_clips():
    base = ["--out", "unused", "--frames", "4", "--image-size", "16", "--batch", "2", "--seed", "3"]
    plain = pretrain.make_dataset(pretrain.parse_args(base))
    augmented = pretrain.make_dataset(pretrain.parse_args(base + ["--augment"]))
    first, changed = (next(iter(ds))["video"].numpy() for ds in (plain, augmented))
    assert changed.shape == first.shape == (2, 4, 16, 16, 3)
    assert 0.0 <= changed.min() and changed.max() <= 1.0
    assert np.abs(changed - first).mean() > 0.01
    again = next(iter(pretrain.make_dataset(pretrain.parse_args(base + ["--augment"]))))["video"]
    np.testing.assert_array_equal(again.numpy(), changed)  # seeded: resume sees the same


@pytest.mark.parametrize("augment", [[], ["--augment"]])
def test_the_stream_from_a_batch_on_is_the_whole_streams_tail(augment):
    args = pretrain.parse_args(["--out", "unused", "--frames", "4", "--image-size", "16",
                                "--batch", "2", "--seed", "3", *augment])
    whole = [b["video"].numpy() for b in pretrain.make_dataset(args).take(3)]
    later = [b["video"].numpy() for b in pretrain.make_dataset(args, first_batch=2).take(1)]
    np.testing.assert_array_equal(later[0], whole[2])


def test_remat_flag_builds_a_remat_encoder():
    tiny = ["--out", "unused", "--width", "32", "--depth", "1", "--mlp-dim", "64", "--heads", "2",
            "--frames", "4", "--image-size", "16", "--patch", "2", "4", "4"]
    assert pretrain.make_encoder(pretrain.parse_args(tiny + ["--remat"])).remat
    assert not pretrain.make_encoder(pretrain.parse_args(tiny)).remat


@pytest.mark.backend_independent
def test_model_parallel_run_is_killed_and_resumes_to_the_same_weights(tmp_path, child_result):
    child = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrain_distributed_child.py")
    out = child_result([child, str(tmp_path)], timeout=900)
    assert out["resumed_steps"] == [3, 4]
    assert out["difference"] == 0.0, out
    # equal up to the rounding of the per-step loss recovered from Keras' running mean
    np.testing.assert_allclose(out["resumed_loss"], out["whole_loss"][2:], rtol=1e-5)
    assert out["layouts"] and all("model" in spec for spec in out["layouts"].values()), out
    # The checkpoint holds the sharded arrays (Orbax recorded each one's NamedSharding; the
    # attention, MLP and embedding weights and their Adam moments are split on "model"),
    # and a restore reads every array straight into its variable's sharding.
    assert out["saved_arrays"] > 0 and out["saved_model_sharded"] >= 12, out
    assert out["restored_off_sharding"] == [], out


def test_distribution_arguments_are_checked_before_any_work(tmp_path):
    base = ["--out", str(tmp_path), "--width", "32", "--depth", "1", "--heads", "2", "--steps", "1"]
    with pytest.raises(SystemExit, match="--mesh BxM goes with --distribution model"):
        pretrain.main(base + ["--mesh", "2x4"])
    with pytest.raises(SystemExit, match="--mesh must be BxM"):
        pretrain.main(base + ["--distribution", "model", "--mesh", "2by4"])
