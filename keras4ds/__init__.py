"""keras4ds: the 4DS video models of "Scaling 4D Representations" in Keras 3.

Top-level names load lazily, so `keras4ds.data` and `keras4ds.metrics` import without
starting a Keras backend.
"""
import importlib

__version__ = "0.1.0"

_LAZY = {
    "load_official": "keras4ds.checkpoints",
    "load_preset": "keras4ds.checkpoints",
    "save_preset": "keras4ds.checkpoints",
    "FourDSEncoder": "keras4ds.models",
    "DepthModel": "keras4ds.models",
    "PRESETS": "keras4ds.models.registry",
    "resolve_preset": "keras4ds.models.registry",
    "SIZES": "keras4ds.models",
    "count_parameters": "keras4ds.models",
    "size_config": "keras4ds.models",
    "official_readout_index": "keras4ds.models",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras4ds' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
