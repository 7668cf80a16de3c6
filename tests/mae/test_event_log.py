"""TensorBoard scalars of MAE pretraining, read back with TensorBoard's own reader."""
import sys

import keras
import numpy as np
import pytest

from keras4ds.mae import pretrain
from keras4ds.mae.event_log import ScalarEventWriter

from .helpers import tiny_encoder, tiny_mae

pytest.importorskip("tensorboard")


def _scalars(log_dir, tag="train/loss"):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def _videos(batches=6):
    videos = np.random.default_rng(0).random((2 * batches, 4, 16, 16, 3)).astype("float32")
    return [videos[i:i + 2] for i in range(0, len(videos), 2)]


def _mae():
    keras.utils.set_random_seed(0)
    return tiny_mae(encoder=tiny_encoder(width=16, depth=1), seed=1)


def test_pretraining_losses_are_the_scalars_tensorboard_reads(tmp_path):
    mae = _mae()
    history = pretrain(mae.encoder, _videos(), 4, mae=mae, learning_rate=1e-3, warmup_steps=1,
                       verbose=0, tensorboard_dir=str(tmp_path / "tb"), tensorboard_every=1)
    scalars = _scalars(tmp_path / "tb")
    assert [step for step, _ in scalars] == history["step"] == [1, 2, 3, 4]
    np.testing.assert_allclose([v for _, v in scalars], history["loss"], rtol=1e-6)


def test_scalars_are_written_at_the_steps_given(tmp_path):
    writer = ScalarEventWriter(str(tmp_path))
    for step, value in ((12, 1.0), (14, 3.0)):
        writer.scalar("train/loss", value, step)
    writer.close()
    assert _scalars(tmp_path) == [(12, 1.0), (14, 3.0)]


def test_without_tensorboard_the_error_says_what_to_install(tmp_path, monkeypatch):
    for name in [n for n in sys.modules if n.split(".")[0] == "tensorboard"] + ["tensorboard"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r'pip install "keras4ds\[tensorboard\]"'):
        ScalarEventWriter(str(tmp_path))
