"""Shared test set-up: backend selection and the backend-independent marker."""
import os

import pytest

BACKEND = os.environ.get("KERAS_BACKEND", "jax")
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures")


def pytest_collection_modifyitems(config, items):
    """Backend-independent tests run once, in the jax pass."""
    if BACKEND == "jax":
        return
    skip = pytest.mark.skip(reason="backend-independent: runs in the jax pass only")
    for item in items:
        if "backend_independent" in item.keywords:
            item.add_marker(skip)
