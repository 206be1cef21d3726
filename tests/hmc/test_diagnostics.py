"""hmc.diagnostics against ArviZ (the oracle) on the same draws, and the
variance z-score of hmc.run.summarise."""
import logging
import types
import warnings

import numpy as np
import pytest
from scipy import signal

from hmc import diagnostics
from hmc import run
import targets

arviz = pytest.importorskip('arviz')
from arviz.stats import diagnostics as arviz_diag  # pylint: disable=g-import-not-at-top,g-bad-import-order
# ArviZ switches to numba kernels when numba is installed (the bench extras
# pull it in with shap); those fail on the degenerate inputs below, so the
# reference is always ArviZ's numpy code, what CI's environment runs.
arviz.Numba.disable_numba()

RTOL = 1e-6


def _ar1(phi, chains, n, seed):
  """Stationary AR(1) chains with unit marginal variance."""
  rng = np.random.default_rng(seed)
  e = rng.normal(size=(chains, n))
  e[:, 1:] *= np.sqrt(1.0 - phi**2)
  return signal.lfilter([1.0], [1.0, -phi], e, axis=1)


def _draws(kind, chains, n, seed=0):
  if kind == 'iid':
    return np.random.default_rng(seed).normal(size=(chains, n))
  if kind == 'cauchy':
    return np.random.default_rng(seed).standard_cauchy((chains, n))
  return _ar1(float(kind[3:-1]), chains, n, seed)


CASES = [('ar(0.95)', 4, 1000), ('ar(0.95)', 1, 1001), ('ar(0.95)', 7, 101),
         ('ar(-0.6)', 4, 1000), ('ar(-0.6)', 2, 1001), ('ar(-0.6)', 7, 101),
         ('ar(-0.6)', 1, 1000), ('ar(-0.9)', 4, 1000), ('ar(-0.3)', 4, 100),
         ('ar(-0.3)', 1, 1000), ('iid', 2, 1001),
         ('iid', 4, 101), ('cauchy', 4, 1000), ('cauchy', 7, 1001)]
_IDS = [f'{k}-{m}x{n}' for k, m, n in CASES]


@pytest.fixture(autouse=True)
def _quiet_arviz():
  # ArviZ logs a warning for single chains and warns on constant chains.
  logging.getLogger('arviz').setLevel(logging.ERROR)
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', RuntimeWarning)
    yield


@pytest.mark.parametrize('kind,chains,n', CASES, ids=_IDS)
def test_ess_matches_arviz(kind, chains, n):
  x = _draws(kind, chains, n)
  assert diagnostics.ess(x) == pytest.approx(
      arviz.ess(x, method='mean'), rel=RTOL)
  assert diagnostics.ess(x, split=False) == pytest.approx(
      arviz.ess(x, method='identity'), rel=RTOL)
  assert diagnostics.ess_bulk(x) == pytest.approx(
      arviz.ess(x, method='bulk'), rel=RTOL)
  assert diagnostics.ess_tail(x) == pytest.approx(
      arviz.ess(x, method='tail'), rel=RTOL)


@pytest.mark.parametrize('kind,chains,n', CASES, ids=_IDS)
def test_rhat_matches_arviz(kind, chains, n):
  x = _draws(kind, chains, n)
  if chains > 1:
    assert diagnostics.rhat(x) == pytest.approx(
        arviz.rhat(x, method='rank'), rel=RTOL)
    assert diagnostics.split_rhat(x) == pytest.approx(
        arviz.rhat(x, method='split'), rel=RTOL)
  else:
    # ArviZ declines one chain (NaN); we keep Stan's R-hat of its two
    # halves, which is ArviZ's own computation past that guard.
    assert np.isnan(arviz.rhat(x, method='rank'))
    halves = arviz_diag._split_chains(x)  # pylint: disable=protected-access
    bulk = arviz_diag._rhat(arviz_diag._z_scale(halves))  # pylint: disable=protected-access
    tail = arviz_diag._rhat(arviz_diag._z_scale(  # pylint: disable=protected-access
        np.abs(halves - np.median(halves))))
    assert diagnostics.rhat(x) == pytest.approx(max(bulk, tail), rel=RTOL)
    assert diagnostics.split_rhat(x) == pytest.approx(
        arviz_diag._rhat(halves), rel=RTOL)  # pylint: disable=protected-access


def test_rhat_splits_once():
  # Splitting again inside (quarter chains) read 1.0966 here, ArviZ 1.0587.
  x = _ar1(0.95, 4, 1000, 0)
  assert diagnostics.rhat(x) == pytest.approx(arviz.rhat(x), rel=RTOL)
  assert diagnostics.rhat(x) < 1.07


def test_bulk_ess_counts_the_last_even_autocorrelation():
  # Mildly antithetic chains: without Geyer's final even-lag term the bulk
  # ESS read 1040.8 here, 13% above ArviZ's 917.3. (Strongly antithetic
  # chains hit the cap tau >= 1 / log10(N) either way.)
  x = _ar1(-0.3, 4, 100, 0)
  assert diagnostics.ess_bulk(x) == pytest.approx(
      arviz.ess(x, method='bulk'), rel=RTOL)
  assert diagnostics.ess_bulk(x) < 950


