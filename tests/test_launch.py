"""End to end through launch.py's own entry points (`run`, `main`, the CLI).

Every config's smoke variant runs and leaves metrics, checkpoints and images;
a resumed run matches an uninterrupted one bit for bit; bad input stops with
one `error:` line and a non-zero exit; 8 CPU devices match 1 device.
"""
import glob
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

import launch
from common import checkpoint
from common import data as data_lib
from common import runs
from common import sharding
from common import trainer
from common.errors import ConfigError
# Every config file is smoke-run (and, if it trains, resumed): the list is
# configs/*.py itself.
from tests.ranking import pairwise_files
from tests.test_configs import CONFIGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(name, arg='smoke'):
  return importlib.import_module(f'configs.{name}').get_config(arg)


def _metrics(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f]


def _cli(args, env_extra=None, timeout=300):
  env = dict(os.environ, **(env_extra or {}))
  start = time.time()
  proc = subprocess.run([sys.executable, 'launch.py', *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout)
  return proc, time.time() - start


def _eight_devices():
  """The environment of a subprocess on 8 CPU devices, keeping the suite's
  XLA flags (tests/conftest.py)."""
  flags = os.environ.get('XLA_FLAGS', '')
  return {'XLA_FLAGS': f'{flags} --xla_force_host_platform_device_count=8'}


def _assert_one_line_error(proc, *fragments):
  assert proc.returncode != 0, proc.stderr[-2000:]
  errors = [l for l in proc.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1, proc.stderr[-2000:]
  assert 'Traceback' not in proc.stderr, proc.stderr[-2000:]
  for fragment in fragments:
    assert fragment in errors[0], errors[0]
  return errors[0]


def _run_smoke(name, workdir, arg='smoke'):
  """Runs a smoke config; tfds datasets come from tfds' mock_data."""
  config = _config(name, arg)
  if name in ('hmc_vae_latent', 'vi_vae_latent') and not config.vae.workdir:
    # The posterior of a VAE trained (briefly) for this test, once: a run
    # and its resumed copy share it.
    config.vae.workdir = os.path.join(os.path.dirname(workdir), 'vae')
    if not os.path.exists(os.path.join(config.vae.workdir, 'final_metrics.json')):
      launch.run(_config('vae_digits'), config.vae.workdir)
  if name == 'explain_diabetes' and 'method=' not in arg:
    # KernelSHAP on 10 players: the run also computes the exact values and
    # reports its error against them, which _check_explain_run bounds.
    config = _config(name, arg + ',method=kernel')
  if config.entry == 'ranking.run' and config.data.name != 'baseball':
    # A generated file in the data set's format (tests never read ../shared).
    config.data.path = pairwise_files.write_csv(config.data.name, workdir + '.csv')
  if config.entry in ('hmc.run', 'ranking.run') or config.get('data') is None:
    return config, launch.run(config, workdir)
  if name == 'bbans_binarized_mnist':
    # Binary images of MNIST's shape in a local .npz (tfds' mock draws 8-bit).
    rng = np.random.default_rng(0)
    path = workdir + '_binary.npz'
    np.savez(path, x_train=(rng.uniform(size=(64, 28, 28)) < 0.2).astype(np.uint8),
             x_test=(rng.uniform(size=(16, 28, 28)) < 0.2).astype(np.uint8))
    config.data.npz_path = path
  if config.data.name == 'binarized_mnist':
    # mock_data draws 8-bit pixels; MADE binarizes those dynamically.
    config.data.name = 'mnist'
  if config.data.name in ('mnist', 'cifar10'):
    # The real tfds path (builder, prepare, as_dataset) on generated data.
    with tfds.testing.mock_data(num_examples=24):
      return config, launch.run(config, workdir)
  return config, launch.run(config, workdir)


def _check_ranking_run(workdir, config, final):
  for name in ('ranking.txt', 'ranking.json', 'ranking.png', 'config.json'):
    assert os.path.exists(os.path.join(workdir, name)), name
  with open(os.path.join(workdir, 'final_metrics.json')) as f:
    saved = json.load(f)
  assert np.isfinite(saved['log_likelihood']) and saved['converged']
  if config.posterior.num_draws:
    assert saved['posterior_max_rhat'] < 1.5 and 0 < saved['posterior_p_best_max'] <= 1


def _writes_images(config):
  """Whether the config's objective offers sample images (None: it cannot be
  built without its data, as M2 keeps its labelled subset)."""
  try:
    objective = runs.family(config).build(config, data_lib.spec(config.data))
  except ConfigError:
    return None
  return objective.sample_images is not None


def _check_hmc_run(workdir, config, final):
  """What every HMC run must leave behind."""
  with np.load(os.path.join(workdir, 'draws.npz')) as f:
    draws = f['draws']
    assert draws.shape[:2] == (config.num_chains, config.num_draws)
    assert np.all(np.isfinite(draws))
    assert f['sample_acceptance_prob'].shape == draws.shape[:2]
  for name in ('summary.txt', 'summary.json', 'trace.png', 'pair.png',
               'inference_data.nc'):
    assert os.path.exists(os.path.join(workdir, name)), name
  with open(os.path.join(workdir, 'final_metrics.json')) as f:
    saved = json.load(f)
  assert saved['min_ess_bulk'] == pytest.approx(final['min_ess_bulk'])
  assert final['min_ess_bulk'] > 0 and final['max_rhat'] > 0.9
  assert 0 < final['mean_accept'] <= 1


def _check_bbans_run(workdir, config, final):
  assert final['lossless'] and final['num_images'] == config.max_images
  assert os.path.getsize(os.path.join(workdir, 'test.bbans')) == pytest.approx(
      final['bbans_bpd'] * final['num_images'] * (28 * 28 if 'mnist' in
                                                  config.data.name else 64) / 8)
  for key in ('neg_elbo_bpd', 'gzip_bpd', 'bz2_bpd', 'lzma_bpd', 'png_bpd'):
    assert np.isfinite(final[key]) and final[key] > 0, key


def _check_vi_run(workdir, config, final):
  """What every variational-inference run must leave behind."""
  for name in ('summary.txt', 'summary.json', 'elbo.png'):
    assert os.path.exists(os.path.join(workdir, name)), name
  with open(os.path.join(workdir, 'final_metrics.json')) as f:
    saved = json.load(f)
  assert np.isfinite(saved['eval/elbo']) and saved['eval/elbo_se'] > 0
  assert saved == pytest.approx({'step': config.total_steps, **final})
  if config.nuts.compare or config.target == 'linear_regression':
    assert 'vi/max_mean_error_in_sd' in saved  # NUTS or exact reference.
  if config.target == 'vae_latent':
    assert saved['vi/approximation_gap'] > -1.0  # log p(x) >= ELBO, up to noise.
  train = [r for r in _metrics(workdir) if 'train/loss' in r]
  assert [r['step'] for r in train] == list(range(1, config.total_steps + 1))
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']


def _check_conjugate_run(workdir, config, final):
  """What every CAVI / EM / SVI run (vi/run.py) must leave behind."""
  for name in ('summary.txt', 'summary.json', 'elbo.png', 'config.json'):
    assert os.path.exists(os.path.join(workdir, name)), name
  with open(os.path.join(workdir, 'final_metrics.json')) as f:
    assert json.load(f) == pytest.approx(final)
  if config.model.name == 'lda':
    assert -20 < final['heldout_per_word_bound'] < 0
    passes = [r['step'] for r in _metrics(workdir) if 'train/heldout_per_word' in r]
    assert passes == list(range(1, config.model.passes + 1))
  else:
    key = 'final/mean_log_likelihood' if config.model.algorithm == 'em' else 'final/elbo'
    assert np.isfinite(final[key]) and final['iterations'] > 1


def _check_explain_run(workdir, config, final):
  names = ['shap_values.npz', 'beeswarm.png', 'waterfall_0.png',
           'final_metrics.json', 'config.json', 'model/config.json']
  if config.get('train_config'):
    names.append('image_0.png')  # M2: values over the image.
  for name in names:
    assert os.path.exists(os.path.join(workdir, name)), name
  values = np.load(os.path.join(workdir, 'shap_values.npz'))
  assert len(values['values']) == config.explain.num_explain
  assert final['efficiency_max_abs_error'] < 1e-4 * max(
      1.0, np.abs(values['output']).max())
  if config.explain.method == 'kernel' and values['values'].shape[1] <= 16:
    assert 'max_abs_error_vs_exact' in final  # The exact check ran.
  if 'max_abs_error_vs_exact' in final:  # KernelSHAP: within its errors.
    assert final['max_abs_error_vs_exact'] < 6 * final['mean_stderr'] + 1e-6
  if not config.get('train_config'):
    # The tabular MLP reopens unaided from its workdir (common.data reads
    # the table) and predicts what was explained, in the data's units.
    assert str(values['feature_names'][0]) in ('age', 'mean radius')
    run = runs.load_run(os.path.join(workdir, 'model'))
    pred = run.objective.predict(run.variables, values['data'])
    if pred.ndim == 2:  # Two classes: class 1's log-odds.
      pred = pred[:, 1] - pred[:, 0]
    np.testing.assert_allclose(pred, values['output'], rtol=1e-5, atol=1e-5)


def _check_smoke_run(name, workdir, config, final):
  """What every smoke run must leave behind."""
  if config.entry == 'explain.run':
    return _check_explain_run(workdir, config, final)
  if config.entry == 'vi.run':
    return _check_conjugate_run(workdir, config, final)
  if config.entry == 'ranking.run':
    return _check_ranking_run(workdir, config, final)
  if config.entry == 'hmc.run':
    return _check_hmc_run(workdir, config, final)
  if config.entry == 'vi.train':
    return _check_vi_run(workdir, config, final)
  if config.entry == 'coding.run':
    return _check_bbans_run(workdir, config, final)
  records = _metrics(workdir)
  train = [r for r in records if 'train/loss' in r]
  assert [r['step'] for r in train] == list(range(1, config.total_steps + 1))
  assert all(np.isfinite(r['train/loss']) for r in train)
  evals = [k for k in final if k.startswith('eval/test/')]
  assert evals and all(np.isfinite(final[k]) for k in evals), final
  assert any(evals[0] in r and r['step'] == 2 for r in records)  # Periodic eval.
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']
  writes_images = _writes_images(config)
  if writes_images is not None:
    assert bool(glob.glob(os.path.join(workdir, 'images', 'samples_4.png'))) == writes_images
  if name == 'realnvp_2d':
    assert glob.glob(os.path.join(workdir, 'images', 'density_4.png'))
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['entry'] == config.entry
  with open(os.path.join(workdir, 'final_metrics.json')) as f:
    saved = json.load(f)
  assert all(saved[k] == pytest.approx(final[k]) for k in evals)


def test_m1_plus_m2_on_a_trained_m1(tmp_path):
  _run_smoke('vae_digits', str(tmp_path / 'm1'))
  config, final = _run_smoke('ssvae_mnist', str(tmp_path / 'm1m2'),
                             f'smoke,m1={tmp_path / "m1"}')
  assert config.model.m1_workdir
  assert 0 <= final['eval/test/error'] <= 1
  assert np.isfinite(final['eval/test/neg_bound_nats'])
  # Reopened from its workdir (with its data: M2 keeps a labelled subset),
  # on M1's features, to the test error it reported.
  dataset = data_lib.load(config.data)
  run = runs.load_run(str(tmp_path / 'm1m2'), dataset=dataset)
  assert run.dataset.name == 'm1_features'
  metrics = trainer.evaluate_variables(
      run.variables, run.dataset, run.config, sharding.make_mesh(),
      jax.jit(lambda p, m, b, r: run.objective.evaluate({'params': p, **m}, b, r)),
      trainer.rng_streams(run.config.seed)[2], 0)
  assert metrics['eval/test/error'] == pytest.approx(final['eval/test/error'])
  with pytest.raises(ConfigError, match='labelled training subset'):
    runs.load_run(str(tmp_path / 'm1m2'))
  proc, _ = _cli(['--config=configs/ssvae_mnist.py:smoke,m1=' + str(tmp_path / 'none'),
                  f'--workdir={tmp_path / "w"}'])
  _assert_one_line_error(proc, 'm1_workdir', 'config.json')


# Configs whose resume is the same code path as another config's: the same
# entry, model, estimator, optimizer and augmentation on other data (the
# trainer holds every dataset in memory alike). They are smoke-run but not
# resumed, which keeps the suite inside its time budget;
# test_resume_coverage checks that each pair shares the entry, model name,
# estimator, optimizer, EMA and augmentation.
RESUME_COVERED_BY = {
    'realnvp_mnist': 'realnvp_digits',
    'vae_mnist': 'vae_digits',
    'vae_iaf_mnist': 'vae_digits',
    'gated_pixelcnn_cifar': 'pixelcnn_digits',
    'vi_eight_schools': 'vi_linear_regression',
    'vi_vae_latent': 'vi_linear_regression',
    'explain_breast_cancer': 'explain_diabetes',
}


def _resume_signature(name):
  c = _config(name)
  m, d = c.get('model') or {}, c.get('data') or {}
  return (c.entry, m.get('name'), m.get('estimator'),
          c.get('train_config', ''), c.get('optim', {}).get('name'),
          c.get('optim', {}).get('ema_decay'), d.get('hflip'))


def test_resume_coverage():
  for name, other in RESUME_COVERED_BY.items():
    assert name in CONFIGS and other in CONFIGS
    assert _resume_signature(name) == _resume_signature(other), name


@pytest.mark.parametrize('name', CONFIGS)
def test_smoke_config_runs_and_resumes(name, tmp_path):
  full, resumed = str(tmp_path / 'full'), str(tmp_path / 'resumed')
  config, final = _run_smoke(name, full)
  _check_smoke_run(name, full, config, final)
  if config.entry in ('hmc.run', 'coding.run', 'ranking.run') or (
      config.entry == 'vi.run' and config.model.name == 'gmm'):
    return  # Nothing to resume: no training loop (CAVI/EM take milliseconds).
  if name in RESUME_COVERED_BY:
    return
  if config.entry == 'vi.run':
    return _check_lda_resumes(name, full, resumed)
  if config.entry == 'explain.run':
    return _check_explain_resumes(name, full, resumed)
  # A run stopped after step 2: its workdir holds only the step-2 checkpoint.
  shutil.copytree(full, resumed)
  shutil.rmtree(os.path.join(resumed, 'checkpoints', '4'))
  os.remove(os.path.join(resumed, 'metrics.jsonl'))
  _run_smoke(name, resumed)
  assert [r['step'] for r in _metrics(resumed) if 'train/loss' in r] == [3, 4]
  a, meta_a = checkpoint.Checkpointer(os.path.join(full, 'checkpoints')).restore(None, 4)
  b, meta_b = checkpoint.Checkpointer(os.path.join(resumed, 'checkpoints')).restore(None, 4)
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(leaves_a) == len(leaves_b) > 5
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(x, y)  # Bit-identical, optimizer included.
  if config.get('data') is not None:  # Data-free runs have no data position.
    assert meta_a['epoch'] == meta_b['epoch'] and meta_a['batch_index'] == meta_b['batch_index']


def _check_explain_resumes(name, full, resumed):
  # The model's training stopped after step 2: the rerun resumes it (steps
  # 3 and 4 only) and explains the same model to the same values.
  shutil.copytree(full, resumed)
  model = os.path.join(resumed, 'model')
  shutil.rmtree(os.path.join(model, 'checkpoints', '4'))
  os.remove(os.path.join(model, 'metrics.jsonl'))
  _run_smoke(name, resumed)
  assert [r['step'] for r in _metrics(model) if 'train/loss' in r] == [3, 4]
  a, b = (np.load(os.path.join(w, 'shap_values.npz'))['values']
          for w in (full, resumed))
  np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def _check_lda_resumes(name, full, resumed):
  # Stopped after pass 2 of 4: resumed, it ends where the full run ended.
  shutil.copytree(full, resumed)
  shutil.rmtree(os.path.join(resumed, 'checkpoints', '4'))
  _run_smoke(name, resumed)
  passes = [r['step'] for r in _metrics(resumed) if 'train/heldout_per_word' in r]
  assert passes == [1, 2, 3, 4]
  a, _ = checkpoint.Checkpointer(os.path.join(full, 'checkpoints')).restore(None, 4)
  b, _ = checkpoint.Checkpointer(os.path.join(resumed, 'checkpoints')).restore(None, 4)
  np.testing.assert_array_equal(a['lam'], b['lam'])


def test_unknown_config_key(tmp_path):
  proc, _ = _cli(['--config=configs/realnvp_digits.py:smoke',
                  f'--workdir={tmp_path}', '--config.optim.nope=1'])
  _assert_one_line_error(proc, '--config.optim.nope')


def test_missing_dataset_offline_fails_fast(tmp_path):
  # A dead proxy makes the download fail at once even on a networked machine.
  dead = 'http://127.0.0.1:9'
  proc, seconds = _cli(['--config=configs/realnvp_cifar.py:smoke',
                        f'--workdir={tmp_path / "w"}',
                        f'--config.data.data_dir={tmp_path / "tfds"}'],
                       {'HTTPS_PROXY': dead, 'HTTP_PROXY': dead,
                        'https_proxy': dead, 'http_proxy': dead})
  _assert_one_line_error(proc, 'cifar10', 'data_dir', 'npz_path')
  assert seconds < 60


def test_batch_not_divisible_by_devices(tmp_path):
  proc, _ = _cli(['--config=configs/realnvp_digits.py:smoke',
                  f'--workdir={tmp_path}', '--config.batch_size=12'],
                 _eight_devices())
  _assert_one_line_error(proc, 'batch_size=12', '8 devices')


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  workdir = tmp_path / 'nan'
  # A learning rate of 1e30 sends the coupling scales to ~1e28 (warm-up
  # makes the first updates small, not zero): finite parameters at which
  # the loss is not. Such a state is never saved as good.
  proc, _ = _cli(['--config=configs/realnvp_2d.py:smoke', f'--workdir={workdir}',
                  '--config.optim.learning_rate=1e30',
                  '--config.ckpt_every_steps=1'])
  line = _assert_one_line_error(proc, 'non-finite')
  bad = int(re.search(r'at step (\d+)', line).group(1))
  assert 2 < bad <= 4, line
  # Step `bad` evaluates the parameters after bad - 1 updates: bad - 2 is
  # the last good state.
  assert f'checkpoint (step {bad - 2})' in line
  kept = sorted(int(s) for s in os.listdir(workdir / 'checkpoints'))
  assert kept == list(range(1, bad - 1)), line
  state, _ = checkpoint.Checkpointer(str(workdir / 'checkpoints')).restore(None)
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state)
             if np.issubdtype(np.asarray(x).dtype, np.floating))
  # Resuming from it with a sane learning rate finishes.
  proc, _ = _cli(['--config=configs/realnvp_2d.py:smoke', f'--workdir={workdir}',
                  '--config.optim.learning_rate=1e-3'])
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert f'resumed from step {bad - 2}' in proc.stderr


