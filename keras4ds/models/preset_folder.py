"""Keras preset folders: `config.json`, `metadata.json` and `model.weights.h5` (keras-hub
layout; folders written before `metadata.json` existed load too).

`load_preset` checks a folder before trusting it: the config names a model (of the
expected class), and the weights file opens and holds every variable of that model with
its shape. `save_preset` replaces a folder without a moment where no good copy exists:
it writes `.preset-NAME.staging-*` next to it, moves the old folder aside to
`.preset-NAME.old`, renames the new one in and then deletes the old one. A save killed in
between leaves the old folder aside; `load_preset` and the next `save_preset` put it back.
"""
import datetime
import json
import os
import posixpath
import re
import secrets
import shutil
import warnings

import h5py
import keras
from keras.src.saving import saving_lib

from keras4ds.models.validation import CheckpointError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE)  # what a preset must hold; metadata is optional
# A weights-file group renamed since earlier presets were written: DepthModel's readout
# was an AttentionReadout, now a DepthReadout (the same variables).
_LEGACY_GROUPS = (("layers/depth_readout/", "layers/attention_readout/"),)


def save_preset(model, directory):
    """Write `model` as a preset folder at `directory`, replacing an earlier preset there
    (but nothing else); returns the absolute path. Folder and files get the usual modes
    (0o777 and 0o666 less the umask)."""
    directory = os.path.abspath(os.fspath(directory))
    os.makedirs(os.path.dirname(directory), exist_ok=True)
    _restore_aside(directory)
    check_replaceable(directory)
    _remove_leftovers(directory)
    staging = f"{_staging_prefix(directory)}{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(staging)
    try:
        with open(os.path.join(staging, CONFIG_FILE), "w") as f:
            json.dump(keras.saving.serialize_keras_object(model), f, indent=2)
        model.save_weights(os.path.join(staging, WEIGHTS_FILE))
        with open(os.path.join(staging, METADATA_FILE), "w") as f:
            json.dump(preset_metadata(model), f, indent=2)
        for name in (*PRESET_FILES, METADATA_FILE):
            _sync(os.path.join(staging, name))
        _swap_in(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def load_preset(directory, expected=None):
    """Rebuild a model from a preset folder written by `save_preset`, on any backend.

    `expected` (a class, e.g. `FourDSEncoder`) refuses a preset of another kind. Raises
    `FileNotFoundError` for a missing folder or file and `CheckpointError` naming the file,
    the key and the expectation for a config or weights file that does not fit.
    """
    directory = os.path.abspath(os.fspath(directory))
    if _restore_aside(directory):
        warnings.warn(f"preset folder {directory} was missing after an interrupted "
                      f"save_preset; restored the previous copy from {_aside(directory)}")
    _check_folder(directory)
    config_path = os.path.join(directory, CONFIG_FILE)
    weights_path = os.path.join(directory, WEIGHTS_FILE)
    model = _build(_read_config(config_path, expected), config_path)
    layout = _check_weights(model, weights_path)
    if layout is None:
        model.load_weights(weights_path)
    else:  # an earlier layout of the same variables
        with h5py.File(weights_path, "r") as h5:
            for key, variable in layout.items():
                variable.assign(h5[key][()])
    return model


def preset_metadata(model):
    """What `metadata.json` records: versions, parameter count, date (keras-hub's keys)."""
    from keras4ds import __version__

    return {"keras_version": keras.__version__, "keras4ds_version": __version__,
            "class_name": type(model).__name__, "parameter_count": int(model.count_params()),
            "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def read_metadata(directory):
    """The `metadata.json` of a preset folder as a dict; `{}` for a folder written before
    presets had one."""
    path = os.path.join(os.fspath(directory), METADATA_FILE)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path) as f:
            metadata = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: expected an object, found {json.dumps(metadata)[:80]}")
    return metadata


def _read_config(config_path, expected=None):
    """The serialized model in `config_path`, checked to name a model (an `expected`
    subclass when given)."""
    try:
        with open(config_path) as f:
            config = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{config_path} is not valid JSON: {error}") from error
    if not (isinstance(config, dict) and isinstance(config.get("class_name"), str)
            and isinstance(config.get("config"), dict)):
        raise CheckpointError(f"{config_path}: expected a serialized Keras model (an object "
                              f"with 'class_name' and 'config'), found "
                              f"{json.dumps(config)[:80]}")
    found = keras.saving.get_registered_object(config.get("registered_name") or "")
    if expected is not None and not (isinstance(found, type) and issubclass(found, expected)):
        raise CheckpointError(f"{config_path}: holds a {config['class_name']}, expected a "
                              f"{expected.__name__}")
    return config


def _check_weights(model, weights_path):
    """Check that `weights_path` is a complete HDF5 file holding exactly `model`'s
    variables, each with its shape. Returns None for the current layout, or HDF5 key ->
    variable for a file in an earlier layout (`_LEGACY_GROUPS`)."""
    expected = _weights_layout(model)
    try:
        h5 = h5py.File(weights_path, "r")
    except OSError as error:
        raise CheckpointError(f"{weights_path} is not a complete HDF5 weights file: "
                              f"{error}") from error
    with h5:
        stored = _dataset_shapes(h5)
    legacy = {_legacy_key(key): variable for key, variable in expected.items()}
    if set(stored) != set(expected) and set(stored) == set(legacy):
        _check_shapes(legacy, stored, weights_path)
        return legacy
    _check_shapes(expected, stored, weights_path)
    return None


def _legacy_key(key):
    for current, earlier in _LEGACY_GROUPS:
        if key.startswith(current):
            return earlier + key[len(current):]
    return key


def _check_shapes(expected, stored, weights_path):
    """Every variable of `expected` (key -> variable) stored with its shape, nothing else."""
    for key, variable in expected.items():
        want = tuple(variable.shape)
        if key not in stored:
            raise CheckpointError(f"{weights_path}: variable {variable.path!r} (key {key!r}) "
                                  f"is missing, the config expects shape {want}")
        if stored[key] != want:
            raise CheckpointError(f"{weights_path}: variable {variable.path!r} (key {key!r}) "
                                  f"has shape {stored[key]}, the config expects {want}")
    extra = sorted(set(stored) - set(expected))
    if extra:
        raise CheckpointError(f"{weights_path}: holds {len(extra)} arrays the config does "
                              f"not expect, e.g. {extra[:3]}")


class _LayoutRecorder(saving_lib.H5IOStore):
    """Stands in for the weights file during `save_weights`' walk over a model and
    records the HDF5 key each variable would be written to; writes nothing."""

    def __init__(self):
        self.variables = {}
        self._group = "vars"

    def __bool__(self):
        return True

    def make(self, path, metadata=None):
        self._group = posixpath.join(path, "vars")
        return self

    def __setitem__(self, key, variable):
        self.variables[posixpath.join(self._group, key)] = variable


def _weights_layout(model):
    """HDF5 key -> variable, as `model.save_weights` lays them out."""
    recorder = _LayoutRecorder()
    saving_lib._save_state(model, weights_store=recorder, assets_store=None, inner_path="",
                           visited_saveables=set())
    return recorder.variables


def _dataset_shapes(h5):
    """HDF5 key -> shape of every dataset in an open file."""
    shapes = {}
    h5.visititems(lambda key, item: shapes.update({key: item.shape})
                  if isinstance(item, h5py.Dataset) else None)
    return shapes


def _build(config, config_path):
    try:
        return keras.saving.deserialize_keras_object(config)
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{config_path}: cannot build a {config['class_name']} from "
                              f"its config: {error}") from error


