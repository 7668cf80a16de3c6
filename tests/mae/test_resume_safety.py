"""Resume trusts only complete checkpoints of the same run: half-written steps are skipped
with a warning, changed settings and foreign folders are errors naming what differs."""
import json
import os
import re
import shutil

import keras
import numpy as np
import pytest

from keras4ds.mae import pretrain

from .helpers import tiny_encoder, tiny_mae

STEPS, EVERY, BATCH = 6, 3, 2
RUN = dict(learning_rate=1e-3, warmup_steps=2, data_settings={"source": "procedural", "order_seed": 0})


def _videos(batch_size=BATCH, batches=10):
    videos = np.random.default_rng(0).random((batch_size * batches, 4, 16, 16, 3)).astype("float32")
    return [videos[i:i + batch_size] for i in range(0, len(videos), batch_size)]


def _numpy(model):
    return [keras.ops.convert_to_numpy(v) for v in model.variables]


class _Stopped(Exception):
    pass


class _Snapshot(keras.callbacks.Callback):
    """The optimizer step and model variables when training begins (then stops training, if
    `stop`), and the variables after step `step`."""

    def __init__(self, step=None, stop=False):
        super().__init__()
        self.step, self.stop = step, stop
        self.begin_step = self.begin = self.at_step = None

    def on_train_begin(self, logs=None):
        self.begin_step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self.begin = _numpy(self.model)
        if self.stop:
            raise _Stopped

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.step:
            self.at_step = _numpy(self.model)