def test_corrupt_latest_checkpoint_falls_back_and_resumes_exactly(tmp_path):
  full, damaged = str(tmp_path / 'full'), str(tmp_path / 'damaged')
  launch.run(_config('realnvp_2d'), full)
  shutil.copytree(full, damaged)
  # The array data orbax reads (state/ocdbt.process_0/ holds copies it does
  # not read once the save is finalised).
  target = max(glob.glob(os.path.join(damaged, 'checkpoints', '4', 'state', 'd',
                                      '*')), key=os.path.getsize)
  data = bytearray(open(target, 'rb').read())
  for i in range(0, len(data), 97):  # Some bytes of a file may go unread.
    data[i] ^= 0x01
  with open(target, 'wb') as f:
    f.write(bytes(data))
  proc, _ = _cli(['--config=configs/realnvp_2d.py:smoke', f'--workdir={damaged}'])
  assert proc.returncode == 0, proc.stderr[-3000:]
  # One line names the damaged checkpoint; none of orbax's read tracebacks.
  assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
  assert 'never retrieved' not in proc.stderr, proc.stderr[-3000:]
  named = [l for l in proc.stderr.splitlines()
           if os.path.join('checkpoints', '4') in l and 'moved' not in l]
  assert len(named) == 1, proc.stderr[-3000:]
  assert 'resuming from the newest intact checkpoint, step 2' in proc.stderr
  assert os.listdir(os.path.join(damaged, 'corrupt_checkpoints')) == ['4']
  a, _ = checkpoint.Checkpointer(os.path.join(full, 'checkpoints')).restore(None, 4)
  b, _ = checkpoint.Checkpointer(os.path.join(damaged, 'checkpoints')).restore(None, 4)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(x, y)
  train = [r['step'] for r in _metrics(damaged) if 'train/loss' in r]
  assert train == [1, 2, 3, 4]


