"""The two reference encoders keras4ds is timed and checked against, never its dependencies.

- `official`: the official Flax encoder (google-deepmind/representations4d), run by a Python
  that imports `representations4d` (`tools/setup_references.py` makes one);
- `torch_port`: the PyTorch port (github.com/NIRVANALAN/torch-representations4d, a folder of
  scripts, not on PyPI), imported from a checkout.

Both load the same official-format `.npz` (random weights) that keras4ds loads with
`keras4ds.load_official`.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from keras4ds.checkpoints.random_official import official_format_arrays, save_official_npz
from keras4ds.models.presets import size_config

DEFAULT_OFFICIAL_PYTHON = "/opt/r4d-venv/bin/python"
DEFAULT_TORCH_PORT = "/opt/torch-representations4d"
PATCH_SIZE = (2, 16, 16)
# What the official package needs beside jax, numpy and einops (taken from the Python that
# runs keras4ds): pure-Python packages, installed with --no-deps at these versions.
OFFICIAL_PINS = ("flax==0.12.8", "kauldron==1.4.2", "typeguard==4.6.1", "lark==1.3.1",
                 "ml_collections==1.1.0", "clu==0.0.12", "jaxtyping==0.3.11",
                 "wadler_lindig==0.1.8")
OFFICIAL_SOURCE = "https://github.com/google-deepmind/representations4d"
TORCH_PORT_SOURCE = "https://github.com/NIRVANALAN/torch-representations4d"


def find_official_python(requested=None):
    """A Python that can import the official `representations4d` package, or None.

    `requested` is used when given (an error if it cannot import the package); otherwise
    this interpreter, then `$KERAS4DS_OFFICIAL_PYTHON`, then /opt/r4d-venv/bin/python.
    """
    candidates = [requested] if requested else [
        sys.executable, os.environ.get("KERAS4DS_OFFICIAL_PYTHON"), DEFAULT_OFFICIAL_PYTHON]
    probe = ("import importlib.util, sys; "
             "sys.exit(importlib.util.find_spec('representations4d') is None)")
    for python in filter(None, candidates):
        if python == sys.executable and importlib.util.find_spec("representations4d"):
            return python
        if os.path.exists(python) and subprocess.run(
                [python, "-c", probe], capture_output=True).returncode == 0:
            return python
    if requested:
        raise SystemExit(f"--official-python {requested}: cannot import representations4d "
                         "(make one with tools/setup_references.py)")
    return None


def find_torch_port(requested=None):
    """A checkout of the PyTorch port (its `encoder.py` and `convert.py`), or None.

    `requested` when given (an error if it is not a checkout), else `$KERAS4DS_TORCH_PORT`,
    else /opt/torch-representations4d.
    """
    folder = requested or os.environ.get("KERAS4DS_TORCH_PORT") or DEFAULT_TORCH_PORT
    found = all(os.path.exists(os.path.join(folder, f)) for f in ("encoder.py", "convert.py"))
    if requested and not found:
        raise SystemExit(f"--torch-port {requested}: no encoder.py and convert.py there")
    return os.path.abspath(folder) if found else None


def official_format_file(size, frames, resolution, folder, seed=0):
    """Random weights of a 4DS size in the official `.npz` layout, written to `folder`.

    Returns `(path, arrays, config)`: `config` has width, depth, mlp_dim and num_heads.
    """
    config = size_config(size)
    grid = (frames // PATCH_SIZE[0], resolution // PATCH_SIZE[1], resolution // PATCH_SIZE[2])
    arrays = official_format_arrays(config["width"], config["depth"], config["mlp_dim"],
                                    config["num_heads"], grid, PATCH_SIZE, seed=seed)
    path = save_official_npz(os.path.join(folder, "official_format.npz"), arrays)
    return path, arrays, config


def official_flax_forward(size):
    """The official 4DS encoder (as its depth demo builds it), jitted: `(params, video) ->
    h_{L-1}` `(B, N, D)`, the last entry of the official processor's list, one block short
    of the encoder (the last block's output is never returned, so XLA drops that block)."""
    import jax
    from kauldron.modules import pos_embeddings
    from representations4d.models import model as model_lib
    config = size_config(size)
    model = model_lib.Model(
        encoder=model_lib.Tokenizer(
            patch_embedding=model_lib.PatchEmbedding(patch_size=PATCH_SIZE,
                                                     num_features=config["width"]),
            posenc=pos_embeddings.LearnedEmbedding(), posenc_axes=(-4, -3, -2)),
        processor=model_lib.GeneralizedTransformer.from_spec(
            num_heads=config["num_heads"], num_layers=config["depth"],
            mlp_size=config["mlp_dim"]))
    return jax.jit(lambda params, video: model.apply(params, video)[-1])


def official_params(path):
    """The official package's own reading of an official-format `.npz`."""
    from representations4d.utils import checkpoint_utils
    return checkpoint_utils.recover_tree(checkpoint_utils.npload(path))


def torch_port_encoder(folder, arrays, config, frames, resolution):
    """The port's `Encoder` (eval mode) with `arrays` converted by the port's `convert.py`.

    It takes `(B, 3, T, H, W)` float32 and returns the list of every block's output; its
    last entry is h_{L-1}.
    """
    sys.path.insert(0, folder)
    from convert import convert_without_readout
    from encoder import Encoder
    port = Encoder(input_size=(3, frames, resolution, resolution), patch_size=PATCH_SIZE,
                   num_heads=config["num_heads"], num_layers=config["depth"],
                   hidden_size=config["width"], mlp_size=config["mlp_dim"])
    port.load_state_dict(convert_without_readout(arrays)["encoder_state_dict"])
    return port.eval()
