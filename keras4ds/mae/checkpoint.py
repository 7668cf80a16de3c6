"""Training checkpoints with Orbax: model + optimizer variables at a step, written atomically.

Orbax writes each step into a temporary folder and renames it into place when complete,
so a process killed mid-write leaves no half checkpoint that `latest_step` would return.
"""
import os

import keras
import numpy as np


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
        paths = {group: [v.path for v in variables] for group, variables in groups.items()}
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
            current = [v.path for v in variables]
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