@pytest.mark.parametrize('args, fragments', [
    (['--config=configs/nope.py'], ['config file not found: configs/nope.py']),
    (['--config=configs/realnvp_digits.py:foo=bar'],
     ["unknown config argument 'foo'", 'realnvp_digits.py:foo=bar']),
    (['--config=configs/realnvp_digits.py:smoke=maybe'],
     ["smoke='maybe' is not a boolean"]),
    (['--config=configs/vae_mnist.py:k=many'], ["k='many' is not an int"]),
])
def test_bad_config_argument_is_one_line(args, fragments, tmp_path, capsys):
  workdir = tmp_path / 'w'
  code = launch.main(['launch.py', *args, f'--workdir={workdir}'])
  err = capsys.readouterr().err
  assert code != 0 and 'Traceback' not in err, err
  lines = err.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: '), err
  for fragment in fragments:
    assert fragment in lines[0]
  assert not os.path.exists(workdir)


def test_bad_workdir_is_one_line(tmp_path, capsys):
  (tmp_path / 'file').write_text('')
  for workdir, fragment in ((tmp_path / 'file', 'is a file, not a directory'),
                            (tmp_path / 'file' / 'sub', 'is a file')):
    code = launch.main(['launch.py', '--config=configs/realnvp_digits.py:smoke',
                        f'--workdir={workdir}'])
    err = capsys.readouterr().err
    assert code != 0 and err.count('error:') == 1 and fragment in err, err
    assert 'Traceback' not in err


