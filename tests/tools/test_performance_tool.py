"""tools/performance.py: interleaved workers, output checks, verdicts and the report files.

The official Flax encoder and the PyTorch port are never keras4ds dependencies: their rows
run where tools/setup_references.py has set them up and say "not measured" elsewhere (CI).
"""
import importlib.util
import json
import os
import sys

import pytest

TOOLS = os.path.join(os.path.dirname(__file__), "..", "..", "tools")
sys.path.insert(0, TOOLS)
_spec = importlib.util.spec_from_file_location("keras4ds_performance_tool",
                                               os.path.join(TOOLS, "performance.py"))
performance = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(performance)
import performance_report  # noqa: E402
import reference_systems  # noqa: E402

TINY = ["--sizes", "ti", "--batches", "2", "--frames", "4", "--resolution", "32",
        "--rounds", "2", "--matmul-squares", "64", "--matmul-libraries", "numpy", "torch",
        "--seconds-per-timing", "0.05"]


@pytest.mark.backend_independent
def test_every_keras4ds_backend_is_timed_interleaved_and_matches(tmp_path):
    out = tmp_path / "perf.md"
    systems = ["keras4ds-jax", "keras4ds-torch", "official-jax", "torch_port-torch"]
    assert performance.main([*TINY, "--systems", *systems, "--out", str(out)]) == 0
    report = json.loads((tmp_path / "perf.json").read_text())
    rows = {(r["system"], r["backend"]): r for r in report["rows"]}
    for backend in ("jax", "torch"):
        row = rows[("keras4ds", backend)]
        assert len(row["seconds"]) == 2 and min(row["seconds"]) > 0
        assert row["max_relative_difference"] < 1e-5  # same weights, same input
        assert row["threads"] and row["flops"] > 0
    for system, backend in (("official", "jax"), ("torch_port", "torch")):
        found = report["references"][system] is not None
        assert ("seconds" in rows[(system, backend)]) == found
        assert ("skipped" in rows[(system, backend)]) != found
    assert len(report["matmul"]) == 2  # the limit, at the start and at the end
    assert set(report["matmul"][0]["rates"]) == {"numpy", "torch"}
    text = out.read_text()
    assert "The matmul limit" in text and "GPU: not measured" in text
    assert (tmp_path / "perf.png").read_bytes()[:4] == b"\x89PNG"


def _row(system, backend, seconds, flops=1e10, difference=1e-7):
    return {"system": system, "backend": backend, "size": "b", "batch": 1, "frames": 16,
            "resolution": 224, "seconds": seconds, "flops": flops, "threads": "2",
            "first_call_s": 1.0, "calls_per_timing": 1,
            "max_relative_difference": difference, "compared_with": "official_jax"}


@pytest.mark.backend_independent
def test_verdicts_need_every_round_beyond_the_spread(tmp_path):
    report = {"command": "python tools/performance.py", "rounds": 3, "load": [0.1, 0.2],
              "machine": {"cpu": "test cpu", "cores": 2, "platform": "linux",
                          "python": "3.11"},
              "references": {"official": "/x/python", "torch_port": "/x/port"},
              "matmul": [{"rates": {"numpy": {"2048x2048x2048": 1e11}},
                          "threads": {"numpy": "2"}},
                         {"rates": {"numpy": {"2048x2048x2048": 1.25e11}},
                          "threads": {"numpy": "2"}}],
              "rows": [_row("keras4ds", "jax", [0.1, 0.1, 0.1]),  # 1e11 FLOP/s: 0.8 of limit
                       _row("keras4ds", "tensorflow", [0.13, 0.12, 0.11]),
                       _row("keras4ds", "torch", [0.2, 0.2, 0.2], difference=3e-5),
                       _row("torch_port", "torch", [0.09, 0.11, 0.12]),  # jax faster in 2 of 3
                       _row("official", "jax", [0.2, 0.2, 0.2], flops=0.5e10)]}
    got = {target: (measured, met) for target, _, measured, met in
           performance_report.verdicts(report)}
    ahead = got["fastest keras4ds backend ahead of the PyTorch port beyond the spread"]
    assert ahead[0].startswith("jax: 1.100x [0.900, 1.200]") and not ahead[1]
    assert got["jax at >= 0.85 of the matmul limit"] == ("0.80", False)
    assert got["tensorflow within 1.2x of the fastest backend"][1]  # median 0.833
    assert got["jax ahead of the official Flax code beyond the spread (per FLOP)"] == (
        "4.000x [4.000, 4.000]", True)
    assert got["outputs within float32 rounding of the official"] == ("3.0e-05", False)
    out = tmp_path / "perf.md"
    (tmp_path / "saved.json").write_text(json.dumps(report))
    assert performance.main(["--render", str(tmp_path / "saved.json"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "**125.0 GFLOP/s** (numpy, 2048x2048x2048)" in text
    assert "| keras4ds | jax | 4DS-B | 1 | 2 | 10.000 | 10.000-10.000 | 100.0 | 0.80 |" in text


@pytest.mark.backend_independent
def test_missing_references_and_bad_arguments_are_reported(tmp_path):
    with pytest.raises(SystemExit, match="cannot import representations4d"):
        reference_systems.find_official_python(str(tmp_path / "no-python"))
    with pytest.raises(SystemExit, match="no encoder.py"):
        reference_systems.find_torch_port(str(tmp_path))
    for bad in (["--rounds", "1"], ["--resolution", "40"], ["--systems", "mxnet-cpu"]):
        with pytest.raises(SystemExit):
            performance.parse_args(bad)
