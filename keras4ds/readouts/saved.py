"""Trained readouts as files: a `.keras` archive of the probe, its encoder inside.

The archive holds the probe's config (its encoder's config included) and every weight,
encoder and head, so `load_readout` needs nothing else to score it again.
"""
import os

import keras

from keras4ds.readouts.probe import Probe
from keras4ds.utils import write_staged

READOUT_EXTENSION = ".keras"


def save_readout(probe, path: str) -> str:
    """Write trained `probe` (a `Probe`) to `path` (ending in `.keras`), staged then renamed."""
    if not isinstance(probe, Probe):
        raise TypeError(f"save_readout takes a keras4ds Probe; got {type(probe).__name__}")
    if not str(path).endswith(READOUT_EXTENSION):
        raise ValueError(f"a readout file must end in {READOUT_EXTENSION}; got {path}")
    return write_staged(os.fspath(path), lambda staged: probe.save(staged))


def load_readout(path: str, task: str = None) -> Probe:
    """The probe saved at `path`; with `task`, refuse a readout of another task."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"readout file {path} does not exist")
    try:
        probe = keras.saving.load_model(path, compile=False)
    except (ValueError, OSError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a readout saved by save_readout ({error})") from None
    if not isinstance(probe, Probe):
        raise TypeError(f"{path} holds a {type(probe).__name__}, not a keras4ds readout")
    if task is not None and probe.task != task:
        raise ValueError(f"{path} is a {probe.task} readout, not a {task} one")
    return probe
