"""Every config honours the contract in docs/ARCHITECTURE.md."""
import glob
import importlib
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(os.path.basename(p)[:-3]
                 for p in glob.glob(os.path.join(ROOT, 'configs', '*.py'))
                 if not p.endswith(('__init__.py', 'common.py')))


def _walk(config, prefix=''):
  for key, value in config.items():
    if hasattr(value, 'items'):
      yield from _walk(value, f'{prefix}{key}.')
    else:
      yield f'{prefix}{key}', value


def test_there_are_configs():
  assert 'realnvp_digits' in CONFIGS and len(CONFIGS) >= 4


@pytest.mark.parametrize('name', CONFIGS)
def test_config_contract(name):
  module = importlib.import_module(f'configs.{name}')
  doc = module.__doc__ or ''
  for field in ('Command:', 'Hardware:', 'Wall time:', 'Result:', 'Smoke:'):
    assert field in doc, f'{name} docstring lacks {field!r}'
  assert 'MEASURED' not in doc, f'{name} docstring has an unfilled placeholder'
  for arg in (None, 'smoke'):
    config = module.get_config(arg)
    for key, value in _walk(config):
      assert value is not None, f'{name}:{arg} has None at {key}'
    assert config.entry and config.seed is not None
  smoke = module.get_config('smoke')
  if smoke.entry == 'hmc.run':
    assert smoke.num_warmup + smoke.num_draws <= 200
  elif smoke.entry == 'coding.run':
    assert 0 < smoke.max_images <= 32 and ':smoke' in smoke.vae_config
  elif smoke.entry == 'explain.run':
    e = smoke.explain
    assert e.num_explain <= 5 and e.num_background <= 8
    assert smoke.model_workdir or ':smoke' in smoke.train_config or (
        smoke.total_steps <= 10)  # It trains a smoke model first.
  elif smoke.entry == 'ranking.run':
    assert smoke.posterior.num_draws <= 100 and smoke.posterior.num_warmup <= 100
  elif smoke.entry == 'vi.run':
    m = smoke.model
    assert (m.max_iter <= 50 and m.svi.num_steps <= 100 if m.name == 'gmm'
            else m.passes <= 5 and smoke.corpus.path == 'synthetic')
  else:
    assert smoke.total_steps <= 10 and smoke.total_epochs == 0
  with pytest.raises(ValueError, match='unknown config argument'):
    module.get_config('no_such_argument=1')
  if hasattr(module, 'get_sweep'):
    points = module.get_sweep(None)
    assert points and all(isinstance(p, dict) for p in points)


def test_hmc_smoke_keeps_the_chains_warmup_and_draws_asked_for():
  from configs import hmc_funnel  # pylint: disable=g-import-not-at-top
  smoke = hmc_funnel.get_config('smoke')
  asked = hmc_funnel.get_config('kernel=hmc,chains=16,draws=30,smoke')
  assert (asked.num_chains, asked.num_draws) == (16, 30)
  assert asked.num_warmup == smoke.num_warmup and smoke.num_chains == 2
