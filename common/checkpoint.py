"""Checkpoints: the only module that imports orbax.

A checkpoint holds the full train state (params, optimizer state, mutable
collections, EMA, step, RNG key data), a small JSON record (data position,
wall time) and a checksum manifest: the SHA-256 of every array's bytes,
keyed by its path in the state. The three are written by one orbax save,
which is atomic (a temporary directory renamed when complete), so a run
killed mid-save leaves the previous checkpoint intact and never a checkpoint
without its manifest.

Restores go into an abstract target built by the current code, so a
checkpoint from a different model fails loudly instead of loading silently
into the wrong structure, and every restored array is checked against the
manifest, so a flipped or truncated byte on disk is a `CheckpointError`
naming the checkpoint, never wrong optimizer moments. `restore_newest_intact`
falls back from a damaged checkpoint to the newest one that is intact and
moves the damaged ones aside (to `corrupt_checkpoints/` beside the
checkpoint directory), so nothing is deleted and later saves of the same
steps are not skipped.
"""
import hashlib
import logging
import os
import shutil
import sys
import traceback

import jax
import numpy as np
import orbax.checkpoint as ocp

from common import metrics as metrics_lib
from common.errors import CheckpointError

MANIFEST_ITEM = 'manifest'


class Checkpointer:
  """Keeps the last `max_to_keep` checkpoints of a run under `directory`."""

  def __init__(self, directory, max_to_keep=3):
    self.directory = os.path.abspath(directory)
    self._max_to_keep = max_to_keep
    self._manager = self._open()

  def _open(self):
    return ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=self._max_to_keep, create=True,
            # Temporary directories of saves killed half-way are removed on
            # start, so they never pile up beside the kept checkpoints.
            cleanup_tmp_directories=True))

  def latest_step(self):
    return self._manager.latest_step()

  def all_steps(self):
    return sorted(self._manager.all_steps())

  def save(self, step, state, meta, host_state=None):
    """Saves `state` (and `meta`) at `step` with its checksum manifest.

    `host_state` is `host_tree(state)` if the caller already has it.
    """
    host_state = host_tree(state) if host_state is None else host_state
    saved = self._manager.save(int(step), args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta),
        **{MANIFEST_ITEM: ocp.args.JsonSave(checksums(host_state))}))
    if not saved:  # orbax skips steps <= the latest; never silently.
      raise CheckpointError(
          f'checkpoint {step} was not saved: {self.directory} already holds '
          f'step {self.latest_step()}')

  def restore(self, abstract_state, step=None):
    """Restores (state, meta) from `step` (default: latest) into the target.

    The arrays are verified against the checkpoint's checksum manifest. With
    `abstract_state=None` they come back as saved (numpy), which is for
    inspecting and comparing checkpoints, not for resuming.
    """
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f'no checkpoint in {self.directory}')
    where = os.path.join(self.directory, str(step))
    has_manifest = os.path.isdir(os.path.join(where, MANIFEST_ITEM))
    items = dict(state=ocp.args.StandardRestore(abstract_state),  # None: as saved.
                 meta=ocp.args.JsonRestore())
    if has_manifest:
      items[MANIFEST_ITEM] = ocp.args.JsonRestore()
    _drop_read_noise()  # Before: the noise can race the exception.
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(
          f'cannot restore checkpoint {where} (truncated or damaged, or from '
          f'another model): {type(e).__name__}: {_first_line(e)}') from e
    if has_manifest:
      bad = _mismatches(restored[MANIFEST_ITEM],
                        checksums(host_tree(restored.state)))
      if bad:
        raise CheckpointError(
            f'checkpoint {where} is corrupt: checksum mismatch in '
            f'{", ".join(bad[:3])}{" ..." if len(bad) > 3 else ""}')
    else:
      metrics_lib.log('checkpoint %s has no checksum manifest (saved by an '
                      'older version); restored unverified', where)
    return restored.state, restored.meta

  def restore_newest_intact(self, abstract_state):
    """(state, meta) of the newest checkpoint that restores and verifies.

    Damaged newer checkpoints are reported in one line each and moved to
    `corrupt_checkpoints/`, and checkpoints beyond `max_to_keep` (left by a
    kill between a save and orbax's clean-up) are deleted. If none is
    intact, nothing is moved and the error names every checkpoint and the
    remedy.
    """
    failures = []
    for step in reversed(self.all_steps()):
      try:
        state, meta = self.restore(abstract_state, step)
      except CheckpointError as e:
        metrics_lib.log('%s', e)
        failures.append((step, e))
        continue
      if failures:
        self._move_aside([s for s, _ in failures])
        metrics_lib.log('resuming from the newest intact checkpoint, step %d',
                        step)
      self._prune()
      return state, meta
    if not failures:
      raise CheckpointError(f'no checkpoint in {self.directory}')
    raise CheckpointError(
        f'no intact checkpoint in {self.directory} (steps '
        f'{", ".join(str(s) for s, _ in failures)}; newest: {failures[0][1]}). '
        f'Move {self.directory} away to start the run over')

  def _prune(self):
    """Deletes the oldest checkpoints beyond `max_to_keep`.

    orbax deletes them after the next save completes, so a run killed in
    between leaves one too many; they go once the newest is known intact.
    """
    steps = self.all_steps()
    if self._max_to_keep and len(steps) > self._max_to_keep:
      for step in steps[:len(steps) - self._max_to_keep]:
        self._manager.delete(step)

  def _move_aside(self, steps):
    self._manager.close()
    target = os.path.join(os.path.dirname(self.directory), 'corrupt_checkpoints')
    os.makedirs(target, exist_ok=True)
    for step in steps:
      name, n = str(step), 1
      while os.path.exists(os.path.join(target, name)):
        name, n = f'{step}.{n}', n + 1
      shutil.move(os.path.join(self.directory, str(step)),
                  os.path.join(target, name))
      metrics_lib.log('moved the damaged checkpoint %d to %s', step,
                      os.path.join(target, name))
    self._manager = self._open()

  def wait(self):
    self._manager.wait_until_finished()

  def close(self):
    self._manager.wait_until_finished()
    self._manager.close()