def test_read_only_workdir_is_one_line(tmp_path):
  # Root writes anywhere on a writable file system; run the launcher as an
  # unprivileged user then.
  base = tempfile.mkdtemp()
  try:
    os.chmod(base, 0o755)
    locked = os.path.join(base, 'locked')
    os.mkdir(locked, 0o555)
    prefix = []
    if os.geteuid() == 0:
      if not shutil.which('setpriv'):
        pytest.skip('running as root without setpriv')
      prefix = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
      if subprocess.run([*prefix, 'test', '-r', os.path.join(ROOT, 'launch.py')]
                        ).returncode:  # e.g. a checkout inside a 0700 mktemp dir
        pytest.skip('the checkout is not readable by an unprivileged user')
    for workdir, fragment in ((locked, 'is not writable'),
                              (os.path.join(locked, 'new'), 'cannot be created')):
      proc = subprocess.run(
          [*prefix, sys.executable, 'launch.py',
           '--config=configs/realnvp_digits.py:smoke', f'--workdir={workdir}'],
          cwd=ROOT, capture_output=True, text=True, timeout=120,
          env=dict(os.environ, PYTHONDONTWRITEBYTECODE='1'))
      _assert_one_line_error(proc, fragment)
    assert os.listdir(locked) == []
  finally:
    os.chmod(os.path.join(base, 'locked'), 0o755)
    shutil.rmtree(base)


