"""Shared test set-up: backend selection, the backend-independent marker, `tools/` on the
path (the tools' modules import each other by name, as under `python tools/X.py`), and
faster XLA compiles: one JAX compilation cache for the session, LLVM optimisation level 0."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

BACKEND = os.environ.get("KERAS_BACKEND", "jax")
TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
sys.path.insert(0, os.path.abspath(TOOLS))

# One persistent JAX compilation cache per session, made by the first pytest process and
# inherited through the environment by the xdist workers and every child process, so a
# program compiled once (the same tiny encoder in many tests, the same step in each resumed
# child) is loaded, not compiled again. A cache hit is the same executable, so results are
# unchanged. The size bound turns on jax's file lock, which makes concurrent use safe.
_OWN_JAX_CACHE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _OWN_JAX_CACHE = tempfile.mkdtemp(prefix="keras4ds-jax-cache-")
    os.environ.update(JAX_COMPILATION_CACHE_DIR=_OWN_JAX_CACHE,
                      JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
                      JAX_COMPILATION_CACHE_MAX_SIZE=str(4 << 30))
# XLA's CPU compile, not the tiny tests' arithmetic, is most of a jax test's time; with LLVM
# at optimisation level 0 (XLA's HLO passes are the same) a tiny encoder's eager build and
# jitted gradient compile in about half the time. An XLA_FLAGS already set wins.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")


def pytest_unconfigure(config):
    """The process that made the session's JAX cache removes it."""
    if _OWN_JAX_CACHE:
        shutil.rmtree(_OWN_JAX_CACHE, ignore_errors=True)


# The tensorflow and torch passes run the library's backend-specific code: the layers and
# models (harness, official parity, presets), the Keras metrics and the MAE checkpoints (JAX
# saves sharded jax.Arrays, the others host arrays). Everything else (runners,
# study, tools, notebooks, readout machinery built on those layers) runs in the jax pass.
EVERY_BACKEND_DIRS = ("tests/models/", "tests/checkpoints/", "tests/metrics/",
                      "tests/mae/test_resume_safety.py")
SLOW_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slow_tests.txt")


def _slow_test_ids():
    """The node ids listed in slow_tests.txt (each line: seconds, node id, optionally a
    note in parentheses; a node id's parameters may hold spaces)."""
    with open(SLOW_TESTS) as f:
        return {re.sub(r" \([^()]*\)$", "", line.split(None, 1)[1].strip())
                for line in f if line.strip() and not line.startswith("#")}


def pytest_collection_modifyitems(config, items):
    """Slow tests run only with KERAS4DS_SLOW_TESTS=1; backend-independent tests and those
    outside EVERY_BACKEND_DIRS run once, in the jax pass."""
    if os.environ.get("KERAS4DS_SLOW_TESTS") != "1":
        slow, skip_slow = _slow_test_ids(), pytest.mark.skip(
            reason="slow (tests/slow_tests.txt): runs with KERAS4DS_SLOW_TESTS=1")
        for item in items:
            if item.nodeid in slow:
                item.add_marker(skip_slow)
    if BACKEND == "jax":
        return
    skip = pytest.mark.skip(reason="runs in the jax pass only")
    for item in items:
        if "backend_independent" in item.keywords or \
                not item.nodeid.startswith(EVERY_BACKEND_DIRS):
            item.add_marker(skip)


def _child_result(args, timeout=600, env=None):
    """Run `python *args` in a fresh process (environment `env`, default this one's) and
    return the JSON of its last `RESULT {...}` line (for set-ups that must happen before a
    framework starts)."""
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                            timeout=timeout, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="session")
def child_result():
    """`child_result(args, timeout=600, env=None)`: see `_child_result`."""
    return _child_result
