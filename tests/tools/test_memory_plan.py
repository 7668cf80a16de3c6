import subprocess
import sys

import pytest
from memory_plan import plan

from keras4ds.models import count_parameters, size_config


@pytest.mark.backend_independent
@pytest.mark.parametrize("size,expected", [("b", 87_439_104), ("e", 3_809_464_064)])
def test_weight_enumeration_matches_published_parameter_counts(size, expected):
    result = plan(size, (1, 1), 8)
    assert result["encoder_parameters"] == expected == count_parameters(**size_config(size))


@pytest.mark.backend_independent
def test_model_axis_divides_sharded_state_and_remat_saves_memory():
    one = plan("l", (1, 1), 8)
    four = plan("l", (1, 4), 8)
    replicated_share = one["parameters"] / 4
    assert replicated_share < four["parameters"] < one["parameters"] / 3.9
    assert four["optimizer"] == 2 * four["parameters"]
    assert plan("l", (2, 4), 8)["activations"] == pytest.approx(four["activations"] / 2)
    assert one["activations_remat"] < one["activations"]
    with pytest.raises(ValueError, match="not divisible by the model axis"):
        plan("b", (1, 16), 16)  # the 8-head decoder cannot be split 16 ways
    with pytest.raises(ValueError, match="batch axis"):
        plan("b", (3, 1), 8)


@pytest.mark.backend_independent
def test_cli_prints_22b_plan():
    out = subprocess.run([sys.executable, "tools/plan.py", "--size", "22b", "--mesh", "16x16",
                          "--batch", "2048", "--decoder-width", "1024", "--decoder-heads", "16"],
                         capture_output=True, text=True, check=True).stdout
    assert "21,766,182,912 parameters" in out and "GiB per device" in out


@pytest.mark.backend_independent
def test_cli_issue_command_plans_the_decoder_heads_the_model_builds():
    run = [sys.executable, "tools/plan.py", "--size", "22B", "--mesh", "16x16", "--batch", "2048"]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert "builds (and this plans) 16 heads of width 32" in out and "total, remat" in out


@pytest.mark.backend_independent
def test_bfloat16_parameters_halve_the_state_and_leave_activations():
    full, half = (plan("22b", (32, 8), 256, parameter_bytes=n) for n in (4, 2))
    for part in ("parameters", "gradients", "optimizer"):
        assert half[part] == full[part] / 2
    assert half["activations"] == full["activations"]
    out = subprocess.run([sys.executable, "tools/plan.py", "--size", "22b", "--mesh", "16x16",
                          "--batch", "256", "--parameters", "bfloat16"],
                         capture_output=True, text=True, check=True).stdout
    assert "AdamW moments (bfloat16)" in out


# Per-device totals of the 22b step on 32x8 (float32) as the TPU compiler for a v5p slice
# kept them (libtpu 0.0.42, `tools/scale_benchmark.py --tpu v5p:8x8x4`, benchmarks/scale_tpu.md),
# GiB: (batch, remat) -> total.
TPU_22B_32X8 = {(256, False): 42.99, (256, True): 42.89, (2048, False): 43.64, (2048, True): 43.62}


@pytest.mark.backend_independent
def test_the_tpu_plan_follows_the_tpu_compiler():
    # The TPU frees a block's activations as the backward makes its gradients, so the step
    # peaks at the larger of the two; at batch 256 the gradients (10.15 GiB) set it, at 2048
    # the activations (12.0 GiB) and the gradients are close: the total barely moves.
    for (batch, remat), measured in TPU_22B_32X8.items():
        r = plan("22b", (32, 8), batch, activation_bytes=4, compiler="tpu")
        total = r["total_remat" if remat else "total"]
        assert 0.92 < measured * 2 ** 30 / total < 1.08, (batch, remat, total / 2 ** 30)
        state = r["parameters"] + r["optimizer"]
        kept = r["activations_remat" if remat else "activations"]
        assert total - state - max(kept, r["gradients"]) < 2 ** 30  # + the clip batch only
    cpu = plan("22b", (32, 8), 2048, activation_bytes=4)
    assert cpu["total"] == cpu["parameters"] + cpu["gradients"] + cpu["optimizer"] + cpu["activations"]
    with pytest.raises(ValueError, match="compiler must be one of"):
        plan("b", (1, 1), 8, compiler="gpu")
