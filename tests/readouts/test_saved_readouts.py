"""A readout a recipe trained is a file: loaded in a fresh process it scores the same."""
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras4ds.models import FourDSEncoder
from keras4ds.readouts import load_readout, make_probe, save_readout

TINY = ["--frames", "4", "--image-size", "32", "--width", "16", "--depth", "1", "--heads", "2",
        "--num-params", "16", "--num-heads", "2", "--steps", "3", "--batch-size", "2",
        "--train-clips", "4", "--eval-clips", "3"]


def _recipe(task, args):
    subprocess.run([sys.executable, "-c", "import sys; from keras4ds_apps.probe import main; "
                    f"main({task!r}, sys.argv[1:])", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["boxes", "points", "classify"])
def test_a_saved_readout_gives_back_its_metrics_in_a_fresh_process(task, tmp_path):
    trained, scored = tmp_path / "trained", tmp_path / "scored"
    _recipe(task, TINY + ["--out", str(trained)])
    readout = trained / f"{task}_readout.keras"
    assert readout.exists()
    _recipe(task, TINY + ["--out", str(scored), "--eval-only", "--readout", str(readout)])
    first, again = (json.load(open(d / f"{task}_metrics.json")) for d in (trained, scored))
    assert again["metrics"] == first["metrics"] and again["baseline"] == first["baseline"]
    assert again["encoder"]["init"] == "readout"


def _probe(task="depth"):
    encoder = FourDSEncoder(16, 1, 32, 2, num_frames=4, image_size=(32, 32))
    return make_probe(task, encoder, num_params=16, num_heads=2, readout_position=True)


def test_save_and_load_keep_the_weights_and_settings(tmp_path):
    probe = _probe()
    path = save_readout(probe, str(tmp_path / "depth_readout.keras"))
    loaded = load_readout(path, "depth")
    assert loaded.readout_position and loaded.frozen
    assert len(loaded.weights) == len(probe.weights)
    for a, b in zip(probe.weights, loaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]


def test_a_readout_of_another_task_is_refused(tmp_path):
    path = save_readout(_probe(), str(tmp_path / "depth_readout.keras"))
    with pytest.raises(ValueError, match="is a depth readout, not a boxes one"):
        load_readout(path, "boxes")


@pytest.mark.parametrize("write, error, message", [
    (None, FileNotFoundError, "does not exist"),
    (b"not a zip", ValueError, "is not a readout saved by save_readout"),
])
def test_a_missing_or_damaged_readout_file_is_an_error(tmp_path, write, error, message):
    path = tmp_path / "r.keras"
    if write is not None:
        path.write_bytes(write)
    with pytest.raises(error, match=message):
        load_readout(str(path))


def test_save_readout_wants_a_probe_and_a_keras_name(tmp_path):
    with pytest.raises(ValueError, match="must end in .keras"):
        save_readout(_probe(), str(tmp_path / "r.h5"))
    with pytest.raises(TypeError, match="takes a keras4ds Probe"):
        save_readout(object(), str(tmp_path / "r.keras"))


def test_eval_only_and_readout_go_together(tmp_path):
    from keras4ds_apps.probe import main

    with pytest.raises(ValueError, match="--eval-only and --readout FILE go together"):
        main("depth", TINY + ["--out", str(tmp_path), "--eval-only"])
