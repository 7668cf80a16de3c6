"""tools/benchmark.py: FLOP counts, one real worker run per backend, report writing."""
import importlib.util
import json
import os

import numpy as np
import pytest

BACKEND = os.environ.get("KERAS_BACKEND", "jax")
TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "benchmark.py")
_spec = importlib.util.spec_from_file_location("keras4ds_benchmark_tool", TOOL)
benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark)

TINY = {"case": "encoder", "size": "ti", "batch": 2, "frames": 4, "resolution": 32, "iters": 2,
        "warmup": 1, "torch_compile": False, "readout_params": 32, "readout_heads": 2}


@pytest.mark.skipif(BACKEND != "jax", reason="compares with XLA's cost analysis (jax)")
def test_encoder_flops_match_xla_cost_analysis():
    import jax

    from keras4ds.models import FourDSEncoder
    encoder = FourDSEncoder(width=128, depth=2, mlp_dim=512, num_heads=4, num_frames=4,
                            image_size=(64, 64))
    video = np.random.default_rng(0).uniform(0, 1, (2, 4, 64, 64, 3)).astype("float32")
    weights = [v.value for v in encoder.trainable_variables]
    forward = jax.jit(lambda w, x: encoder.stateless_call(w, [], x)[0])
    cost = forward.lower(weights, video).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    ours = benchmark.encoder_flops(128, 2, 512, encoder.num_tokens, 2 * 16 * 16 * 3, batch=2)
    # XLA also counts element-wise FLOPs (norms, GELU, softmax): a few percent more.
    assert 0.9 * cost["flops"] <= ours <= cost["flops"]


def _check_result(result, batch):
    assert "error" not in result, result.get("error")
    assert result["backend"] == BACKEND
    assert result["clips_per_s"] > 0 and result["iters"] == 2
    assert result["tokens_per_clip"] == 2 * 2 * 2
    assert result["tokens_per_s"] == pytest.approx(result["clips_per_s"] * 8)
    assert result["clips_per_s"] == pytest.approx(batch / result["seconds_median"])
    assert result["peak_rss_mb"] >= result["rss_model_mb"] > 50
    assert result["flop_per_s"] == pytest.approx(result["flops"] / result["seconds_median"])


def test_depth_case_in_a_fresh_subprocess():
    _check_result(benchmark.run_case({**TINY, "case": "depth"}, BACKEND, timeout=300), 2)


def test_encoder_case_in_process(capsys):
    benchmark.run_worker(TINY)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(benchmark.RESULT_TAG)
    _check_result(json.loads(line[len(benchmark.RESULT_TAG):]), 2)


def test_bad_input_size_is_reported_not_hidden():
    result = benchmark.run_case({**TINY, "resolution": 40}, BACKEND, timeout=300)
    assert "divisible" in result["error"]


