"""Tiny MAE models for tests (defined in tests/tiny_models.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # child processes

from tiny_models import tiny_encoder, tiny_mae  # noqa: E402, F401

TINY_VIDEO_SHAPE = (4, 16, 16, 3)
