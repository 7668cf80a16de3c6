"""Training checkpoints with Orbax: model + optimizer variables at a step, written atomically.

Orbax writes each step into a temporary folder and renames it into place when complete,
so a process killed mid-write leaves no half checkpoint that `latest_step` would return.
"""
import os
import re

import keras
import numpy as np


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


class TrainingCheckpointer:
    """Save / restore the full training state of `model` and its built `optimizer`."""

    def __init__(self, directory, max_to_keep=2):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = os.path.abspath(os.fspath(directory))
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True))

    def latest_step(self):
        """Newest complete step, or None."""
        return self.manager.latest_step()

    def save(self, step, model, optimizer):
        groups = _variables(model, optimizer)
        arrays = {group: {f"{i:05d}": np.asarray(keras.ops.convert_to_numpy(v.value))
                          for i, v in enumerate(variables)}
                  for group, variables in groups.items()}
        paths = {group: _signature(group, variables) for group, variables in groups.items()}
        self.manager.save(step, args=self._ocp.args.Composite(
            state=self._ocp.args.StandardSave(arrays), meta=self._ocp.args.JsonSave(paths)))
        self.manager.wait_until_finished()

    def restore(self, model, optimizer, step=None):
        """Load step `step` (default: newest) into `model` and `optimizer`; returns the step."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no complete checkpoint in {self.directory}")
        restored = self.manager.restore(step, args=self._ocp.args.Composite(
            state=self._ocp.args.StandardRestore(), meta=self._ocp.args.JsonRestore()))
        groups = _variables(model, optimizer)
        for group, variables in groups.items():
            saved_paths = restored["meta"][group]
            current = _signature(group, variables)
            if saved_paths != current:
                raise ValueError(f"checkpoint {self.directory}/{step} holds {group} variables "
                                 f"{len(saved_paths)} that do not match this model's "
                                 f"{len(current)} (first difference: "
                                 f"{next((a, b) for a, b in zip(saved_paths + [None], current + [None]) if a != b)})")
            values = restored["state"][group]
            for i, variable in enumerate(variables):
                variable.assign(np.asarray(values[f"{i:05d}"]))
        return step

    def close(self):
        self.manager.close()
