"""The training loop on a toy objective with a known optimum."""
import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import data as data_lib
from common import trainer
from common.errors import NonFiniteLossError
from configs import common as config_common


class MeanObjective:
  """Least squares for a location mu: the optimum is the training mean.

  With `nan_below`, the loss becomes NaN once mu drops below that value, which
  lets a test provoke a non-finite step at a predictable point.
  """

  def __init__(self, nan_below=None):
    self.nan_below = nan_below

  def init(self, rng, batch):
    del rng
    return {'params': {'mu': jnp.zeros(batch['x'].shape[1:])}}

  def loss(self, variables, batch, rng, train):
    del rng, train
    mu = variables['params']['mu']
    loss = jnp.mean(jnp.square(batch['x'] - mu))
    if self.nan_below is not None:
      loss = jnp.where(jnp.min(mu) < self.nan_below, jnp.nan, loss)
    return loss, {}, {}

  def evaluate(self, variables, batch, rng):
    del rng
    err = jnp.square(batch['x'] - variables['params']['mu'])
    return {'sq_err': jnp.mean(err.reshape(err.shape[0], -1), -1)}


def _config(**kw):
  c = config_common.base_config()
  c.batch_size, c.eval_batch_size = 16, 7  # 7 does not divide the test set.
  c.total_steps, c.log_every_steps, c.ckpt_every_steps = 300, 50, 100
  c.optim.name, c.optim.learning_rate = 'sgd', 0.1
  c.optim.momentum = 0.0
  for k, v in kw.items():
    node = c
    *path, leaf = k.split('.')
    for p in path:
      node = node[p]
    node[leaf] = v
  return c


def _dataset():
  rng = np.random.default_rng(0)
  x_train = (3.0 + rng.standard_normal((160, 2))).astype(np.float32)
  x_test = (3.0 + rng.standard_normal((50, 2))).astype(np.float32)
  return data_lib.Dataset('toy', x_train, x_test, levels=0)


def test_fit_reaches_the_optimum_and_evaluates_every_test_example(tmp_path):
  ds = _dataset()
  final = trainer.fit(_config(**{'optim.ema_decay': 0.9}), str(tmp_path),
                      MeanObjective(), ds)
  mu = ds.x_train.mean(0)
  # Exact test error of the training mean, averaged over all 50 examples once.
  expected = np.mean(np.square(ds.x_test - mu))
  assert final['eval/test/sq_err'] == pytest.approx(expected, rel=2e-2)
  with open(tmp_path / 'final_metrics.json') as f:
    assert json.load(f)['step'] == 300


def test_schedules():
  cfg = _config().optim
  cfg.learning_rate, cfg.warmup_steps = 1.0, 10
  cfg.schedule = 'cosine'
  s = trainer.make_schedule(cfg, 110)
  assert float(s(0)) == 0.0 and float(s(5)) == pytest.approx(0.5)
  assert float(s(10)) == pytest.approx(1.0) and float(s(110)) == pytest.approx(0.0, abs=1e-6)
  cfg.schedule, cfg.step_every, cfg.step_factor = 'step', 20, 0.5
  s = trainer.make_schedule(cfg, 110)
  assert float(s(10 + 19)) == pytest.approx(1.0) and float(s(10 + 20)) == pytest.approx(0.5)
  cfg.schedule, cfg.decay_rate, cfg.warmup_steps = 'exponential', 0.9, 0
  assert float(trainer.make_schedule(cfg, 10)(2)) == pytest.approx(0.81)
  # IWAE (arXiv:1509.00519): pass i lasts 3^i epochs at lr * 10^(-i/7).
  cfg.schedule, cfg.step_every, cfg.learning_rate = 'iwae', 2, 1e-3
  s = trainer.make_schedule(cfg, 10**6)
  starts = np.cumsum([0] + [2 * 3**i for i in range(8)])
  for i in range(8):
    for step in (starts[i], starts[i + 1] - 1):
      assert float(s(step)) == pytest.approx(1e-3 * 10**(-i / 7), rel=1e-5), (i, step)


def test_epochs_convert_to_steps():
  c = _config(total_epochs=2.5)
  assert trainer.num_train_steps(c, 160) == 25  # 10 steps per epoch.


def test_nan_guard_freezes_state_and_names_the_step(tmp_path):
  # mu moves from 0 towards ~3 under SGD, then the loss turns NaN once mu is
  # pushed below -1 by a negative learning rate: the first update is fine,
  # the NaN appears at a step we can compute.
  c = _config(**{'optim.learning_rate': -0.5, 'ckpt_every_steps': 1,
                 'log_every_steps': 1, 'total_steps': 10})
  with pytest.raises(NonFiniteLossError, match=r'at step (\d+)') as info:
    trainer.fit(c, str(tmp_path), MeanObjective(nan_below=-1.0), _dataset())
  bad = int(re.search(r'at step (\d+)', str(info.value)).group(1))
  assert 2 <= bad <= 4
  kept = sorted(int(s) for s in os.listdir(tmp_path / 'checkpoints'))
  assert kept and max(kept) == bad - 1


def test_partial_evaluation_uses_a_fixed_random_subset(tmp_path):
  # A test set sorted by value (like binarized MNIST's, which is grouped by
  # class): a prefix would only see the small values.
  ds = _dataset()
  ds.x_test = np.sort(ds.x_test, axis=0)
  config = _config(eval_every_steps=100, eval_examples=20,
                   **{'total_steps': 100})
  trainer.fit(config, str(tmp_path), MeanObjective(), ds)
  with open(tmp_path / 'metrics.jsonl') as f:
    partial = [json.loads(l) for l in f if 'eval/test/sq_err' in l][0]
  mu = ds.x_train.mean(0)
  subset = np.sort(np.random.default_rng(0).permutation(50)[:20])
  expected = np.mean(np.square(ds.x_test[subset] - mu))
  prefix = np.mean(np.square(ds.x_test[:20] - mu))
  assert partial['eval/test/sq_err'] == pytest.approx(expected, rel=5e-2)
  assert abs(expected - prefix) > 0.2
