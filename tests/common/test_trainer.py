"""The training loop on a toy objective with a known optimum, and the loop
settings and model sizes it refuses before any work."""
import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import launch
from common import checkpoint as checkpoint_lib
from common import data as data_lib
from common import metrics as metrics_lib
from common import objective as objective_lib
from common import runs
from common import trainer
from common.errors import ConfigError, NonFiniteLossError
from configs import common as config_common
from configs import realnvp_2d
from configs import realnvp_digits


class MeanObjective(objective_lib.Objective):
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
  c = _config(**{'optim.learning_rate': -0.1, 'ckpt_every_steps': 1,
                 'log_every_steps': 1, 'total_steps': 10})
  with pytest.raises(NonFiniteLossError, match=r'at step (\d+)') as info:
    trainer.fit(c, str(tmp_path), MeanObjective(nan_below=-1.0), _dataset())
  bad = int(re.search(r'at step (\d+)', str(info.value)).group(1))
  assert 4 <= bad <= 6  # mu = -0.3, -0.63, -0.99, -1.39 after 1..4 updates.
  # Step `bad` computes the loss at the parameters after bad - 1 updates, so
  # checkpoint bad - 1 is not good and was never written.
  kept = sorted(int(s) for s in os.listdir(tmp_path / 'checkpoints'))
  assert kept == list(range(1, bad - 1))
  assert f'checkpoint (step {bad - 2})' in str(info.value)


def test_a_blown_up_update_is_never_saved_as_good(tmp_path):
  # One SGD step with lr 1e27 sends mu to ~6e27: finite, but its squared
  # error overflows float32, so the loss at those parameters is inf.
  c = _config(**{'optim.learning_rate': 1e27, 'ckpt_every_steps': 1,
                 'log_every_steps': 1, 'total_steps': 6})
  with pytest.raises(NonFiniteLossError, match='at step 2') as info:
    trainer.fit(c, str(tmp_path), MeanObjective(), _dataset())
  assert 'No checkpoint was saved' in str(info.value)
  assert not os.listdir(tmp_path / 'checkpoints')
  # So the same workdir with a sane learning rate trains to the optimum.
  ds = _dataset()
  final = trainer.fit(_config(), str(tmp_path), MeanObjective(), ds)
  expected = np.mean(np.square(ds.x_test - ds.x_train.mean(0)))
  assert final['eval/test/sq_err'] == pytest.approx(expected, rel=2e-2)


class OverflowingStatistics(MeanObjective):
  """A finite loss and gradient, but a running statistic (a mutable
  collection, as batch norm keeps) that overflows to inf at step 2."""

  def init(self, rng, batch):
    return {**super().init(rng, batch), 'stats': {'m': jnp.ones(())}}

  def loss(self, variables, batch, rng, train):
    loss, metrics, _ = super().loss(variables, batch, rng, train)
    return loss, metrics, {'stats': {'m': variables['stats']['m'] * 1e20}}


def test_non_finite_state_values_are_never_saved(tmp_path):
  c = _config(**{'ckpt_every_steps': 1, 'log_every_steps': 1, 'total_steps': 4})
  with pytest.raises(NonFiniteLossError,
                     match=r'values in mutables/stats/m at step 2'):
    trainer.fit(c, str(tmp_path), OverflowingStatistics(), _dataset())
  assert os.listdir(tmp_path / 'checkpoints') == ['1']


class KilledAt(MeanObjective):
  """Stops the process (as a kill would) in the sample hook at `step`."""

  def __init__(self, step):
    super().__init__()
    self.calls, self.step = 0, step

  def sample_images(self, variables, rng):
    self.calls += 1
    if self.calls == self.step:
      raise KeyboardInterrupt
    return {}


def _records(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f]