def test_npz_path_for_a_dataset_that_reads_no_files(tmp_path):
  proc, _ = _cli(['--config=configs/realnvp_digits.py:smoke',
                  f'--workdir={tmp_path / "w"}',
                  f'--config.data.npz_path={tmp_path / "x.npz"}'])
  _assert_one_line_error(proc, "data.npz_path is set but data.name='digits'")
  assert not os.path.exists(tmp_path / 'w')


def test_eight_devices_match_one_device(tmp_path):
  # The 2-D flow with batch norm on the flow path: batch statistics are
  # all-reduced over the 8 devices' shards (and it compiles in seconds).
  one, eight = str(tmp_path / 'one'), str(tmp_path / 'eight')
  config = _config('realnvp_2d')
  config.model.flow_batch_norm = True
  launch.run(config, one)
  proc, _ = _cli(['--config=configs/realnvp_2d.py:smoke', f'--workdir={eight}',
                  '--config.model.flow_batch_norm=True'],
                 _eight_devices())
  assert proc.returncode == 0, proc.stderr[-3000:]
  loss_1 = [r['train/loss'] for r in _metrics(one) if 'train/loss' in r]
  loss_8 = [r['train/loss'] for r in _metrics(eight) if 'train/loss' in r]
  assert len(loss_1) == len(loss_8) == 4
  np.testing.assert_allclose(loss_8, loss_1, rtol=1e-5)
  final_1 = json.load(open(os.path.join(one, 'final_metrics.json')))
  final_8 = json.load(open(os.path.join(eight, 'final_metrics.json')))
  assert final_8['eval/test/nll_nats'] == pytest.approx(
      final_1['eval/test/nll_nats'], rel=1e-4)


