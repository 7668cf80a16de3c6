"""The study's output folder: atomic JSON/NPZ writes and finished-stage bookkeeping.

A stage is finished when its result file exists; results are written atomically (a temp
name then a rename, `keras4ds.utils.write_staged`), so an interrupted stage leaves no
result and reruns.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

from keras4ds import utils


def _finite_or_none(value):
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str, data) -> str:
    """Write `data` as JSON atomically; NaN/inf become null (strict JSON)."""
    return utils.write_json(path, _finite_or_none(data), allow_nan=False)


def read_json(path: str):
    """Read a JSON file, with a clear error for a corrupt one."""
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); delete it to redo "
                             f"that stage") from None


def write_npz(path: str, arrays: dict) -> str:
    """Write arrays to an `.npz` atomically."""
    def write(staged):
        with open(staged, "wb") as f:
            np.savez(f, **arrays)
    return utils.write_staged(path, write)


class StudyFolder:
    """Paths of one study run under `root`."""

    def __init__(self, root: str):
        self.root = os.path.abspath(os.fspath(root))

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def clips(self, split: str) -> str:
        return self.path("clips", f"{split}.npz")

    def encoder(self, init: str, size: str) -> str:
        return self.path("encoders", f"{init}_{size}")

    def pretrain_result(self, size: str) -> str:
        return self.path("pretrain", f"{size}.json")

    def pretrain_checkpoints(self, size: str) -> str:
        return self.path("pretrain", f"{size}_checkpoints")

    def probe_result(self, init: str, size: str, task: str) -> str:
        return self.path("probes", f"{init}_{size}_{task}.json")

    def probe_examples(self, init: str, size: str, task: str) -> str:
        return self.path("probes", f"{init}_{size}_{task}_examples.npz")

    def budget(self) -> str:
        return self.path("budget.json")