def test_resume_after_a_kill_records_each_step_once(tmp_path):
  # Logged at every step, checkpointed every 5, killed at step 8: steps 6-8
  # are in metrics.jsonl but not in any checkpoint, and a cut-off line ends
  # the file.
  c = _config(**{'total_steps': 12, 'log_every_steps': 1, 'ckpt_every_steps': 5,
                 'sample_every_steps': 1, 'eval_every_steps': 4})
  with pytest.raises(KeyboardInterrupt):
    trainer.fit(c, str(tmp_path), KilledAt(8), _dataset())
  with open(tmp_path / 'metrics.jsonl', 'a') as f:
    f.write('{"step": 9, "train/lo')
  with open(tmp_path / 'metrics.jsonl') as f:
    logged = [json.loads(line)['step'] for line in f.readlines()[:-1]]
  assert max(logged) == 8
  trainer.fit(c, str(tmp_path), MeanObjective(), _dataset())
  records = _records(tmp_path)
  pairs = [(r['step'], k) for r in records for k in r if k != 'step']
  assert len(pairs) == len(set(pairs))
  assert [r['step'] for r in records if 'train/loss' in r] == list(range(1, 13))
  assert [r['step'] for r in records if 'eval/test/sq_err' in r] == [4, 8, 12]
  # A rerun of the finished run (killed after its final evaluation, say)
  # adds nothing twice either.
  trainer.fit(c, str(tmp_path), MeanObjective(), _dataset())
  pairs = [(r['step'], k) for r in _records(tmp_path) for k in r if k != 'step']
  assert len(pairs) == len(set(pairs))


def test_final_evaluation_is_the_last_record(tmp_path):
  # A periodic evaluation due at the last step would use a subset; the final
  # one, on the whole split, is what metrics.jsonl records there.
  ds = _dataset()
  c = _config(**{'total_steps': 20, 'eval_every_steps': 10, 'eval_examples': 20})
  final = trainer.fit(c, str(tmp_path), MeanObjective(), ds)
  evals = [r for r in _records(tmp_path) if 'eval/test/sq_err' in r]
  assert [r['step'] for r in evals] == [10, 20]
  assert evals[-1]['eval/test/sq_err'] == final['eval/test/sq_err']
  with open(tmp_path / 'final_metrics.json') as f:
    assert json.load(f)['eval/test/sq_err'] == final['eval/test/sq_err']


def test_resuming_with_another_optimizer_state_names_the_keys(tmp_path):
  ds = _dataset()
  c = _config(**{'total_steps': 10, 'ckpt_every_steps': 5})
  trainer.fit(c, str(tmp_path), MeanObjective(), ds)
  # EMA switched on: the state has arrays the checkpoint lacks. Not damage:
  # nothing falls back or moves, and the line names the config keys.
  more = _config(**{'total_steps': 20, 'ckpt_every_steps': 5,
                    'optim.ema_decay': 0.9})
  with pytest.raises(ConfigError) as info:
    trainer.fit(more, str(tmp_path), MeanObjective(), ds)
  message = str(info.value)
  assert 'only in this run: ema_params/mu' in message
  assert 'optim.ema_decay: 0.0 (saved) vs 0.9 (now)' in message
  assert 'total_steps: 10 (saved) vs 20 (now)' in message
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['10', '5']
  assert not os.path.exists(tmp_path / 'corrupt_checkpoints')


def test_keep_checkpoints_holds_after_a_kill(tmp_path):
  # orbax deletes the oldest checkpoint after the next save completes; a kill
  # in between leaves keep + 1 of them. Resuming prunes them back to keep.
  c = _config(**{'total_steps': 20, 'ckpt_every_steps': 5,
                 'keep_checkpoints': 4})
  trainer.fit(c, str(tmp_path), MeanObjective(), _dataset())
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['10', '15', '20', '5']
  c.keep_checkpoints = 2
  trainer.fit(c, str(tmp_path), MeanObjective(), _dataset())
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['15', '20']


def test_progress_rate_excludes_compile_and_evaluation_time(monkeypatch):
  now = [100.0]
  monkeypatch.setattr(metrics_lib.time, 'time', lambda: now[0])
  progress = metrics_lib.Progress(total_steps=101, batch_size=8, start_step=0)
  now[0] += 30.0                  # The first step compiles for 30 s.
  progress.start(1)
  assert progress.update(1) is None
  now[0] += 10.0                  # Ten steps at 1 s each ...
  with progress.paused():
    now[0] += 50.0                # ... and a 50 s evaluation.
  rates = progress.update(11)
  assert rates['steps_per_sec'] == pytest.approx(1.0)
  assert rates['examples_per_sec'] == pytest.approx(8.0)
  assert rates['eta_sec'] == pytest.approx(90.0)


