"""The orbax wrapper: round trip, keep-N, checksums, clear errors on
mismatch/corruption, fallback to the newest intact checkpoint."""
import glob
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import checkpoint
from common.errors import CheckpointError


def _state(scale=1.0):
  return {'params': {'w': scale * jnp.arange(6.0).reshape(2, 3)},
          'step': jnp.array(3, jnp.int32),
          'rng': jax.random.key_data(jax.random.key(7))}


def test_round_trip_and_keep_n(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path / 'ck'), max_to_keep=2)
  for step in (1, 2, 3):
    ckpt.save(step, _state(step), {'epoch': step})
  ckpt.wait()
  assert ckpt.all_steps() == [2, 3]
  restored, meta = ckpt.restore(checkpoint.abstract_like(_state()))
  assert meta == {'epoch': 3}
  for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(_state(3))):
    np.testing.assert_array_equal(a, b)
  ckpt.close()


def test_mismatched_target_is_a_clear_error(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path / 'ck'))
  ckpt.save(1, _state(), {})
  ckpt.wait()
  other = {'params': {'w': jnp.zeros((4, 4))}, 'step': jnp.array(0),
           'rng': jax.random.key_data(jax.random.key(0))}
  # Told apart from damage before any array is read, naming the arrays.
  with pytest.raises(checkpoint.StateMismatchError,
                     match=r'ck/1 holds another train state .*shapes: '
                     r'params/w \[2, 3\] \(saved\) vs \[4, 4\]'):
    ckpt.restore(checkpoint.abstract_like(other))
  fewer = {'params': {'w': jnp.zeros((2, 3))}, 'step': jnp.array(0)}
  with pytest.raises(checkpoint.StateMismatchError, match='only in the checkpoint: rng'):
    ckpt.restore(checkpoint.abstract_like(fewer))
  # Nothing falls back from a mismatch: it is not damage.
  with pytest.raises(checkpoint.StateMismatchError):
    ckpt.restore_newest_intact(checkpoint.abstract_like(other))
  assert ckpt.all_steps() == [1]


def test_corrupted_checkpoint_is_a_clear_error(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path / 'ck'))
  ckpt.save(1, _state(), {})
  ckpt.close()
  state_dir = tmp_path / 'ck' / '1' / 'state'
  for root, _, files in os.walk(state_dir):
    for f in files:
      if f != 'commit_success.txt':
        with open(os.path.join(root, f), 'wb') as fh:
          fh.write(b'garbage')
  ckpt = checkpoint.Checkpointer(str(tmp_path / 'ck'))
  with pytest.raises(CheckpointError):
    ckpt.restore(checkpoint.abstract_like(_state()))


def test_no_checkpoint(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path / 'empty'))
  assert ckpt.latest_step() is None
  with pytest.raises(CheckpointError, match='no checkpoint'):
    ckpt.restore(checkpoint.abstract_like(_state()))
  shutil.rmtree(tmp_path / 'empty')


def _largest_array_file(step_dir):
  files = [f for f in glob.glob(os.path.join(step_dir, 'state', '**'),
                                recursive=True)
           if os.path.isfile(f) and os.sep + 'd' + os.sep in f]
  return max(files, key=os.path.getsize)


def _flip_byte(path, where=0.5):
  data = bytearray(open(path, 'rb').read())
  data[int(len(data) * where)] ^= 0x10
  with open(path, 'wb') as f:
    f.write(bytes(data))


def _big_state(scale):
  # Large enough that the array bytes dominate the data file.
  return {'params': {'w': scale * jnp.arange(4000.0).reshape(40, 100)},
          'step': jnp.array(scale, jnp.int32)}


def _saved(tmp_path, steps=(1, 2, 3)):
  ckpt = checkpoint.Checkpointer(str(tmp_path / 'ck'), max_to_keep=5)
  for step in steps:
    ckpt.save(step, _big_state(step), {'step': step})
  ckpt.close()
  return checkpoint.Checkpointer(str(tmp_path / 'ck'), max_to_keep=5)