def test_sweep_and_dry_run(tmp_path, capsys):
  # absl flags are process-global: this is the suite's only in-process main().
  code = launch.main(['launch.py', '--config=configs/realnvp_digits.py:smoke',
                      f'--workdir={tmp_path / "dry"}', '--sweep_dry_run',
                      '--config.total_steps=2'])
  assert code == 0
  commands = capsys.readouterr().out.strip().splitlines()
  assert len(commands) == 3
  # They run as printed: this interpreter, this launcher.
  assert all(shlex.split(c)[:2] == [sys.executable, 'launch.py'] for c in commands)
  assert all('--config.total_steps=2' in c and '--config.optim.learning_rate=' in c
             for c in commands)
  proc, _ = _cli(['--config=configs/realnvp_2d.py:smoke',
                  f'--workdir={tmp_path / "sweep"}', '--sweep',
                  '--config.total_steps=2', '--config.sample_every_steps=0'])
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(tmp_path / 'sweep' / 'sweep.csv') as f:
    rows = f.read().strip().splitlines()
  assert len(rows) == 6 and 'eval/test/nll_nats' in rows[0]
  assert os.path.exists(tmp_path / 'sweep' / 'name=spirals' / 'final_metrics.json')


def test_sweep_passes_space_separated_overrides_on():
  # absl takes '--config.key value' as well as '--config.key=value'.
  argv = ['launch.py', '--config=c.py', '--config.total_steps', '3',
          '--config.seed=2', '--workdir', 'w', '--config.optim.learning_rate',
          '-1e-3', '--noconfig.float64']
  assert launch._config_overrides(argv) == [   # pylint: disable=protected-access
      '--config.total_steps=3', '--config.seed=2',
      '--config.optim.learning_rate=-1e-3', '--noconfig.float64']


def test_too_many_scales_and_a_non_vae_m1_are_one_line(tmp_path):
  config = _config('realnvp_digits')
  config.model.num_scales = 5
  with pytest.raises(ConfigError, match='squeezed 4 times.*num_scales=5'):
    launch.run(config, str(tmp_path / 'r'), 'cmd')
  flow = tmp_path / 'flow'
  flow.mkdir()
  (flow / 'config.json').write_text(
      _config('realnvp_digits').to_json_best_effort(indent=1))
  from vae import train as vae_train  # pylint: disable=g-import-not-at-top
  with pytest.raises(ConfigError, match='holds a flows.train / realnvp run, not an M1'):
    vae_train.m1_features(str(flow), None)
