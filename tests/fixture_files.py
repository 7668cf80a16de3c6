"""Paths of the data files kept in the repository for the tests (`tests/fixtures/`)."""
import os

OFFICIAL_FORMAT = os.path.join(os.path.dirname(__file__), "fixtures", "official_format")