def test_first_progress_line_says_it_includes_compiling(tmp_path, capsys):
  c = _config(**{'total_steps': 3, 'log_every_steps': 1})
  trainer.fit(c, str(tmp_path), MeanObjective(), _dataset())
  lines = [l for l in capsys.readouterr().err.splitlines() if ' step ' in l]
  assert 'first step (includes compiling)' in lines[0]
  assert all('steps/s' in l and 'ETA' in l for l in lines[1:3])
  first = [r for r in _records(tmp_path) if r['step'] == 1][0]
  assert 'train/examples_per_sec' not in first


def test_partial_evaluation_uses_a_fixed_random_subset(tmp_path):
  # A test set sorted by value (like binarized MNIST's, which is grouped by
  # class): a prefix would only see the small values.
  ds = _dataset()
  ds.x_test = np.sort(ds.x_test, axis=0)
  # The periodic evaluation at step 100 (the final one, at 150, is whole).
  config = _config(eval_every_steps=100, eval_examples=20,
                   **{'total_steps': 150})
  trainer.fit(config, str(tmp_path), MeanObjective(), ds)
  with open(tmp_path / 'metrics.jsonl') as f:
    partial = [json.loads(l) for l in f if 'eval/test/sq_err' in l][0]
  mu = ds.x_train.mean(0)
  subset = np.sort(np.random.default_rng(0).permutation(50)[:20])
  expected = np.mean(np.square(ds.x_test[subset] - mu))
  prefix = np.mean(np.square(ds.x_test[:20] - mu))
  assert partial['eval/test/sq_err'] == pytest.approx(expected, rel=5e-2)
  assert abs(expected - prefix) > 0.2


class GroupedObjective(MeanObjective):
  """Own gradients and two parameter groups: the location mu (analytic
  least-squares gradient, no autodiff) and a 'control' scalar c pulled to 2."""

  def init(self, rng, batch):
    return {'params': {**super().init(rng, batch)['params'], 'c': jnp.zeros(())}}

  def loss(self, variables, batch, rng, train):
    loss, metrics, mut = super().loss(variables, batch, rng, train)
    return loss + jnp.square(variables['params']['c'] - 2.0), metrics, mut

  def grads(self, variables, batch, rng):
    mu, c = variables['params']['mu'], variables['params']['c']
    d = batch['x'].shape[-1]
    grad_mu = -2.0 * jnp.mean(batch['x'] - mu, 0) / d
    loss = jnp.mean(jnp.square(batch['x'] - mu))
    return {'mu': grad_mu, 'c': 2.0 * (c - 2.0)}, {'loss': loss}, {}

  def param_labels(self, params):
    return {'mu': 'model', 'c': 'control'}


def test_own_gradients_and_parameter_groups(tmp_path):
  import ml_collections  # pylint: disable=g-import-not-at-top
  ds = _dataset()
  c = _config(**{'total_steps': 1, 'log_every_steps': 1})
  c.optim_groups = ml_collections.ConfigDict({'control': {'learning_rate': 0.25}})
  trainer.fit(c, str(tmp_path / 'one'), GroupedObjective(), ds)
  state, _ = checkpoint_lib.Checkpointer(str(tmp_path / 'one' / 'checkpoints')).restore(None)
  # One SGD step on each group with its own learning rate: c = 0 + 0.25 * 4,
  # mu = 0.1 * (the analytic gradient the objective returned).
  assert float(state['params']['c']) == pytest.approx(1.0)
  batch = ds.x_train[data_lib.train_indices(len(ds.x_train), 16, 0, 0)]
  np.testing.assert_allclose(state['params']['mu'],
                             0.1 * batch.mean(0), rtol=1e-5)
  # Trained on: mu reaches the training mean, c its optimum.
  c.total_steps = 300
  final = trainer.fit(c, str(tmp_path / 'long'), GroupedObjective(), ds)
  expected = np.mean(np.square(ds.x_test - ds.x_train.mean(0)))
  assert final['eval/test/sq_err'] == pytest.approx(expected, rel=2e-2)
  # Groups that name nothing, or keys that are not optim keys, are errors.
  c.optim_groups = ml_collections.ConfigDict({'critic': {'learning_rate': 1.0}})
  with pytest.raises(ConfigError, match=r"\['critic'\] name no parameter group"):
    trainer.fit(c, str(tmp_path / 'bad'), GroupedObjective(), ds)
  c.optim_groups = ml_collections.ConfigDict({'control': {'lr': 1.0}})
  with pytest.raises(ConfigError, match='optim_groups.control.lr'):
    trainer.fit(c, str(tmp_path / 'bad2'), GroupedObjective(), ds)
  c.optim_groups = ml_collections.ConfigDict({'control': {'grad_clip_norm': 1.0}})
  with pytest.raises(ConfigError, match='clipping and EMA are run-wide'):
    trainer.fit(c, str(tmp_path / 'bad3'), GroupedObjective(), ds)