def _check_folder(directory):
    if not os.path.exists(directory):
        raise FileNotFoundError(f"preset folder {directory} does not exist")
    if not os.path.isdir(directory):
        raise NotADirectoryError(f"{directory} is a file, expected a preset folder "
                                 f"({' + '.join(PRESET_FILES)})")
    for name in PRESET_FILES:
        if not os.path.isfile(os.path.join(directory, name)):
            raise FileNotFoundError(f"preset folder {directory} lacks {name}; a preset "
                                    f"holds {' + '.join(PRESET_FILES)}")


def check_replaceable(directory):
    """Refuse (FileExistsError naming it) to replace anything at `directory` but a preset
    folder or an empty one: `save_preset` replaces its target whole."""
    directory = os.path.abspath(os.fspath(directory))
    if not os.path.lexists(directory):
        return
    if not os.path.isdir(directory) or os.path.islink(directory):
        raise FileExistsError(f"{directory} exists and is not a preset folder; not "
                              f"replacing it")
    others = sorted(set(os.listdir(directory)) - {*PRESET_FILES, METADATA_FILE})
    if others:
        raise FileExistsError(f"{directory} holds {others[:3]} besides a preset "
                              f"({' + '.join(PRESET_FILES)}); not replacing it ({directory} "
                              f"is a folder that is not a preset)")


def _aside(directory):
    """Where `save_preset` keeps the old folder while the new one is renamed in."""
    return os.path.join(os.path.dirname(directory), f".preset-{os.path.basename(directory)}.old")


def _staging_prefix(directory):
    return os.path.join(os.path.dirname(directory),
                        f".preset-{os.path.basename(directory)}.staging-")


def _restore_aside(directory):
    """Put the old folder back if a save was killed after moving it aside; True if so."""
    aside = _aside(directory)
    if os.path.lexists(directory) or not os.path.isdir(aside):
        return False
    os.rename(aside, directory)
    return True


def _remove_leftovers(directory):
    """Delete the staging folders of killed saves to `directory` and a stale old copy
    (`directory` itself exists or was never there)."""
    parent, prefix = os.path.split(_staging_prefix(directory))
    staging = re.compile(re.escape(prefix) + r"\d+-[0-9a-f]{8}")
    for name in os.listdir(parent):
        if staging.fullmatch(name):
            shutil.rmtree(os.path.join(parent, name))
    if os.path.isdir(_aside(directory)):
        shutil.rmtree(_aside(directory))


def _swap_in(staging, directory):
    """Rename `staging` to `directory`; an existing `directory` is moved aside first and
    deleted last, so a good copy exists at every moment."""
    if not os.path.lexists(directory):
        os.rename(staging, directory)
        _sync(os.path.dirname(directory))
        return
    aside = _aside(directory)
    os.rename(directory, aside)
    try:
        os.rename(staging, directory)
    except BaseException:
        os.rename(aside, directory)
        raise
    _sync(os.path.dirname(directory))
    shutil.rmtree(aside)


def _sync(path):
    """Flush a file or folder to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
