"""Checkpoints: the only module that imports orbax.

A checkpoint holds the full train state (params, optimizer state, mutable
collections, EMA, step, RNG key data) plus a small JSON record (data
position, wall time). Saves are atomic: orbax writes to a temporary directory
and renames it when complete, so a run killed mid-save leaves the previous
checkpoint intact. Restores go into an abstract target built by the current
code, so a checkpoint from a different model fails loudly instead of loading
silently into the wrong structure.
"""
import os

import jax
import orbax.checkpoint as ocp

from common.errors import CheckpointError


class Checkpointer:
  """Keeps the last `max_to_keep` checkpoints of a run under `directory`."""

  def __init__(self, directory, max_to_keep=3):
    self.directory = os.path.abspath(directory)
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                             create=True))

  def latest_step(self):
    return self._manager.latest_step()

  def all_steps(self):
    return list(self._manager.all_steps())

  def save(self, step, state, meta):
    self._manager.save(int(step), args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)))

  def restore(self, abstract_state, step=None):
    """Restores (state, meta) from `step` (default: latest) into the target.

    With `abstract_state=None` the arrays come back as saved (numpy), which
    is for inspecting and comparing checkpoints, not for resuming.
    """
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f'no checkpoint in {self.directory}')
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state),  # None: as saved.
          meta=ocp.args.JsonRestore()))
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(
          f'cannot restore checkpoint {step} from {self.directory} into the '
          f'current model: {type(e).__name__}: {_first_line(e)}') from e
    return restored.state, restored.meta

  def wait(self):
    self._manager.wait_until_finished()

  def close(self):
    self._manager.wait_until_finished()
    self._manager.close()


def abstract_like(tree):
  """ShapeDtypeStructs (with shardings) describing `tree`, for restore."""
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


def _first_line(e):
  text = str(e).strip().splitlines()
  return text[0][:300] if text else ''