class LosslessGrads(GroupedObjective):

  def grads(self, variables, batch, rng):
    grads, _, mut = super().grads(variables, batch, rng)
    return grads, {}, mut


def test_grads_must_report_the_loss_and_fit_needs_real_data(tmp_path):
  with pytest.raises(ConfigError, match="metrics with 'loss'"):
    trainer.fit(_config(total_steps=2), str(tmp_path / 'a'), LosslessGrads(),
                _dataset())
  stand_in = data_lib.spec(_config().data)   # Digits' shapes, all zeros.
  with pytest.raises(ConfigError, match='stand-in dataset'):
    trainer.fit(_config(total_steps=2), str(tmp_path / 'b'), MeanObjective(),
                stand_in)


class DataFreeObjective(objective_lib.Objective):
  """No dataset: theta minimises (theta - 3)^2 plus noise from the step RNG."""

  needs_data = False

  def init(self, rng, batch):
    assert batch is None
    return {'params': {'theta': jnp.zeros(2)}}

  def loss(self, variables, batch, rng, train):
    assert batch is None
    theta = variables['params']['theta']
    noise = 0.01 * jax.random.normal(rng, theta.shape)
    return jnp.sum(jnp.square(theta - 3.0 + noise)), {}, {}

  def evaluate(self, variables, batch, rng):
    return {'error': jnp.max(jnp.abs(variables['params']['theta'] - 3.0))}


def test_data_free_objective_trains_evaluates_and_resumes(tmp_path):
  c = _config(**{'total_steps': 60, 'ckpt_every_steps': 30, 'eval_every_steps': 30,
                 'log_every_steps': 10})
  final = trainer.fit(c, str(tmp_path / 'full'), DataFreeObjective())
  assert final['eval/error'] < 1e-2
  records = _records(tmp_path / 'full')
  assert [r['step'] for r in records if 'eval/error' in r] == [30, 60]
  # Resumed from step 30, it reaches the same parameters bit for bit.
  os.makedirs(tmp_path / 'resumed')
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.copytree(tmp_path / 'full' / 'checkpoints' / '30',
                  tmp_path / 'resumed' / 'checkpoints' / '30')
  trainer.fit(c, str(tmp_path / 'resumed'), DataFreeObjective())
  a, _ = checkpoint_lib.Checkpointer(str(tmp_path / 'full' / 'checkpoints')).restore(None, 60)
  b, _ = checkpoint_lib.Checkpointer(str(tmp_path / 'resumed' / 'checkpoints')).restore(None, 60)
  np.testing.assert_array_equal(a['params']['theta'], b['params']['theta'])
  with pytest.raises(ConfigError, match='no epochs'):
    trainer.fit(_config(total_epochs=1.0), str(tmp_path / 'e'), DataFreeObjective())


@pytest.mark.parametrize('key,value', [
    ('batch_size', 0), ('batch_size', -8), ('eval_batch_size', 0),
    ('ckpt_every_steps', 0), ('log_every_steps', 0), ('keep_checkpoints', 0),
    ('eval_every_steps', -1), ('optim.warmup_steps', -5)])
def test_loop_settings_out_of_range_fail_before_any_record(key, value, tmp_path):
  config = realnvp_2d.get_config('smoke')
  config = runs.apply_overrides(config, {key: value})   # The key exists.
  workdir = tmp_path / 'w'
  with pytest.raises(ConfigError, match=f'{re.escape(key)} must be'):
    launch.run(config, str(workdir), 'cmd')
  assert not (workdir / 'config.json').exists()


def test_empty_parameters_fail_before_any_record(tmp_path):
  config = realnvp_digits.get_config('smoke')
  config.model.features = 0   # Zero-channel convolutions: empty kernels.
  with pytest.raises(ConfigError, match='empty parameters'):
    launch.run(config, str(tmp_path / 'w'), 'cmd')
  assert not (tmp_path / 'w' / 'config.json').exists()
  assert not (tmp_path / 'w' / 'checkpoints').exists()
