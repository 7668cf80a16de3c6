"""Training checkpoints with Orbax: model + optimizer variables and the run's settings at a
step, written atomically.

Orbax writes each step into a temporary folder and renames it into place when complete.
A step is trusted only if it reads back whole: it has Orbax's commit marker and all its
arrays and metadata load. On resume, newer steps that do not (a damaged or partly copied
folder) are skipped with a warning and removed, so that training saves those steps again;
Orbax temporary folders left by a kill are reported and left for Orbax to replace.

On JAX the arrays are saved as the `jax.Array`s they are, each in its sharding: every
process writes its own shards, nothing is gathered to one host, and a restore given the
model reads each array straight into its variable's sharding. Other backends save host
arrays.

With `asynchronous=True` a save returns once the values are copied off the training
state (device arrays to host memory); Orbax writes them in a background thread while
training goes on, and the step folder appears, renamed whole, when it is complete. The
next save, any read and `close` first wait for a write in flight; a failed write raises
there.
"""
import os
import re
import shutil
import warnings

import keras
import numpy as np

from keras4ds.distribution.strategies import is_primary_process

COMMIT_MARKER = "commit_success.txt"  # what Orbax writes into a step folder it completed
# The array tree's metadata: a restore given target shardings would not read it, but a step
# without it cannot be read on its own, so it is not complete.
ARRAY_METADATA = os.path.join("state", "_METADATA")
TEMPORARY_SUFFIX = ".orbax-checkpoint-tmp"  # Orbax's name for a step folder being written


def _path(variable):
    """Variable path without the uniquifying suffix Keras gives a second model of the same
    name in one process ("four_ds_encoder_1/..." -> "four_ds_encoder/...")."""
    return re.sub(r"^([^/]+?)(_\d+)?/", r"\1/", variable.path)


def _signature(group, variables):
    """Shapes and (for model variables) paths, to check that a checkpoint fits a model.
    Optimizer variable names embed model paths, so only their shapes are compared."""
    return [f"{_path(v) if group == 'model' else ''}:{list(v.shape)}" for v in variables]


def _variables(model, optimizer):
    return {"model": list(model.variables), "optimizer": list(optimizer.variables)}


def _mismatch(group, saved, current):
    """How the saved signature of `group` differs from the model's, or None if it fits."""
    for i, (a, b) in enumerate(zip(saved, current)):
        if a != b:
            return (f"{group} variable #{i} is {a!r} there, but this model's is {b!r} "
                    "(expected the same variable names and shapes)")
    if len(saved) != len(current):
        return f"it holds {len(saved)} {group} variables, this model has {len(current)}"
    return None


def _saved_value(variable):
    """What is saved of `variable`: its jax.Array as it is (sharded) on JAX, else a numpy
    copy."""
    if keras.backend.backend() == "jax":
        return variable.value
    # A copy: torch's numpy view shares the tensor's memory, which training overwrites in
    # place while a background write may still read it. The variable itself, not its
    # `.value`, converts under a tf.distribute strategy (a mirrored int64 step counter's
    # value does not).
    return np.array(keras.ops.convert_to_numpy(variable), copy=True)


def _restore_targets(groups):
    """Orbax restore targets of `groups` on JAX: each array's shape, dtype and the sharding
    of the variable it goes back to; None elsewhere (arrays come back as numpy)."""
    if groups is None or keras.backend.backend() != "jax":
        return None
    import jax

    return {group: {f"{i:05d}": jax.ShapeDtypeStruct(v.value.shape, v.value.dtype,
                                                     sharding=v.value.sharding)
                    for i, v in enumerate(variables)}
            for group, variables in groups.items()}


def _first_line(error):
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