def _model(width=16, mask_ratio=0.75, decoder="standard", decoder_depth=1):
    keras.utils.set_random_seed(0)
    encoder = tiny_encoder(width=width, depth=1)
    return tiny_mae(decoder=decoder, mask_ratio=mask_ratio, encoder=encoder, seed=3,
                    decoder_depth=decoder_depth)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 6-step run with checkpoints at steps 3 and 6, and its weights at both."""
    folder = tmp_path_factory.mktemp("run") / "checkpoints"
    mae = _model()
    snapshot = _Snapshot(step=EVERY)
    pretrain(mae.encoder, _videos(), STEPS, mae=mae, checkpoint_dir=folder,
             checkpoint_every=EVERY, callbacks=[snapshot], verbose=0, **RUN)
    assert sorted(os.listdir(folder)) == ["3", "6"]
    return {"folder": folder, "step3": snapshot.at_step, "final": _numpy(mae)}


def _copy(run, tmp_path):
    folder = tmp_path / "checkpoints"
    shutil.copytree(run["folder"], folder)
    return folder


def _resume(folder, steps=STEPS, batch_size=BATCH, model=None, callbacks=(), **options):
    mae = model or _model()
    history = pretrain(mae.encoder, _videos(batch_size), steps, mae=mae, checkpoint_dir=folder,
                       checkpoint_every=EVERY, resume=True, verbose=0, callbacks=list(callbacks),
                       **{**RUN, **options})
    return mae, history


def _resumed_state(folder, **options):
    """The optimizer step and the weights a resume starts training from (training is
    stopped there)."""
    snapshot = _Snapshot(stop=True)
    with pytest.raises(_Stopped):
        _resume(folder, callbacks=[snapshot], **options)
    return snapshot.begin_step, snapshot.begin


def _assert_same(actual, expected):
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b)


def _truncate_array_files(step):
    """Cut every OCDBT data file of `step` to half (one alone may hold only values the
    checkpoint no longer refers to, and still read back whole)."""
    for root, _, names in os.walk(step / "state"):
        if os.path.basename(root) == "d":
            for name in names:
                path = os.path.join(root, name)
                os.truncate(path, os.path.getsize(path) // 2)


DAMAGES = {
    "truncated_array_files": (_truncate_array_files, r"reading it failed"),
    "missing_metadata_file": (lambda step: os.remove(step / "state" / "_METADATA"),
                              r"reading it failed with FileNotFoundError"),
    "missing_commit_marker": (lambda step: os.remove(step / "commit_success.txt"),
                              r"it has no Orbax commit marker commit_success\.txt"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_half_written_last_checkpoint_is_skipped_and_removed(run, tmp_path, damage):
    folder = _copy(run, tmp_path)
    spoil, reason = DAMAGES[damage]
    spoil(folder / "6")
    with pytest.warns(UserWarning, match=rf"skipping half-written checkpoint "
                                         rf"{re.escape(str(folder / '6'))} \({reason}"):
        step, weights = _resumed_state(folder)
    assert step == 3  # resumed from the previous checkpoint ...
    _assert_same(weights, run["step3"])  # ... with its weights
    assert sorted(os.listdir(folder)) == ["3"]  # removed, so that training saves step 6 again


def test_orbax_temporary_folder_left_by_a_kill_is_skipped(run, tmp_path):
    folder = _copy(run, tmp_path)
    os.rename(folder / "6", folder / "6.orbax-checkpoint-tmp")
    with pytest.warns(UserWarning, match=r"half-written checkpoint .*6\.orbax-checkpoint-tmp"):
        step, weights = _resumed_state(folder)
    assert step == 3
    _assert_same(weights, run["step3"])


CHANGES = {
    "batch_size": (dict(batch_size=4), r"batch_size: 2 -> 4"),
    "mask_ratio": (dict(model_options=dict(mask_ratio=0.5)), r"mask_ratio: 0\.75 -> 0\.5"),
    "decoder": (dict(model_options=dict(decoder="cross")), r"decoder: 'standard' -> 'cross'"),
    "decoder_depth": (dict(model_options=dict(decoder_depth=2)), r"decoder_depth: 1 -> 2"),
    "learning_rate": (dict(learning_rate=2e-3), r"learning_rate: 0\.001 -> 0\.002"),
    "warmup_steps": (dict(warmup_steps=1), r"warmup_steps: 2 -> 1"),
    "encoder_width": (dict(model_options=dict(width=32)), r"encoder\.width: 16 -> 32"),
    "fewer_steps": (dict(steps=5), r"steps: 6 -> 5"),
    "data_order_seed": (dict(data_settings={"source": "procedural", "order_seed": 1}),
                        r"data\.order_seed: 0 -> 1"),
    "data_source": (dict(data_settings={"source": "folder:clips", "order_seed": 0}),
                    r"data\.source: 'procedural' -> 'folder:clips'"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_resume_with_changed_settings_is_refused(run, tmp_path, change):
    folder = _copy(run, tmp_path)
    options, listed = CHANGES[change]
    options = dict(options)
    model = _model(**options.pop("model_options", {}))
    where = re.escape(str(folder / "6"))
    with pytest.raises(ValueError, match=rf"refusing to resume from {where}: .*{listed}"):
        _resume(folder, model=model, **options)


def test_override_resumes_with_the_changes_it_allows(run, tmp_path):
    folder = _copy(run, tmp_path)
    with pytest.raises(ValueError, match=r"saved -> now: mask_ratio: 0\.75 -> 0\.5\)"):
        _resume(folder, model=_model(mask_ratio=0.5), learning_rate=2e-3,
                allow_changed_settings=["learning_rate"])
    with pytest.warns(UserWarning, match=r"changed settings: learning_rate: 0\.001 -> 0\.002"):
        mae, history = _resume(folder, learning_rate=2e-3, allow_changed_settings=["learning_rate"])
    assert history["step"] == []  # resumed at the last step: nothing left to train
    _assert_same(_numpy(mae), run["final"])


def test_override_of_an_unknown_setting_is_refused(run, tmp_path):
    with pytest.raises(ValueError, match=r"unknown settings \['learning_rte'\]"):
        _resume(_copy(run, tmp_path), allow_changed_settings=["learning_rte"])


def test_checkpoint_of_another_model_names_the_variable(run, tmp_path):
    folder = _copy(run, tmp_path)
    kernel = "four_ds_encoder/tubelet_embedding/kernel"
    with pytest.raises(ValueError, match=rf"checkpoint {re.escape(str(folder / '6'))} does not "
                                         rf"fit this model: model variable #1 is '{kernel}:"
                                         r"\[2, 4, 4, 3, 16\]' there, but this model's is "
                                         rf"'{kernel}:\[2, 4, 4, 3, 32\]'"):
        _resume(folder, model=_model(width=32), allow_changed_settings=True)


def test_unchanged_settings_resume_and_more_steps_continue(run, tmp_path, recwarn):
    folder = _copy(run, tmp_path)
    mae, history = _resume(folder)
    assert history["step"] == []  # resumed at the last step: nothing left to train
    _assert_same(_numpy(mae), run["final"])
    step, weights = _resumed_state(folder, steps=STEPS + 2)
    assert step == STEPS
    _assert_same(weights, run["final"])
    ours = [w for w in recwarn if "checkpoint" in str(w.message) or "settings" in str(w.message)]
    assert not ours


def test_a_resume_asks_a_batch_function_for_its_batches_from_the_resumed_step(run, tmp_path):
    folder = tmp_path / "checkpoints"
    shutil.copytree(run["folder"], folder)
    shutil.rmtree(folder / str(STEPS))  # the run was killed after its step-3 checkpoint
    asked, videos = [], _videos()

    def batches_from(step):
        asked.append(step)
        return videos[step:]

    mae = _model()
    history = pretrain(mae.encoder, batches_from, STEPS, mae=mae, checkpoint_dir=folder,
                       checkpoint_every=EVERY, resume=True, verbose=0, **RUN)
    assert asked == [0, EVERY]  # step 0 for the batch size only; training reads from step 3
    assert history["step"] == [4, 5, 6]
    _assert_same(_numpy(mae), run["final"])


def test_settings_are_saved_with_each_checkpoint(run):
    with open(run["folder"] / "3" / "meta" / "metadata") as f:
        settings = json.load(f)["settings"]
    assert settings["batch_size"] == BATCH and settings["steps"] == STEPS
    assert settings["learning_rate"] == 1e-3 and settings["warmup_steps"] == 2
    assert settings["mask_ratio"] == 0.75 and settings["decoder"] == "standard"
    assert settings["decoder_depth"] == 1 and settings["seed"] == 3
    assert settings["encoder"]["width"] == 16 and "name" not in settings["encoder"]


def test_folder_of_random_files_is_not_a_checkpoint(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a checkpoint")
    (folder / "weights.bin").write_bytes(os.urandom(64))
    with pytest.raises(ValueError, match=rf"{re.escape(str(folder))} is not a training "
                                         r"checkpoint folder: expected Orbax step folders .* "
                                         r"found \['notes\.txt', 'weights\.bin'\]"):
        _resume(folder)


def test_step_folder_of_random_files_is_unreadable(tmp_path):
    folder = tmp_path / "checkpoints"
    (folder / "7").mkdir(parents=True)
    (folder / "7" / "commit_success.txt").write_text("looks committed")
    (folder / "7" / "weights.bin").write_bytes(os.urandom(64))
    with pytest.raises(ValueError, match=rf"no readable training checkpoint in "
                                         rf"{re.escape(str(folder))}: step folder "
                                         rf"{re.escape(str(folder / '7'))}: reading it failed"):
        _resume(folder)


def test_fresh_run_into_a_folder_with_checkpoints_is_refused(run, tmp_path):
    folder = _copy(run, tmp_path)
    mae = _model()
    with pytest.raises(ValueError, match=rf"checkpoint_dir {re.escape(str(folder))} already "
                                         r"holds checkpoints \(steps \[3, 6\]\); pass resume=True"):
        pretrain(mae.encoder, _videos(), STEPS, mae=mae, checkpoint_dir=folder, verbose=0, **RUN)


def test_checkpoints_written_in_the_background_hold_the_state_of_their_step(run, tmp_path):
    folder = tmp_path / "checkpoints"
    mae = _model()
    pretrain(mae.encoder, _videos(), STEPS, mae=mae, checkpoint_dir=folder,
             checkpoint_every=EVERY, async_checkpoints=True, verbose=0, **RUN)
    assert sorted(os.listdir(folder)) == ["3", "6"]  # both complete when pretrain returns
    _assert_same(_numpy(mae), run["final"])
    shutil.rmtree(folder / "6")  # step 3 was written while steps 4-6 trained
    step, weights = _resumed_state(folder)
    assert step == EVERY
    _assert_same(weights, run["step3"])
