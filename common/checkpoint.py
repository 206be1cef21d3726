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
CHECKSUMMED = 'checksummed'  # In the JSON record of every checkpoint saved
                             # with a manifest: a missing manifest is damage.


class StateMismatchError(CheckpointError):
  """The checkpoint holds another train state (model, optimizer) than the
  current config builds: not damage, so nothing falls back."""


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

    `host_state` is `host_tree(state)` if the caller already has it. Only
    process 0 writes the JSON items, so only it computes the manifest.
    """
    manifest = {}
    if jax.process_index() == 0:
      manifest = checksums(host_tree(state) if host_state is None else host_state)
    saved = self._manager.save(int(step), args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        meta=ocp.args.JsonSave({**meta, CHECKSUMMED: True}),
        **{MANIFEST_ITEM: ocp.args.JsonSave(manifest)}))
    if not saved:  # orbax skips steps <= the latest; never silently.
      raise CheckpointError(
          f'checkpoint {step} was not saved: {self.directory} already holds '
          f'step {self.latest_step()}')

  def restore(self, abstract_state, step=None):
    """Restores (state, meta) from `step` (default: latest) into the target.

    The arrays are verified against the checkpoint's checksum manifest, and
    before anything is read the manifest's array names and shapes are
    compared with the target's: a checkpoint of another model or optimizer
    is a `StateMismatchError`, not a read failure. With
    `abstract_state=None` the arrays come back as saved (numpy), which is
    for inspecting and comparing checkpoints, not for resuming.
    """
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f'no checkpoint in {self.directory}')
    where = os.path.join(self.directory, str(step))
    has_manifest = os.path.isdir(os.path.join(where, MANIFEST_ITEM))
    _drop_read_noise()  # Before reading: the noise can race the exception.
    manifest = self._read_manifest(step) if has_manifest else None
    if manifest is not None and abstract_state is not None:
      _check_structure(where, manifest, abstract_state)
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state),  # None: as saved.
          meta=ocp.args.JsonRestore()))
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(
          f'cannot restore checkpoint {where} (truncated or damaged, or from '
          f'another model): {type(e).__name__}: {_first_line(e)}') from e
    meta = dict(restored.meta)
    if meta.pop(CHECKSUMMED, False) and manifest is None:
      raise CheckpointError(f'checkpoint {where} is damaged: its checksum '
                            'manifest is missing')
    if manifest is None:
      metrics_lib.log('checkpoint %s has no checksum manifest (saved by an '
                      'older version); restored unverified', where)
    else:
      bad = _mismatches(manifest, checksums(host_tree(restored.state)))
      if bad:
        raise CheckpointError(
            f'checkpoint {where} is corrupt: checksum mismatch in '
            f'{", ".join(bad[:3])}{" ..." if len(bad) > 3 else ""}')
    return restored.state, meta

  def _read_manifest(self, step):
    try:
      manifest = self._manager.restore(step, args=ocp.args.Composite(
          **{MANIFEST_ITEM: ocp.args.JsonRestore()}))[MANIFEST_ITEM]
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(
          f'cannot read the checksum manifest of checkpoint '
          f'{os.path.join(self.directory, str(step))}: {type(e).__name__}: '
          f'{_first_line(e)}') from e
    if not isinstance(manifest, dict) or not all(
        isinstance(v, dict) and {'sha256', 'shape', 'dtype'} <= set(v)
        for v in manifest.values()):
      raise CheckpointError(f'checkpoint {os.path.join(self.directory, str(step))} '
                            'has a damaged checksum manifest')
    return manifest

  def restore_newest_intact(self, abstract_state):
    """(state, meta) of the newest checkpoint that restores and verifies.

    Damaged newer checkpoints are reported in one line each and moved to
    `corrupt_checkpoints/`, and checkpoints beyond `max_to_keep` (left by a
    kill between a save and orbax's clean-up) are deleted. If none is
    intact, nothing is moved and the error names every checkpoint and the
    remedy. A checkpoint of another state (`StateMismatchError`) stops at
    once: it is not damaged, the config is different.
    """
    failures = []
    for step in reversed(self.all_steps()):
      try:
        state, meta = self.restore(abstract_state, step)
      except StateMismatchError:
        raise
      except CheckpointError as e:
        metrics_lib.log('%s', e)
        failures.append((step, e))
        continue
      # Every process has read the same files; only process 0 moves or
      # deletes any, and none reopens the directory before it is done.
      _sync('checkpoint-restored')
      if failures and jax.process_index() == 0:
        self._move_aside([s for s, _ in failures])
      if failures:
        metrics_lib.log('resuming from the newest intact checkpoint, step %d',
                        step)
      if jax.process_index() == 0:
        self._prune()
      _sync('checkpoint-cleaned')
      self._manager.close()
      self._manager = self._open()
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
        shutil.rmtree(os.path.join(self.directory, str(step)))

  def _move_aside(self, steps):
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


def named_leaves(tree):
  """(name, leaf) for every array of a tree; names are the key names joined
  by '/', the same whether the tree is the train state itself or the nested
  dicts orbax restores without a target."""
  return [(path_name(p), leaf)
          for p, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]]


def checksums(tree):
  """{name: {sha256 of dtype, shape and bytes; shape; dtype}} per array."""
  out = {}
  for name, leaf in named_leaves(tree):
    a = np.asarray(_host_value(leaf))
    digest = hashlib.sha256(f'{a.dtype.str}{a.shape}'.encode())
    digest.update(a.tobytes(order='C'))
    out[name] = {'sha256': digest.hexdigest(), 'shape': list(a.shape),
                 'dtype': a.dtype.str}
  return out


def _host_value(leaf):
  if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
    # Multi-host: the state is replicated, any local shard is the whole value.
    return np.asarray(leaf.addressable_data(0))
  return np.asarray(leaf)


def path_name(path):
  """A tree path as key names joined by '/' (e.g. opt_state/1/mu/w)."""
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


def _check_structure(where, manifest, abstract_state):
  """StateMismatchError unless the target has the manifest's arrays and
  shapes (checked before any array is read)."""
  want = {name: list(leaf.shape) for name, leaf in named_leaves(abstract_state)}
  have = {name: entry['shape'] for name, entry in manifest.items()}
  only_saved = sorted(set(have) - set(want))
  only_now = sorted(set(want) - set(have))
  shapes = [f'{n} {have[n]} (saved) vs {want[n]}' for n in sorted(set(have) & set(want))
            if have[n] != want[n]]
  if not (only_saved or only_now or shapes):
    return
  parts = []
  for label, names in (('only in the checkpoint', only_saved),
                       ('only in this run', only_now), ('shapes', shapes)):
    if names:
      parts.append(f'{label}: {", ".join(names[:3])}'
                   f'{f" and {len(names) - 3} more" if len(names) > 3 else ""}')
  raise StateMismatchError(
      f'checkpoint {where} holds another train state than this config builds '
      f'({"; ".join(parts)})')


def _sync(name):
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(name)


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
