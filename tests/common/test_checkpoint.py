"""The orbax wrapper: round trip, keep-N, clear errors on mismatch/corruption."""
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
  with pytest.raises(CheckpointError, match='cannot restore checkpoint 1'):
    ckpt.restore(checkpoint.abstract_like(other))


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
