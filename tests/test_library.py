"""The packages as a library: the README's "Use as a library" examples run
as written (on briefly trained runs), and `load_run` brings a trained run
back from its workdir alone to the numbers the run reported."""
import json
import os
import re

import jax
import numpy as np
import pytest

import launch
import vae
from common import data as data_lib
from common import runs
from common import sharding
from common import trainer
from configs import realnvp_digits
from configs import vae_digits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _realnvp_smoke():
  # One scale: the examples need any trained Real NVP on digits, and its
  # compile is most of this module's time (the config's two-scale smoke
  # runs in tests/test_launch.py).
  c = realnvp_digits.get_config('smoke')
  c.model.num_scales = 1
  return c


@pytest.fixture(scope='module')
def base(tmp_path_factory):
  return tmp_path_factory.mktemp('library')


# One fixture per run: the tests of this module may land on different
# workers, and each trains only what it reads.
@pytest.fixture(scope='module')
def realnvp_run(base):
  """runs/digits as the README makes it (smoke size)."""
  launch.run(_realnvp_smoke(), str(base / 'runs' / 'digits'))
  return base / 'runs' / 'digits'


@pytest.fixture(scope='module')
def vae_run(base):
  """runs/vae_digits as the README makes it (smoke size)."""
  launch.run(vae_digits.get_config('smoke,likelihood=logistic_mixture'),
             str(base / 'runs' / 'vae_digits'))
  return base / 'runs' / 'vae_digits'


def _examples():
  with open(os.path.join(ROOT, 'README.md')) as f:
    text = f.read()
  section = text[text.index('## Use as a library'):]
  section = section[:section.index('\n## ', 1)]
  return re.findall(r'```python\n(.*?)```', section, re.S)


def test_readme_library_examples_run(realnvp_run, vae_run, base, monkeypatch,
                                     capsys):
  examples = _examples()
  assert len(examples) == 3
  monkeypatch.chdir(base)
  for code in examples:
    exec(compile(code, 'README.md', 'exec'), {})  # pylint: disable=exec-used
  out = capsys.readouterr().out
  match = re.search(r'bits/dim (-?[0-9.]+)', out)
  assert match, out[:2000]
  bpd = float(match.group(1))
  with open(realnvp_run / 'final_metrics.json') as f:
    final = json.load(f)['eval/test/bpd']
  assert abs(bpd - final) < 0.5  # 16 images against the whole test split.
  assert '(4, 500, 3)' in out and 'r_hat' in out and 'bytes for 1280 pixels' in out


def test_load_run_reproduces_the_final_evaluation(realnvp_run):
  workdir = str(realnvp_run)
  config = _realnvp_smoke()
  run = runs.load_run(workdir)
  assert run.dataset.spec_only and run.dataset.x_train.shape == (1500, 8, 8, 1)
  assert run.config.model.to_dict() == config.model.to_dict()
  # The same evaluation as the run's final one, on the real test split.
  dataset = data_lib.load(config.data)
  eval_fn = jax.jit(lambda p, m, b, r: run.objective.evaluate(
      {'params': p, **m}, b, r))
  metrics = trainer.evaluate_variables(
      run.variables, dataset, run.config, sharding.make_mesh(), eval_fn,
      trainer.rng_streams(config.seed)[2], 0)
  with open(os.path.join(workdir, 'final_metrics.json')) as f:
    final = json.load(f)
  assert metrics['eval/test/bpd'] == pytest.approx(final['eval/test/bpd'], rel=1e-6)
  # The public log-likelihood takes integer images in range, nothing else.
  with pytest.raises(ValueError, match='integer images'):
    run.objective.log_prob(run.variables, dataset.x_test[:2] / 1.0,
                           jax.random.key(0))
  with pytest.raises(ValueError, match=r'pixel values must be in \[0, 17\)'):
    run.objective.log_prob(run.variables, dataset.x_test[:2] + 20,
                           jax.random.key(0))


def test_vae_encode_decode(vae_run):
  run = runs.load_run(str(vae_run))
  images = data_lib.load(run.config.data).x_test[:5]
  mean, log_scale = run.objective.encode(run.variables, images)
  latents = run.config.model.latents[0]
  assert mean.shape == log_scale.shape == (5, latents)
  # The posterior the training bound uses.
  terms = run.objective.model.apply(
      run.variables, run.objective.likelihood.encoder_input(images),
      method=run.objective.model.encode)
  # (Close, not equal: `encode` is jitted, this apply is not, and XLA may
  # round the two differently.)
  np.testing.assert_allclose(mean, terms[0], rtol=1e-5, atol=1e-6)
  x = run.objective.decode(run.variables, mean, jax.random.key(0))
  assert x.shape == images.shape and 0 <= x.min() and x.max() < 17
  # A Bernoulli VAE on grey levels encodes the grey levels in [0, 1] (the
  # expectation of the binarized images it trained on), as M1 does for M2.
  config = vae_digits.get_config('smoke')
  objective = vae.build(config, data_lib.spec(config.data))
  variables = objective.init(jax.random.key(0), {'x': images})
  mean, _ = objective.encode(variables, images)
  expected = objective.model.apply(variables, images.astype(np.float32) / 16,
                                   method=objective.model.encode)[0]
  np.testing.assert_allclose(mean, expected, rtol=1e-5, atol=1e-6)
