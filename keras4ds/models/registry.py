"""Named 4DS presets and how a preset handle becomes a local preset folder.

DeepMind releases the 4DS weights as official `.npz` files, not as Keras presets, so every
entry's handle is a local folder under `$KERAS4DS_PRESETS`, filled by
`keras4ds convert FILE.npz $KERAS4DS_PRESETS/NAME` from the entry's `official_npz`.
Handles may also be `kaggle://OWNER/MODEL/keras/VARIANT/VERSION` (through `kagglehub`) or
`hf://OWNER/REPO` (through `huggingface_hub`), for presets published there.
"""
import importlib
import os

from keras4ds.models.presets import SIZES, count_parameters

PRESETS_ENV = "KERAS4DS_PRESETS"
_RELEASE = "https://storage.googleapis.com/representations4d/checkpoints/"


def _depth_readout_parameters(width, num_params=1024, num_frames=16, image_size=(224, 224),
                              decoding_patch_size=(2, 8, 8)):
    """Parameters of the official depth readout (`DepthReadout`) on a `width` encoder."""
    outputs = decoding_patch_size[0] * decoding_patch_size[1] * decoding_patch_size[2]
    queries = (num_frames // decoding_patch_size[0]) * (image_size[0] // decoding_patch_size[1]) \
        * (image_size[1] // decoding_patch_size[2])
    return (2 * width + num_frames * width + queries * num_params
            + 2 * (width * num_params + num_params) + num_params * num_params + num_params
            + 2 * num_params + 8 * num_params * num_params + 5 * num_params
            + num_params * outputs + outputs)


PRESETS = {
    "4ds_b_backbone": {
        "description": "4DS-B-dist-e: the ViT-B video encoder distilled from 4DS-e "
                       "(FourDSEncoder, 16 x 224 x 224 input).",
        "class_name": "FourDSEncoder",
        "parameters": count_parameters(*SIZES["b"]),
        "official_npz": _RELEASE + "scaling4d_dist_b.npz",
        "handle": f"${PRESETS_ENV}/4ds_b_backbone",
    },
    "4ds_e_backbone": {
        "description": "4DS-e: the ViT-e video encoder (FourDSEncoder, 16 x 224 x 224 input).",
        "class_name": "FourDSEncoder",
        "parameters": count_parameters(*SIZES["e"]),
        "official_npz": _RELEASE + "scaling4d_e.npz",
        "handle": f"${PRESETS_ENV}/4ds_e_backbone",
    },
    "4ds_b_depth": {
        "description": "4DS-B-dist-e with its ScanNet depth readout (DepthModel, "
                       "16 x 224 x 224 video -> depth).",
        "class_name": "DepthModel",
        "parameters": count_parameters(*SIZES["b"]) + _depth_readout_parameters(SIZES["b"][0]),
        "official_npz": _RELEASE + "scaling4d_dist_b_depth.npz",
        "handle": f"${PRESETS_ENV}/4ds_b_depth",
    },
}


def download_kaggle(handle):
    """`kaggle://...` -> local folder, through `kagglehub`."""
    kagglehub = _client("kagglehub", handle)
    return _fetch(handle, lambda: kagglehub.model_download(handle.removeprefix("kaggle://")))


def download_hf(handle):
    """`hf://OWNER/REPO` -> local folder, through `huggingface_hub`."""
    hub = _client("huggingface_hub", handle)
    return _fetch(handle, lambda: hub.snapshot_download(repo_id=handle.removeprefix("hf://")))


DOWNLOADERS = {"kaggle://": download_kaggle, "hf://": download_hf}


def _client(module, handle):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"preset {handle!r} needs the {module} package: "
                          f"pip install {module}") from None


def _fetch(handle, download):
    try:
        return download()
    except OSError as error:
        raise OSError(f"could not download preset {handle!r} (offline?): {error}") from error


def resolve_preset(preset):
    """A registry name (`PRESETS`), `kaggle://` / `hf://` handle or local folder -> the
    local preset folder, downloading when needed. Clear errors for a missing client
    package, a failed download, an unset `$KERAS4DS_PRESETS` or an unconverted preset."""
    preset = os.fspath(preset)
    entry = PRESETS.get(preset)
    handle = entry["handle"] if entry else preset
    for scheme, download in DOWNLOADERS.items():
        if handle.startswith(scheme):
            return download(handle)
    if entry is None:
        return handle
    how = (f"{preset!r} is not published as a Keras preset; download {entry['official_npz']} "
           f"and run `keras4ds convert {os.path.basename(entry['official_npz'])} "
           f"{handle}`")
    if not os.environ.get(PRESETS_ENV):
        raise ValueError(f"{how}, with ${PRESETS_ENV} set to a folder for converted presets "
                         f"(${PRESETS_ENV} is not set)")
    folder = os.path.expandvars(handle)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder} does not exist: {how}")
    return folder
