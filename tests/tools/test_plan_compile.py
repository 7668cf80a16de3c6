"""`tools/plan.py --compile`: the real train step compiled on 8 fake CPU devices with
abstract weights, its per-device memory next to the plan's and its collectives."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.backend_independent

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "plan.py")
SMALL = ["--size", "b", "--batch", "4", "--frames", "4", "--image-size", "64", "--mask-ratio",
         "0.75", "--decoder-width", "128", "--decoder-depth", "1"]
HAS_LIBTPU = importlib.util.find_spec("libtpu") is not None


def test_compiled_step_on_a_2x4_mesh_matches_the_plan(tmp_path):
    out = tmp_path / "plan.json"
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    run = subprocess.run(
        [sys.executable, TOOL, "--size", "b", "--mesh", "2x4", "--batch", "4", "--frames", "4",
         "--image-size", "64", "--mask-ratio", "0.75", "--decoder-width", "128",
         "--decoder-depth", "1", "--activations", "float32", "--compile", "--json", str(out)],
        capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    xla, plan = result["xla"], result["plan"]
    assert "XLA, compiled for 8 fake CPU devices" in run.stdout
    # Weights are sharded 4 ways and the batch 2 ways: the parameters alone take 1/4 of
    # the float32 model per device (plus the replicated norms and biases).
    assert plan["parameters"] < 4 * (plan["encoder_parameters"] + plan["decoder_parameters"]) / 3.5
    assert xla["parameters"] == plan["encoder_parameters"] + plan["decoder_parameters"]
    assert 0.8 < xla["total"] / xla["plan_total"] < 1.25, (xla["total"], xla["plan_total"])
    # Megatron-style model parallelism: activations gathered and partial sums reduced over
    # "model", gradients reduced over "batch"; nothing is gathered over the batch axis.
    collectives = xla["collectives"]
    assert collectives["all-gather"].get("model", 0) > 0
    assert collectives["all-reduce"].get("model", 0) > 0 and collectives["all-reduce"].get("batch", 0) > 0
    assert not any("batch" in axes for axes in collectives["all-gather"]), collectives


@pytest.mark.skipif(HAS_LIBTPU, reason="libtpu is installed: the TPU compile runs instead")
def test_a_tpu_compile_without_libtpu_is_a_clear_error():
    run = subprocess.run([sys.executable, TOOL, *SMALL, "--mesh", "2x2", "--compile", "--tpu",
                          "v5p:2x2x1"], capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "cannot make the TPU topology 'v5p:2x2x1'" in run.stderr
    assert "pip install 'jax[tpu]'" in run.stderr


@pytest.mark.skipif(not HAS_LIBTPU, reason="needs libtpu (pip install 'jax[tpu]'); no TPU needed")
def test_the_step_compiles_for_a_tpu_slice(tmp_path):
    out = tmp_path / "plan.json"
    run = subprocess.run([sys.executable, TOOL, *SMALL, "--mesh", "2x2", "--activations",
                          "bfloat16", "--compile", "--tpu", "v5p:2x2x1", "--json", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    xla = json.loads(out.read_text())["xla"]
    assert xla["target"] == "TPU v5p:2x2x1 chips"
    assert xla["parameters"] > 0 and xla["argument"] > 0 and xla["temp"] > 0
    assert xla["collectives"]["all-reduce"].get("model", 0) > 0, xla["collectives"]


def test_bfloat16_parameters_halve_the_compiled_state(tmp_path):
    out = tmp_path / "plan.json"
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    run = subprocess.run([sys.executable, TOOL, *SMALL, "--mesh", "2x4", "--parameters",
                          "bfloat16", "--activations", "float32", "--compile", "--json", str(out)],
                         capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    plan, xla = result["plan"], result["xla"]
    float32_state = 2 * (plan["parameters"] + plan["optimizer"])  # the plan's, at 4 bytes
    # Arguments: bfloat16 weights and moments (the float32 decoder's are a sliver) + clips.
    assert xla["argument"] < 0.6 * float32_state + 4 * 4 * 4 * 64 * 64 * 3
    assert xla["argument"] > 0.45 * float32_state