@pytest.mark.backend_independent
def test_markdown_and_json_reports(tmp_path):
    report = {
        "machine": {"cpu": "test cpu", "cores": 2, "platform": "linux", "python": "3.11",
                    "matmul_peak_flop_per_s": {"numpy": 1e11}, "peak_flop_per_s": 1e11,
                    "load_start": (0.1, 0, 0), "load_end": (0.2, 0, 0)},
        "results": [
            {**TINY, "backend": "jax", "clips_per_s": 2.0, "tokens_per_s": 16.0, "flops": 5e10,
             "flop_per_s": 5e10, "peak_fraction": 0.5, "peak_rss_mb": 900.0,
             "rss_model_mb": 800.0, "compile_s": 1.0, "iters": 2, "load_before": 0.1,
             "load_after": 0.2},
            {**TINY, "case": "mae", "backend": "jax", "clips_per_s": 0.5, "tokens_per_s": 4.0,
             "flops": None, "flop_per_s": None, "peak_rss_mb": 950.0, "rss_model_mb": 800.0,
             "compile_s": 3.0, "iters": 1, "load_before": 0.1, "load_after": 0.2},
            {**TINY, "case": "attention", "backend": "jax", "clips_per_s": 3.0,
             "generic_clips_per_s": 2.0, "unblocked_clips_per_s": 2.5,
             "max_relative_difference": 1e-7, "tokens_per_s": 24.0,
             "heads_first_chosen": True,
             "flops": 1e10, "flop_per_s": 3e10, "peak_fraction": 0.3, "peak_rss_mb": 900.0,
             "rss_model_mb": 800.0, "compile_s": None, "iters": 2, "load_before": 0.1,
             "load_after": 0.2},
            {**TINY, "backend": "torch", "error": "boom | bang"},
            {**TINY, "case": "mae", "backend": "jax", "skipped": "package not present yet"}]}
    text = benchmark.markdown(report, "title", "python tools/benchmark.py --x")
    assert "| encoder | 4DS-TI | 2 | 4x32x32 | jax | 2.000 | 16 | 50.0 | 0.50 | 900 |" in text
    assert "error: boom / bang" in text and "skipped: package not present yet" in text
    assert ("| 4DS-TI | jax | standard 512/4, 100% of masked tokens | 2 | 2.000 | 2 | 0.500 | 4.00 |"
            in text)  # MAE s/clip vs forward
    assert "| encoder | 4DS-TI | 2 | jax | 2.000 | 2.500 | 3.000 | 1.50 | 1.0e-07 | heads-first |" in text
    assert "tools/performance.py" in text and "GPU: not measured" in text


@pytest.mark.backend_independent
def test_bad_arguments_are_rejected():
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--frames", "0"])
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--backend", "mxnet"])


def test_attention_ab_on_the_depth_model(capsys):
    benchmark.run_worker({**TINY, "case": "attention_depth"})
    line = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(line[len(benchmark.RESULT_TAG):])
    assert "error" not in result, result
    # both attention kernels give the same depth map to float32 rounding
    assert result["max_relative_difference"] < 1e-5
    assert result["heads_first_chosen"] == (BACKEND == "jax")  # CPU: jax only
    assert min(result["generic_clips_per_s"], result["unblocked_clips_per_s"],
               result["clips_per_s"]) > 0


@pytest.mark.backend_independent
def test_render_rewrites_markdown_from_json_with_targets(tmp_path):
    def row(case, backend, clips, **extra):
        return {**TINY, "case": case, "size": "b", "batch": 1, "frames": 16,
                "resolution": 224, "backend": backend, "clips_per_s": clips,
                "tokens_per_s": 1568 * clips, "flops": 4e11, "flop_per_s": 4e11 * clips,
                "peak_rss_mb": 900.0, "rss_model_mb": 800.0, "compile_s": 1.0, "iters": 1,
                "load_before": 0.1, "load_after": 0.2, **extra}
    report = {
        "machine": {"cpu": "test cpu", "cores": 2, "platform": "linux", "python": "3.11",
                    "matmul_peak_flop_per_s": {"numpy": 1e11}, "peak_flop_per_s": 1e11,
                    "load_start": (0.1, 0, 0), "load_end": (0.2, 0, 0)},
        "results": [row("encoder", "jax", 0.2), row("encoder", "torch", 0.1),
                    row("encoder", "tensorflow", 0.3, policy="mixed_bfloat16")]}
    saved, out = tmp_path / "report.json", tmp_path / "report.md"
    saved.write_text(json.dumps(report))
    assert benchmark.main(["--render", str(saved), "--markdown", str(out)]) == 0
    text = out.read_text()
    assert "| jax within 1.5x of the matmul peak | 4DS-B batch 1 | 0.80 of peak | yes |" in text
    assert "| torch within 1.3x of jax | 4DS-B batch 1 | 0.50x jax's clips/s | no |" in text
    assert "tensorflow within" not in text  # bfloat16 rows are not held to the targets
    assert "| encoder | 4DS-B | 1 | 16x224x224 | tensorflow, mixed_bfloat16 | 0.300 |" in text

