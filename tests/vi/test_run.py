"""The VI config entries on their error paths and the branches the smoke
configs do not run: EM and SVI through vi/run.py, a schedule that would
step past lambda_hat, and a target that is NaN at the initial point."""
import json
import os

import numpy as np
import pytest

from common.errors import ConfigError
from configs import vi_gmm
from configs import vi_linear_regression
from configs import vi_lda
import launch
import targets
from vi import svi


@pytest.mark.parametrize('algorithm', ['em', 'svi'])
def test_gmm_em_and_svi_runs(algorithm, tmp_path):
  config = vi_gmm.get_config(f'smoke,algorithm={algorithm}')
  final = launch.run(config, str(tmp_path))
  key = 'final/mean_log_likelihood' if algorithm == 'em' else 'final/elbo'
  assert np.isfinite(final[key]) and final['iterations'] > 1
  assert config.model.reg_covar == (1e-6 if algorithm == 'em' else 0.0)
  with open(tmp_path / 'summary.json') as f:
    weights = [c['weight'] for c in json.load(f)['components']]
  assert len(weights) == 3 and abs(sum(weights) - 1) < 1e-6


@pytest.mark.parametrize('tau', [0.0, 0.5, float('nan')])
def test_a_delay_below_one_is_refused(tau, tmp_path):
  with pytest.raises(ConfigError, match='tau'):
    svi.check_schedule(0.7, tau)
  config = vi_lda.get_config('smoke')
  config.model.tau = tau
  with pytest.raises(ConfigError, match='tau'):
    launch.run(config, str(tmp_path / 'lda'))
  assert not os.path.exists(tmp_path / 'lda' / 'config.json')  # Not recorded.
  svi.check_schedule(0.7, 1.0)


def test_nan_at_the_initial_point_is_one_line(tmp_path, monkeypatch):
  nan_target = targets.Target('nan_at_zero', lambda x: np.nan * x[0] ** 2 +
                              0.0 * x[1], np.zeros(2))
  monkeypatch.setattr(targets, 'get', lambda name, dim=0: nan_target)
  config = vi_linear_regression.get_config('smoke')
  with pytest.raises(ConfigError, match='log density is nan at the initial'):
    launch.run(config, str(tmp_path))
