"""Shared test set-up: backend selection, the backend-independent marker, and `tools/` on
the path (the tools' modules import each other by name, as under `python tools/X.py`)."""
import json
import os
import subprocess
import sys

import pytest

BACKEND = os.environ.get("KERAS_BACKEND", "jax")
TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
sys.path.insert(0, os.path.abspath(TOOLS))


def pytest_collection_modifyitems(config, items):
    """Backend-independent tests run once, in the jax pass."""
    if BACKEND == "jax":
        return
    skip = pytest.mark.skip(reason="backend-independent: runs in the jax pass only")
    for item in items:
        if "backend_independent" in item.keywords:
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
