"""Multi-process JAX: `recipes/pretrain_mae.py` run as two local processes of 4 CPU devices
each (`--coordinator`, `--num-processes`, `--process-id`) pretrains under
`--distribution model --mesh 2x4` exactly as one process holding all 8 devices, and writes
its run folder once."""
import csv
import os
import socket
import subprocess
import sys

import pytest

RECIPE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "recipes",
                      "pretrain_mae.py")
TINY = ["--width", "32", "--depth", "1", "--mlp-dim", "64", "--heads", "4", "--frames", "4",
        "--image-size", "32", "--patch", "2", "8", "8", "--steps", "4", "--batch", "4",
        "--decoder-width", "16", "--decoder-depth", "1", "--decoder-heads", "4",
        "--checkpoint-every", "2", "--distribution", "model", "--mesh", "2x4"]


def _env(devices):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    return {**env, "KERAS_BACKEND": "jax",
            "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _losses(folder):
    with open(os.path.join(folder, "metrics.csv")) as f:
        return [(int(row["step"]), float(row["loss"])) for row in csv.DictReader(f)]


@pytest.mark.backend_independent
def test_two_processes_pretrain_as_one_process_of_all_their_devices(tmp_path):
    one = subprocess.run([sys.executable, RECIPE, "--out", str(tmp_path / "one"), *TINY],
                         capture_output=True, text=True, timeout=600, env=_env(8))
    assert one.returncode == 0, one.stderr[-3000:]
    port = _free_port()
    joined = tmp_path / "two"
    logs = [open(tmp_path / f"process{i}.log", "w") for i in (0, 1)]
    children = [subprocess.Popen(
        [sys.executable, RECIPE, "--out", str(joined), *TINY, "--coordinator",
         f"localhost:{port}", "--num-processes", "2", "--process-id", str(i)],
        env=_env(4), stdout=log, stderr=subprocess.STDOUT) for i, log in zip((0, 1), logs)]
    try:
        codes = [child.wait(timeout=600) for child in children]
    finally:
        for child, log in zip(children, logs):
            if child.poll() is None:
                child.kill()
            log.close()
    assert codes == [0, 0], (tmp_path / "process0.log").read_text()[-3000:]
    # The same global batches (each process reads its rows), masks and sharded step; the
    # first process alone writes the log, so each step appears once.
    two, single = _losses(joined), _losses(tmp_path / "one")
    assert [s for s, _ in two] == [s for s, _ in single] == [1, 2, 3, 4]
    assert [x for _, x in two] == pytest.approx([x for _, x in single], rel=1e-5)
    assert sorted(os.listdir(joined / "checkpoints")) == ["2", "4"]
    assert (joined / "encoder_preset").is_dir() and (joined / "reconstruction.png").is_file()


@pytest.mark.backend_independent
def test_joining_processes_is_checked_before_any_work(tmp_path):
    run = subprocess.run([sys.executable, RECIPE, "--out", str(tmp_path / "x"), *TINY,
                          "--num-processes", "2"], capture_output=True, text=True, timeout=300,
                         env=_env(4))
    assert run.returncode != 0
    assert "--num-processes 2 needs --coordinator HOST:PORT" in run.stderr
    for flags, message in ((["--process-id", "1"], "go with --num-processes N > 1"),
                           (["--num-processes", "0"], "must be at least 1")):
        run = subprocess.run([sys.executable, RECIPE, "--out", str(tmp_path / "x"), *TINY, *flags],
                             capture_output=True, text=True, timeout=300, env=_env(4))
        assert run.returncode != 0 and message in run.stderr, run.stderr[-2000:]
    single_device = [a for a in TINY if a not in ("--distribution", "model", "--mesh", "2x4")]
    run = subprocess.run([sys.executable, RECIPE, "--out", str(tmp_path / "x"), *single_device,
                          "--num-processes", "2", "--coordinator", "localhost:1"],
                         capture_output=True, text=True, timeout=300, env=_env(4))
    assert run.returncode != 0 and "needs --distribution data or model" in run.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.backend_independent
def test_joining_processes_off_jax_is_a_clear_error():
    code = ("from keras4ds.distribution import initialize_processes\n"
            "try:\n    initialize_processes('localhost:1', 2, 0)\n"
            "except NotImplementedError as e:\n    print('ERROR', e)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "KERAS_BACKEND": "torch"})
    assert "ERROR initialize_processes needs the JAX backend" in run.stdout, run.stderr[-2000:]