def test_tail_ess_takes_arviz_quantile_on_tied_draws():
  # Rounded draws: numpy's type-7 quantile lands exactly on a tied value
  # where ArviZ's (scipy's mquantiles) lands an ulp below it, which changes
  # the 95% indicator: np.quantile read 104.3 here, ArviZ 25.7.
  x = np.round(_ar1(0.5, 1, 101, 12) * 3.0) * 0.1
  assert diagnostics.ess_tail(x) == pytest.approx(
      arviz.ess(x, method='tail'), rel=RTOL)
  assert diagnostics.ess_tail(x) < 30


def test_degenerate_inputs_match_arviz():
  const = np.full((4, 100), 2.5)
  stuck = np.repeat(np.arange(4.0)[:, None], 100, 1)  # Constant chains apart.
  short = _ar1(0.5, 4, 3, 0)
  with_nan = _ar1(0.5, 4, 100, 0)
  with_nan[1, 7] = np.nan
  for x in (const, stuck, short, with_nan):
    for ours, method in ((diagnostics.ess, 'mean'),
                         (diagnostics.ess_bulk, 'bulk'),
                         (diagnostics.ess_tail, 'tail')):
      np.testing.assert_allclose(ours(x), arviz.ess(x, method=method),
                                 rtol=RTOL)
    np.testing.assert_allclose(diagnostics.rhat(x), arviz.rhat(x), rtol=RTOL)
    np.testing.assert_allclose(diagnostics.split_rhat(x),
                               arviz.rhat(x, method='split'), rtol=RTOL)
  assert diagnostics.ess(const) == const.size
  assert diagnostics.rhat(stuck) > 1e6 and np.isnan(diagnostics.rhat(const))


def test_summary_rows_use_the_arviz_matched_diagnostics():
  # (arviz.summary itself folds about the median of the unsplit draws, so
  # its r_hat differs from arviz.rhat by ~1e-5 at odd draw counts.)
  x = np.stack([_draws('ar(0.95)', 4, 1001, 1), _draws('ar(-0.6)', 4, 1001, 2),
                _draws('cauchy', 4, 1001, 3)], -1)
  rows = diagnostics.summary(x, ['a', 'b', 'c'])
  for i, row in enumerate(rows):
    xi = x[..., i]
    assert row['ess_bulk'] == pytest.approx(arviz.ess(xi, method='bulk'),
                                            rel=RTOL)
    assert row['ess_tail'] == pytest.approx(arviz.ess(xi, method='tail'),
                                            rel=RTOL)
    assert row['rhat'] == pytest.approx(arviz.rhat(xi, method='rank'),
                                        rel=RTOL)


def _fake_result(draws):
  chains, n = draws.shape[:2]
  info = types.SimpleNamespace(num_grad_evals=np.full((chains, n), 7),
                               acceptance_prob=np.full((chains, n), 0.8),
                               is_divergent=np.zeros((chains, n), bool))
  return types.SimpleNamespace(
      draws=draws, info=info, warmup_info=info, compile_s=1.0, run_s=2.0,
      step_size=np.full(chains, 0.5))


def test_variance_z_uses_the_ess_of_squared_deviations():
  # Antithetic draws: ESS(x) ~ 4N but ESS((x - mean)^2) ~ N / 2.
  x = _ar1(-0.6, 4, 1000, 5)[..., None]
  final = run.summarise(_fake_result(x), diagnostics.summary(x),
                        targets.std_gaussian(1))
  s = (x[..., 0] - x.mean())**2
  mcse_var = np.sqrt(s.var() / arviz.ess(s, method='mean'))
  assert final['max_abs_z_var'] == pytest.approx(
      abs(x.var() - 1.0) / mcse_var, rel=RTOL)
  # That standard error is ArviZ's of the sd before its delta method.
  assert mcse_var**2 / (4.0 * s.mean()) == pytest.approx(
      arviz.mcse(x[..., 0], method='sd')**2, rel=RTOL)


def test_variance_z_of_a_correct_sampler_stays_small():
  # 200 coordinates, each an exact antithetic sampler of N(0, 1): the max of
  # 200 |N(0, 1)| is ~2.8. With the ESS of x (~4N) in place of that of
  # (x - mean)^2 (~N / 2) the z-scores had sd ~3 and the max was ~9.
  d = 200
  x = np.moveaxis(_ar1(-0.6, 4 * d, 500, 6).reshape(d, 4, 500), 0, -1)
  rows = [{'ess_bulk': diagnostics.ess_bulk(x[..., i]), 'ess_tail': 1.0,
           'rhat': 1.0} for i in range(d)]
  final = run.summarise(_fake_result(x), rows, targets.std_gaussian(d))
  assert 1.8 < final['max_abs_z_var'] < 4.5
  assert final['max_abs_z_mean'] < 4.5
