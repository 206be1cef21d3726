"""Datasets: fixed splits, deterministic order, npz contract, clear errors."""
import numpy as np
import pytest
from ml_collections import ConfigDict

from common import data
from common.errors import DataError


def _cfg(**kw):
  c = ConfigDict(dict(name='digits', data_dir='', npz_path='', levels=0,
                      hflip=False, num_train=100, num_test=20, seed=0))
  c.update(kw)
  return c


def test_digits_is_the_offline_default():
  ds = data.load(_cfg())
  assert ds.x_train.shape == (1500, 8, 8, 1) and ds.x_test.shape == (297, 8, 8, 1)
  assert ds.x_train.dtype == np.uint8 and ds.levels == 17
  assert ds.x_train.max() == 16 and ds.y_test.shape == (297,)


def test_train_order_is_a_function_of_seed_and_step():
  first_epoch = [data.train_indices(10, 3, s, seed=0) for s in range(3)]
  again = [data.train_indices(10, 3, s, seed=0) for s in range(3)]
  for a, b in zip(first_epoch, again):
    np.testing.assert_array_equal(a, b)
  seen = np.concatenate(first_epoch)
  assert len(set(seen.tolist())) == 9  # No repeats within an epoch.
  assert not np.array_equal(data.train_indices(10, 3, 3, 0), first_epoch[0])
  assert data.data_position(10, 3, 7) == {'epoch': 2, 'batch_index': 1}


def test_npz_contract(tmp_path):
  path = tmp_path / 'd.npz'
  rng = np.random.default_rng(0)
  np.savez(path, x_train=rng.integers(0, 256, (20, 6, 6), dtype=np.uint8),
           x_test=rng.integers(0, 256, (5, 6, 6), dtype=np.uint8),
           y_train=np.zeros(20, np.int64))
  ds = data.load(_cfg(name='npz', npz_path=str(path)))
  assert ds.x_train.shape == (20, 6, 6, 1) and ds.levels == 256
  assert ds.y_test is None
  # A named tfds dataset can be fed from a local file too, of its shape
  # (a run is reopened from the name's shape).
  with pytest.raises(DataError, match=r"not mnist's \(28, 28, 1\).*data.name=npz"):
    data.load(_cfg(name='mnist', npz_path=str(path)))
  mnist = tmp_path / 'm.npz'
  np.savez(mnist, x_train=np.zeros((3, 28, 28), np.uint8),
           x_test=np.zeros((2, 28, 28), np.uint8), y_train=np.arange(3))
  ds = data.load(_cfg(name='mnist', npz_path=str(mnist)))
  assert ds.name == 'mnist' and ds.levels == 256
  assert ds.x_train.shape[1:] == data.spec(_cfg(name='mnist')).x_train.shape[1:]


@pytest.mark.parametrize('arrays,match', [
    (dict(x_train=np.zeros((4, 2, 2), np.uint8)), "no array 'x_test'"),
    (dict(x_train=np.zeros((4, 2, 2), np.float32),
          x_test=np.zeros((4, 2, 2), np.float32)), 'expected uint8'),
    (dict(x_train=np.zeros((4, 2, 2), np.uint8),
          x_test=np.zeros((4, 3, 3), np.uint8)), 'shapes differ'),
    (dict(x_train=np.zeros((4, 2, 2), np.uint8), x_test=np.zeros((3, 2, 2), np.uint8),
          y_train=np.zeros(3, np.int64)), r'4 train examples but labels of shape \(3,\)'),
    (dict(x_train=np.zeros((4, 2, 2), np.uint8), x_test=np.zeros((3, 2, 2), np.uint8),
          y_test=np.zeros(4, np.int64)), '3 test examples'),
])
def test_bad_npz_files_are_rejected(tmp_path, arrays, match):
  path = tmp_path / 'bad.npz'
  np.savez(path, **arrays)
  with pytest.raises(DataError, match=match):
    data.load(_cfg(name='npz', npz_path=str(path)))


def test_npz_split_over_two_files(tmp_path):
  train, test = tmp_path / 'train.npz', tmp_path / 'test.npz'
  np.savez(train, x_train=np.ones((6, 32, 32, 3), np.uint8), y_train=np.arange(6))
  np.savez(test, x_test=np.zeros((2, 32, 32, 3), np.uint8))
  ds = data.load(_cfg(name='cifar10', npz_path=f'{train},{test}'))
  assert ds.x_train.shape == (6, 32, 32, 3) and ds.x_test.shape == (2, 32, 32, 3)
  np.testing.assert_array_equal(ds.y_train, np.arange(6))
  data.load(_cfg(name='cifar10', npz_path=f'{train},{train},{test}'))  # Equal.
  other = tmp_path / 'other.npz'
  np.savez(other, x_test=np.ones((2, 32, 32, 3), np.uint8))
  with pytest.raises(DataError, match="'x_test' differs"):
    data.load(_cfg(name='cifar10', npz_path=f'{train},{test},{other}'))


def test_missing_npz_and_unknown_dataset():
  with pytest.raises(DataError, match='not found'):
    data.load(_cfg(name='npz', npz_path='does/not/exist.npz'))
  with pytest.raises(DataError, match='unknown dataset'):
    data.load(_cfg(name='imagenet'))


def test_levels_are_validated(tmp_path):
  path = tmp_path / 'd.npz'
  x = np.full((4, 2, 2), 9, np.uint8)
  np.savez(path, x_train=x, x_test=x)
  with pytest.raises(DataError, match='levels=8'):
    data.load(_cfg(name='npz', npz_path=str(path), levels=8))


@pytest.mark.parametrize('name', data.TOY_NAMES)
def test_toy_densities_are_fixed_and_disjoint(name):
  a = data.load(_cfg(name=name))
  b = data.load(_cfg(name=name))
  assert a.x_train.shape == (100, 2) and a.x_test.shape == (20, 2)
  assert a.levels == 0 and a.x_train.dtype == np.float32
  np.testing.assert_array_equal(a.x_train, b.x_train)
  assert np.abs(a.x_train).max() < 8
  assert not np.isin(a.x_test[:, 0], a.x_train[:, 0]).any()


def test_hflip_and_process_slice():
  x = np.arange(2 * 1 * 3 * 1).reshape(2, 1, 3, 1)
  flipped = data.random_hflip(x, step=0, seed=0)
  for i in range(2):
    assert (np.array_equal(flipped[i], x[i])
            or np.array_equal(flipped[i], x[i, :, ::-1]))
  np.testing.assert_array_equal(data.random_hflip(x, 0, 0), flipped)
  np.testing.assert_array_equal(data.process_slice(np.arange(8), 1, 4), [2, 3])
