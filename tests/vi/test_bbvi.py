"""Black-box VI against closed forms: ELBO gradients of a Gaussian target
whose ELBO is analytic (unbiasedness z-tests for every estimator option),
Rao-Blackwellisation and control variates lowering the variance, the
mean-field and full-rank optima of a Gaussian posterior (Bishop PRML
10.1.2), and bad input."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from common.errors import ConfigError
import targets
from vi import bbvi

# A correlated 3-D Gaussian target N(mu, Lambda^-1).
MU = np.array([1.0, -0.5, 2.0])
PREC = np.array([[2.0, 0.6, 0.0], [0.6, 1.5, -0.4], [0.0, -0.4, 1.0]])


def logdensity(z):
  d = z - jnp.asarray(MU, z.dtype)
  return -0.5 * d @ jnp.asarray(PREC, z.dtype) @ d


def log_blanket(z):
  """Coordinate i: the factors of log p that contain z_i (the pairwise
  terms appear in both of their coordinates' blankets)."""
  d = z - jnp.asarray(MU, z.dtype)
  prec = jnp.asarray(PREC, z.dtype)
  off = prec - jnp.diag(jnp.diag(prec))
  return -0.5 * jnp.diag(prec) * d**2 - d * (off @ d)


def analytic_elbo(params):
  """E_q[log p] + H[q] for q = N(m, L L^T): -(d^T P d + tr(P S)) / 2 + H."""
  m, cov = params['mean'], bbvi.covariance(params)
  d = m - MU
  return -0.5 * (d @ PREC @ d + jnp.trace(PREC @ cov)) + bbvi.entropy(params)


def _params(family):
  p = bbvi.init_params(jnp.array([0.3, 0.1, 1.2]), family, 0.7)
  if family == 'fullrank':
    p['chol'] = p['chol'] + jnp.array([[0.0, 0, 0], [0.3, 0.1, 0], [-0.2, 0.4, -0.1]])
  else:
    p['log_scale'] = p['log_scale'] + jnp.array([0.0, 0.2, -0.3])
  return p


def _draws(params, n, density=logdensity, **options):
  grad = jax.grad(lambda p, k: bbvi.elbo_surrogate(k, p, density, **options))
  keys = jax.random.split(jax.random.key(0), n)
  g = jax.jit(jax.vmap(grad, (None, 0)))(params, keys)
  return np.concatenate([np.asarray(x).reshape(n, -1) for x in jax.tree.leaves(g)], 1)


CASES = [
    ('meanfield', dict(estimator='reparam')),
    ('meanfield', dict(estimator='reparam', stl=True)),
    ('fullrank', dict(estimator='reparam', num_samples=2)),
    ('fullrank', dict(estimator='reparam', stl=True)),
    ('meanfield', dict(estimator='score', num_samples=4, rao_blackwell=False,
                       control_variate=False)),
    ('meanfield', dict(estimator='score', num_samples=4, rao_blackwell=True,
                       control_variate=False)),
    ('meanfield', dict(estimator='score', num_samples=4, rao_blackwell=True,
                       control_variate=True)),
    ('meanfield', dict(estimator='score', num_samples=3, rao_blackwell=True,
                       control_variate=True, log_blanket=log_blanket)),
]


@pytest.mark.parametrize('family,options', CASES)
def test_elbo_gradients_are_unbiased(family, options):
  params = _params(family)
  exact = np.concatenate([np.ravel(x) for x in jax.tree.leaves(
      jax.grad(analytic_elbo)(params))])
  g = _draws(params, 20_000, **options)
  se = g.std(0) / math.sqrt(len(g)) + 1e-12
  z = (g.mean(0) - exact) / se
  # Coordinates with zero variance (fixed off-diagonal zeros) are exact.
  assert np.all(np.abs(z) < 5.0), (z, g.mean(0), exact)
  # Sanity: the estimate is informative, not zero.
  assert np.linalg.norm(g.mean(0)) > 0.1


def test_surrogate_value_is_the_elbo_estimate():
  params = _params('meanfield')
  key = jax.random.key(3)
  z = bbvi.sample(key, params, 7)
  expected = np.mean(jax.vmap(logdensity)(z) - bbvi.log_q(params, z))
  for options in (dict(estimator='score'), dict(estimator='reparam', stl=True)):
    value = jax.jit(lambda p: bbvi.elbo_surrogate(key, p, logdensity, num_samples=7,
                                                  **options))(params)
    np.testing.assert_allclose(value, expected, rtol=1e-5)
  # The closed-form entropy version has the same mean.
  vals = jax.jit(jax.vmap(lambda k: bbvi.elbo_surrogate(k, params, logdensity,
                                                        num_samples=50)))(
      jax.random.split(key, 200))
  se = np.std(vals) / math.sqrt(len(vals))
  assert abs(np.mean(vals) - analytic_elbo(params)) < 5 * se


def test_log_q_and_entropy_match_scipy():
  from scipy import stats  # pylint: disable=g-import-not-at-top
  params = _params('fullrank')
  cov = np.asarray(bbvi.covariance(params), np.float64)
  z = np.asarray(bbvi.sample(jax.random.key(1), params, 5))
  ref = stats.multivariate_normal(np.asarray(params['mean']), cov)
  np.testing.assert_allclose(bbvi.log_q(params, z), ref.logpdf(z), rtol=1e-5)
  np.testing.assert_allclose(bbvi.entropy(params), ref.entropy(), rtol=1e-5)
  mf = _params('meanfield')
  ref = stats.norm(np.asarray(mf['mean']), np.exp(np.asarray(mf['log_scale'])))
  np.testing.assert_allclose(bbvi.log_q(mf, z), ref.logpdf(z).sum(-1), rtol=1e-5)
  np.testing.assert_allclose(bbvi.entropy(mf), ref.entropy().sum(), rtol=1e-5)


def test_rao_blackwellisation_and_control_variates_lower_the_variance():
  params = _params('meanfield')

  def var(density=logdensity, **opts):
    return _draws(params, 4000, estimator='score', num_samples=4,
                  density=density, **opts).var(0).sum()
  plain = var(rao_blackwell=False, control_variate=False)
  rb = var(rao_blackwell=True, control_variate=False)
  assert rb < plain
  # With the Markov blankets the other coordinates' factors drop out too.
  assert var(control_variate=False, log_blanket=log_blanket) < 0.8 * rb
  # A target known up to a constant (as every real one is): without the
  # control variate the constant multiplies the score's noise; the
  # per-factor scale removes it.
  shifted = lambda z: logdensity(z) - 100.0
  no_cv = var(shifted, control_variate=False)
  with_cv = var(shifted, control_variate=True)
  assert with_cv < 0.01 * no_cv
  assert with_cv < 2 * rb


@pytest.mark.parametrize('family', ['meanfield', 'fullrank'])
def test_fit_reaches_the_gaussian_optimum(family):
  """Full rank: the exact posterior. Mean field: the exact mean and
  variances 1 / Lambda_ii (Bishop PRML 10.1.2)."""
  opt = optax.adam(optax.exponential_decay(5e-2, 1500, 0.05))
  res = bbvi.fit(jax.random.key(0), logdensity, np.zeros(3, np.float32),
                 family=family, num_steps=3000, num_samples=16, optimizer=opt,
                 stl=True)
  std = (np.sqrt(np.diag(np.linalg.inv(PREC))) if family == 'fullrank'
         else 1.0 / np.sqrt(np.diag(PREC)))
  np.testing.assert_allclose(res.mean, MU, atol=0.02)
  np.testing.assert_allclose(res.std, std, rtol=0.03)
  assert res.elbo_trace[-100:].mean() > res.elbo_trace[:100].mean()


def test_score_function_bbvi_with_adagrad_reaches_the_optimum():
  """Ranganath et al.'s algorithm (RB, CV, AdaGrad) on the Gaussian target
  known up to a constant: the mean-field optimum (T-C3)."""
  res = bbvi.fit(jax.random.key(1), lambda z: logdensity(z) - 100.0,
                 np.zeros(3, np.float32), estimator='score', num_steps=3000,
                 num_samples=16, optimizer=optax.adagrad(0.1))
  np.testing.assert_allclose(res.mean, MU, atol=0.05)
  np.testing.assert_allclose(res.std, 1.0 / np.sqrt(np.diag(PREC)), rtol=0.08)


def test_linear_regression_posterior_is_the_closed_form():
  t = targets.linear_regression()
  mean, cov = targets.linear_regression_posterior()
  # The log density is the Gaussian's up to a constant: its gradient
  # vanishes at the mean and its Hessian is minus the precision.
  g = jax.jit(jax.grad(t.logdensity))(jnp.asarray(mean, jnp.float32))
  assert np.abs(g).max() < 1e-2
  h = jax.jit(jax.hessian(t.logdensity))(jnp.zeros(t.dim))
  np.testing.assert_allclose(-h, np.linalg.inv(cov), rtol=1e-4, atol=1e-3)


def test_bad_settings_and_nan_start_are_one_line_errors():
  with pytest.raises(ConfigError, match='log density is nan'):
    bbvi.fit(jax.random.key(0), lambda z: jnp.log(z[0]) * jnp.nan, np.ones(2))
  with pytest.raises(ConfigError, match='mean-field'):
    bbvi.check_settings('fullrank', 'score', 4)
  with pytest.raises(ConfigError, match='stl'):
    bbvi.check_settings('meanfield', 'score', 4, stl=True)
  with pytest.raises(ConfigError, match='num_samples'):
    bbvi.check_settings('meanfield', 'score', 1)
  with pytest.raises(ConfigError, match='unknown VI family'):
    bbvi.init_params(np.zeros(2), 'lowrank')
  with pytest.raises(ConfigError, match='flat vector'):
    bbvi.init_params(np.zeros((2, 2)))
