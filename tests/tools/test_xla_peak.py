"""tools/xla_peak.py on a real XLA dump: a small jitted program whose four blocks each keep
a buffer for the backward pass, compiled by JAX in a child process that dumps it."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))

import xla_peak  # noqa: E402

PROGRAM = """
import jax, jax.numpy as jnp

def blocks(w, x):
    for i in range(4):
        with jax.named_scope(f"block_{i}"):
            x = jnp.tanh(x @ w[i])
    return x.sum()

w = jnp.ones((4, 256, 256)) * 0.01
jax.jit(jax.grad(blocks)).lower(w, jnp.ones((512, 256))).compile()
"""


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dump")
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_dump_to={folder} --xla_dump_hlo_as_text"}
    subprocess.run([sys.executable, "-c", PROGRAM], check=True, env=env, timeout=300)
    return str(folder)


@pytest.mark.backend_independent
def test_the_peak_is_broken_down_by_operation_with_blocks_folded(dump, capsys):
    rows = xla_peak.main([dump, "--top", "5"])
    with open(xla_peak.live_range_file(dump)) as f:
        text = f.read()
    entries = xla_peak.peak_entries(text)
    assert sum(size for _, size in entries) == xla_peak.peak_bytes(text)
    folded_blocks = [(size, count) for name, (size, count) in rows.items() if "block_k" in name]
    # Each block's tanh output (512 x 256 float32) is kept for the backward pass.
    assert any(count >= 3 and size >= 3 * 512 * 256 * 4 for size, count in folded_blocks), rows
    assert "peak" in capsys.readouterr().out


def test_a_folder_without_a_dump_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no \\*after_optimizations-live-range.txt"):
        xla_peak.main([str(tmp_path)])