def test_no_flipped_byte_loads_silently(tmp_path):
  # A flipped bit in any file of the checkpoint, at several places: the
  # restore either fails with a CheckpointError naming the checkpoint or
  # returns exactly what was saved. Some flips change array values while
  # the files still parse; only the checksum manifest catches those.
  _saved(tmp_path, steps=(3,))
  step_dir = tmp_path / 'ck' / '3'
  files = sorted(f for f in glob.glob(str(step_dir / '**'), recursive=True)
                 if os.path.isfile(f) and os.path.getsize(f) > 0)
  outcomes = []
  for path in files:
    for where in (0.2, 0.5, 0.8):
      original = open(path, 'rb').read()
      _flip_byte(path, where)
      try:
        state, _ = checkpoint.Checkpointer(str(tmp_path / 'ck')).restore(
            checkpoint.abstract_like(_big_state(0)), 3)
      except CheckpointError as e:
        assert str(step_dir) in str(e)
        outcomes.append('checksum' if 'checksum mismatch' in str(e) else 'error')
      else:
        np.testing.assert_array_equal(state['params']['w'],
                                      _big_state(3)['params']['w'])
        assert int(state['step']) == 3
        outcomes.append('intact')
      finally:
        with open(path, 'wb') as f:
          f.write(original)
  assert 'checksum' in outcomes, outcomes
  # Inspection without a target is verified too.
  for path in files:
    _flip_byte(path)
  with pytest.raises(CheckpointError):
    checkpoint.Checkpointer(str(tmp_path / 'ck')).restore(None, 3)


def test_fallback_to_the_newest_intact_checkpoint(tmp_path):
  ckpt = _saved(tmp_path)
  _flip_byte(_largest_array_file(str(tmp_path / 'ck' / '3')))
  path = _largest_array_file(str(tmp_path / 'ck' / '2'))
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)
  state, meta = ckpt.restore_newest_intact(checkpoint.abstract_like(_big_state(0)))
  assert meta == {'step': 1} and int(state['step']) == 1
  # The damaged ones are kept aside, not deleted, and the steps can be saved
  # again (orbax silently skips steps <= the latest one on disk).
  assert sorted(os.listdir(tmp_path / 'corrupt_checkpoints')) == ['2', '3']
  assert ckpt.all_steps() == [1]
  ckpt.save(2, _big_state(2), {'step': 2})
  ckpt.wait()
  assert ckpt.all_steps() == [1, 2]
  ckpt.close()


def test_no_intact_checkpoint_names_each_and_the_remedy(tmp_path):
  ckpt = _saved(tmp_path, steps=(1, 2))
  for step in ('1', '2'):
    _flip_byte(_largest_array_file(str(tmp_path / 'ck' / step)))
  with pytest.raises(CheckpointError) as info:
    ckpt.restore_newest_intact(checkpoint.abstract_like(_big_state(0)))
  message = str(info.value)
  assert 'no intact checkpoint' in message and 'steps 2, 1' in message
  assert 'to start the run over' in message and '\n' not in message
  # Nothing was moved: the user decides.
  assert ckpt.all_steps() == [1, 2]
  assert not os.path.exists(tmp_path / 'corrupt_checkpoints')


def test_a_skipped_save_is_an_error_not_silence(tmp_path):
  ckpt = _saved(tmp_path, steps=(3,))
  with pytest.raises(CheckpointError, match='was not saved'):
    ckpt.save(2, _big_state(2), {})
  ckpt.close()


def test_checksums_are_independent_of_the_tree_container():
  state = _big_state(2.0)
  as_saved = {'params': {'w': np.asarray(state['params']['w'])},
              'step': np.asarray(state['step'])}
  assert checkpoint.checksums(state) == checkpoint.checksums(as_saved)
  assert checkpoint.checksums(state)['step']['shape'] == []  # Scalars stay 0-d.
  other = {'params': {'w': np.asarray(state['params']['w']).astype(np.float64)},
           'step': np.asarray(state['step'])}
  assert checkpoint.checksums(other) != checkpoint.checksums(state)


def test_checkpoints_without_a_manifest(tmp_path, capsys):
  # Saved by the previous version (state and record only): still restored,
  # with a line saying they are unverified.
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  manager = ocp.CheckpointManager(str(tmp_path / 'old'))
  manager.save(5, args=ocp.args.Composite(
      state=ocp.args.StandardSave(_state()), meta=ocp.args.JsonSave({'e': 1})))
  manager.close()
  ckpt = checkpoint.Checkpointer(str(tmp_path / 'old'))
  state, meta = ckpt.restore(checkpoint.abstract_like(_state()))
  assert meta == {'e': 1}
  np.testing.assert_array_equal(state['params']['w'], _state()['params']['w'])
  assert 'no checksum manifest' in capsys.readouterr().err
  # Saved with one, the manifest may not go missing.
  ckpt = _saved(tmp_path, steps=(3,))
  shutil.rmtree(tmp_path / 'ck' / '3' / checkpoint.MANIFEST_ITEM)
  with pytest.raises(CheckpointError, match='checksum manifest is missing'):
    ckpt.restore(checkpoint.abstract_like(_big_state(0)))