class TrainingCheckpointer:
    """Save / restore the full training state of `model` and its built `optimizer`.
    `settings` (JSON-able) are saved with every step; `read_latest` returns them.
    `asynchronous`: write in the background (see the module docstring)."""

    def __init__(self, directory, max_to_keep=2, settings=None, asynchronous=False):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = os.path.abspath(os.fspath(directory))
        self.settings, self.asynchronous = settings, bool(asynchronous)
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, enable_async_checkpointing=self.asynchronous,
                create=True))

    def step_path(self, step):
        return os.path.join(self.directory, str(step))

    def steps(self):
        """All step folders Orbax sees, complete or not, oldest first (after any write in
        flight)."""
        self.wait()
        return sorted(self.manager.all_steps())

    def wait(self):
        """Block until a background write is complete (raises if it failed)."""
        self.manager.wait_until_finished()

    def latest_step(self):
        """Newest step that reads back complete, or None."""
        found, _ = self._newest_readable()
        return None if found is None else found[0]

    def save(self, step, model, optimizer):
        groups = _variables(model, optimizer)
        arrays = {group: {f"{i:05d}": _saved_value(v) for i, v in enumerate(variables)}
                  for group, variables in groups.items()}
        meta = {group: _signature(group, variables) for group, variables in groups.items()}
        meta["settings"] = self.settings
        self.manager.save(step, args=self._ocp.args.Composite(
            state=self._ocp.args.StandardSave(arrays), meta=self._ocp.args.JsonSave(meta)))
        if not self.asynchronous:
            self.wait()

    def read_latest(self, model=None, optimizer=None, check_meta=None):
        """The newest complete checkpoint as `(step, contents)`, or None if there is none.
        Given the (built) `model` and `optimizer` it will be loaded into, the newest step's
        saved metadata is checked first (`check_meta(step, meta)`, e.g. the run settings,
        then the variable list: a ValueError if it does not fit) and, on JAX, each array is
        read straight into its variable's sharding.

        Half-written checkpoints are skipped with a warning (newer step folders that fail
        to read are removed, so that training saves those steps again). A folder that holds
        no checkpoint, or only unreadable ones, is a ValueError."""
        self.wait()
        self._check_is_checkpoint_folder()
        for name in self._temporary_folders():
            warnings.warn(f"skipping half-written checkpoint {os.path.join(self.directory, name)}: "
                          "an Orbax temporary folder left by an interrupted save", stacklevel=3)
        groups = None
        if model is not None and optimizer is not None:
            groups = _variables(model, optimizer)
            if self.steps():
                self._check_fits(self.steps()[-1], groups, check_meta)
        found, skipped = self._newest_readable(_restore_targets(groups))
        if found is None and skipped:
            raise ValueError(f"no readable training checkpoint in {self.directory}: " + "; ".join(
                f"step folder {self.step_path(step)}: {reason}" for step, reason in skipped))
        for step, reason in skipped:
            warnings.warn(f"skipping half-written checkpoint {self.step_path(step)} ({reason}); "
                          f"resuming from step {found[0]} and removing it", stacklevel=3)
            if is_primary_process():  # one process of a multi-process job cleans up
                shutil.rmtree(self.step_path(step), ignore_errors=True)
        if skipped:
            self.manager.reload()
        return found

    def load(self, step, contents, model, optimizer):
        """Assign `contents` of step `step` (from `read_latest`) to `model` and `optimizer`;
        a checkpoint of another model (other variable names or shapes) is a ValueError."""
        groups = _variables(model, optimizer)
        self._check_meta(step, contents["meta"], groups)
        for group, variables in groups.items():
            values = contents["state"][group]
            for i, variable in enumerate(variables):
                variable.assign(values[f"{i:05d}"])

    def close(self):
        """Finish a write in flight and release Orbax's threads."""
        self.wait()
        self.manager.close()

    def _check_meta(self, step, meta, groups):
        for group, variables in groups.items():
            problem = _mismatch(group, meta[group], _signature(group, variables))
            if problem:
                raise ValueError(f"checkpoint {self.step_path(step)} does not fit this model: "
                                 f"{problem}")

    def _check_fits(self, step, groups, check_meta=None):
        """`check_meta`, then the model against step `step`'s saved variable list, before
        any array is read into a sharding (a step whose metadata does not read is left to
        `_read`, which reports and skips it)."""
        try:
            meta = self.manager.restore(step, args=self._ocp.args.Composite(
                meta=self._ocp.args.JsonRestore()))["meta"]
        except Exception:  # damaged: `_newest_readable` reports and skips it
            return
        if check_meta is not None:
            check_meta(step, meta)
        self._check_meta(step, meta, groups)

    def _read(self, step, targets=None):
        """`(contents, None)` for a complete step, `(None, why not)` otherwise; with
        `targets` (`_restore_targets`) the arrays come back in those shardings."""
        if not os.path.isfile(os.path.join(self.step_path(step), COMMIT_MARKER)):
            return None, f"it has no Orbax commit marker {COMMIT_MARKER}"
        state = (self._ocp.args.StandardRestore() if targets is None
                 else self._ocp.args.StandardRestore(targets))
        try:
            if not os.path.isfile(os.path.join(self.step_path(step), ARRAY_METADATA)):
                raise FileNotFoundError(f"no {ARRAY_METADATA}")
            return self.manager.restore(step, args=self._ocp.args.Composite(
                state=state, meta=self._ocp.args.JsonRestore())), None
        except Exception as error:  # any failure to read means the step cannot be trusted
            return None, f"reading it failed with {_first_line(error)}"

    def _newest_readable(self, targets=None):
        """`((step, contents) or None, [(newer step, why unreadable), ...])`."""
        skipped = []
        for step in reversed(self.steps()):
            contents, reason = self._read(step, targets)
            if reason is None:
                return (step, contents), skipped
            skipped.append((step, reason))
        return None, skipped

    def _temporary_folders(self):
        return sorted(name for name in os.listdir(self.directory) if TEMPORARY_SUFFIX in name)

    def _check_is_checkpoint_folder(self):
        names = sorted(os.listdir(self.directory))
        if names and not self.steps() and not self._temporary_folders():
            raise ValueError(f"{self.directory} is not a training checkpoint folder: expected "
                             "Orbax step folders named by their step number (e.g. '100'), "
                             f"found {names[:5]}{' ...' if len(names) > 5 else ''}")
