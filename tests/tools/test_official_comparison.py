"""tools/benchmark.py against the official Flax model (skips where representations4d is absent).

The official package lives in its own virtual environment (README: /opt/r4d-venv); CI does
not have it, so these tests skip there and run where it is installed.
"""
import importlib.util
import os

import numpy as np
import pytest

BACKEND = os.environ.get("KERAS_BACKEND", "jax")
TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "benchmark.py")
_spec = importlib.util.spec_from_file_location("keras4ds_benchmark_tool_official", TOOL)
benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark)

OFFICIAL_PYTHON = benchmark.find_official_python()
needs_official = pytest.mark.skipif(OFFICIAL_PYTHON is None,
                                    reason="the official representations4d is not installed")
TINY = {"case": "official", "size": "ti", "batch": 2, "frames": 4, "resolution": 32,
        "iters": 2, "warmup": 1, "torch_compile": False, "readout_params": 32,
        "readout_heads": 2}


@needs_official
@pytest.mark.skipif(BACKEND != "jax", reason="the official model is JAX: one run is enough")
def test_official_flax_matches_ours_and_is_timed():
    result = benchmark.run_case(TINY, "jax", timeout=300, python=OFFICIAL_PYTHON)
    assert "error" not in result and "skipped" not in result, result
    # same weights, same input: float32 rounding apart (a wrong mapping gives O(1))
    assert result["max_relative_difference"] < 1e-5
    assert result["blocks"] == 11  # Ti has 12 blocks; the official list stops at h_11
    assert result["ratio"] == pytest.approx(result["clips_per_s"] / result["official_clips_per_s"])
    assert result["official_clips_per_s"] > 0 and result["iters"] == 2


@pytest.mark.backend_independent
def test_official_format_arrays_load_into_our_encoder(tmp_path):
    import keras4ds
    arrays = benchmark.official_format_arrays(32, 2, 64, 2, (2, 2, 2), (2, 16, 16))
    path = tmp_path / "random.npz"
    np.savez(path, **arrays)
    encoder = keras4ds.load_official(path)  # refuses missing, extra or mis-shaped keys
    assert (encoder.width, encoder.depth, encoder.mlp_dim, encoder.num_heads) == (32, 2, 64, 2)
    assert tuple(encoder.input_video_shape[-4:-1]) == (4, 32, 32)
    assert len({float(v.std()) for v in arrays.values()}) == len(arrays)  # nothing constant


@pytest.mark.backend_independent
def test_missing_official_python_is_reported(tmp_path):
    with pytest.raises(SystemExit, match="cannot import representations4d"):
        benchmark.find_official_python(str(tmp_path / "no-python"))
    report = benchmark.official_status(None)
    assert all("not measured" in status for status in report.values())


TORCH_PORT = benchmark.find_torch_port()


@pytest.mark.skipif(TORCH_PORT is None, reason="no checkout of the PyTorch port")
@pytest.mark.skipif(BACKEND != "torch", reason="the port is PyTorch: one run is enough")
def test_torch_port_matches_ours_and_is_timed():
    spec = {**TINY, "case": "torch_port", "torch_port": TORCH_PORT}
    result = benchmark.run_case(spec, "torch", timeout=300)
    assert "error" not in result and "skipped" not in result, result
    assert result["max_relative_difference"] < 1e-5
    assert result["ratio"] == pytest.approx(result["clips_per_s"] / result["official_clips_per_s"])


@pytest.mark.backend_independent
def test_missing_torch_port_is_reported(tmp_path):
    with pytest.raises(SystemExit, match="no encoder.py"):
        benchmark.find_torch_port(str(tmp_path))
