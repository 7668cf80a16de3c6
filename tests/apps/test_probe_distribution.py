"""The probe recipes under `--distribution`: model parallel on a 2x4 mesh and data
parallel, on 8 fake CPU devices (a child process: the device count is set before JAX)."""
import math
import os

import pytest

from keras4ds_apps.probe import main

pytestmark = pytest.mark.backend_independent


def test_depth_probe_trains_under_model_and_data_parallel(tmp_path, child_result):
    child = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe_distributed_child.py")
    out = child_result([child, str(tmp_path)], timeout=900)
    assert all(math.isfinite(run["abs_rel"]) for run in out.values()), out
    # the encoder's attention kernels are split on the mesh's "model" axis, and only there
    assert out["model"]["query_specs"] and all("model" in s for s in out["model"]["query_specs"])
    assert all("model" not in s for s in out["data"]["query_specs"]), out


def test_distribution_arguments_are_checked_before_any_work(tmp_path):
    base = ["--out", str(tmp_path / "out"), "--steps", "1", "--batch-size", "3"]
    with pytest.raises(SystemExit, match="--mesh BxM goes with --distribution model"):
        main("depth", base + ["--mesh", "2x4"])
    with pytest.raises(SystemExit, match="--mesh must be BxM"):
        main("depth", base + ["--distribution", "model", "--mesh", "two"])
    assert not (tmp_path / "out").exists()