def abstract_like(tree):
  """ShapeDtypeStructs (with shardings) describing `tree`, for restore."""
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


def host_tree(tree):
  """The tree with every array copied to this host as numpy."""
  return jax.tree.map(_host_value, tree)


def checksums(tree):
  """{path: sha256 of dtype, shape and bytes} for every array in the tree.

  Paths are the key names joined by '/', the same whether the tree is the
  train state itself or the nested dicts orbax restores without a target.
  """
  out = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    a = np.ascontiguousarray(_host_value(leaf))
    digest = hashlib.sha256(f'{a.dtype.str}{a.shape}'.encode())
    digest.update(a.tobytes())
    out[_path_name(path)] = digest.hexdigest()
  return out


def _host_value(leaf):
  if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
    # Multi-host: the state is replicated, any local shard is the whole value.
    return np.asarray(leaf.addressable_data(0))
  return np.asarray(leaf)


def _path_name(path):
  parts = []
  for k in path:
    for attr in ('key', 'name', 'idx'):
      if hasattr(k, attr):
        parts.append(str(getattr(k, attr)))
        break
    else:
      parts.append(str(k))
  return '/'.join(parts)


def _mismatches(expected, actual):
  names = sorted(set(expected) | set(actual))
  return [n for n in names if expected.get(n) != actual.get(n)]


def _drop_read_noise():
  """After one read fails, orbax closes its asyncio loop while tensorstore
  still completes the other reads; Python then reports each of them as an
  unraisable exception ('Event loop is closed', or an abandoned read
  coroutine) and asyncio logs their unretrieved failures at exit: dozens of
  tracebacks that say nothing more than the one-line error already does.
  This drops exactly those, process-wide (some arrive before the restore
  raises, some long after it has returned), and passes everything else on.
  """
  previous = sys.unraisablehook
  if getattr(previous, 'drops_orbax_read_noise', False):
    return

  def hook(unraisable):
    code = getattr(unraisable.object, 'cr_code', None)
    if (isinstance(unraisable.exc_value, RuntimeError)
        and str(unraisable.exc_value) == 'Event loop is closed'):
      return
    if code is not None and 'orbax' in code.co_filename:
      return
    previous(unraisable)

  hook.drops_orbax_read_noise = True
  sys.unraisablehook = hook
  logging.getLogger('asyncio').addFilter(_unretrieved_read_failure_filter)


def _unretrieved_read_failure_filter(record):
  """False (drop) for asyncio's 'exception was never retrieved' about a
  tensorstore read that orbax abandoned."""
  if 'never retrieved' not in record.getMessage():
    return True
  text = record.getMessage()
  if record.exc_info:
    text += ''.join(traceback.format_exception(*record.exc_info))
  return not any(s in text for s in ('orbax', 'tensorstore', 'DATA_LOSS'))


def _first_line(e):
  text = str(e).strip().splitlines()
  text = text[0].split('. See full TensorStore details')[0] if text else ''
  return text[:300]
