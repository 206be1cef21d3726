"""Continuous estimators on the toy F(mu, sigma) = E[x^2 + c], x ~ N(mu,
sigma^2), true gradient (2 mu, 2 sigma) (Sobolev's "Stochastic Computation
Graphs: Continuous Case"): per-sample gradients against the closed forms,
means by a z-test, variances against the closed-form variances; G-REP's
correction is exactly zero for full standardisation; RSVI's Gamma gradient
against the exact one and jax.random.gamma's implicit gradient; LAX is
unbiased and its tuned control variate lowers the variance. float64."""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from estimators import base
from estimators import continuous as C

N_MEAN = 200_000      # Single-sample estimates per mean check.
N_VAR = 20 * N_MEAN   # Most per variance check (test_variances_match_...).

POINTS = [(1.0, 1.0, 1.0), (0.3, 0.1, 1.0), (0.1, 0.1, 0.0), (-0.5, 2.0, 3.0)]


@pytest.fixture(autouse=True)
def _float64():
  with jax.enable_x64(True):
    yield


def _toy_f(c):
  return lambda x: jnp.square(x[:, 0]) + c


def _mlp_control(cv_params, x):
  """A fixed random c_phi: a one-hidden-layer tanh network of x [B, 1]."""
  w1, b1, w2 = cv_params
  return jnp.tanh(x @ w1 + b1) @ w2 + 0.3 * jnp.square(x[:, 0])


_RNG = np.random.default_rng(42)
RANDOM_MLP = (_RNG.normal(size=(1, 8)), _RNG.normal(size=8),
              _RNG.normal(size=8))

# Every estimator of the toy, with the signature (key, params, f).
ESTIMATORS = {
    **C.GAUSSIAN_ESTIMATORS,
    'lax_random_mlp': lambda k, p, f: C.lax(k, p, f, _mlp_control, RANDOM_MLP),
}
# Equal, sample by sample, to one above (test_equivalences_...).
EQUIVALENT = {
    'grep_identity': lambda k, p, f: C.grep(k, p, f, 'identity'),
    'lax_control_is_f': lambda k, p, f: C.lax(k, p, f, lambda _, x: f(x), ()),
}


@functools.partial(jax.jit, static_argnums=(0,))
def _toy(name, mu, sigma, c, key):
  """N_MEAN single-sample estimates [N_MEAN, 2] of (d/dmu, d/dsigma) (the
  surrogate's gradient with the parameters tiled over N_MEAN independent
  examples), the surrogate and the value [N_MEAN]. One compilation per
  estimator, shared by every test."""
  params = (jnp.full((N_MEAN, 1), mu), jnp.full((N_MEAN, 1), sigma))

  def surrogate(p):
    e = {**ESTIMATORS, **EQUIVALENT}[name](key, p, _toy_f(c))
    return e.surrogate, (e.surrogate, e.value)

  g, (est, value) = jax.grad(surrogate, has_aux=True)(params)
  return jnp.concatenate(g, 1), est, value


def _toy_grads(name, mu, sigma, c, key):
  return np.asarray(_toy(name, mu, sigma, c, key)[0])


def _eps(key):
  """The standard normal every Gaussian estimator draws from `key`."""
  return np.asarray(jax.random.normal(key, (N_MEAN, 1), jnp.float64))[:, 0]


# The digest's per-sample gradients (d/dmu, d/dsigma) as functions of the
# standard normal eps, and their closed-form variances.
def _formula(name, mu, s, c, e):
  x = mu + s * e
  f = x * x + c
  if name == 'score_function':
    return (e / s) * f, ((e * e - 1) / s) * f
  if name == 'reparameterised':
    return 2 * x, 2 * e * x
  if name == 'grep_1':  # eps' = s e ~ N(0, s^2).
    return 2 * x, ((e * e - 1) / s) * f
  if name == 'grep_2':  # eps' = e + mu ~ N(mu, 1).
    return f * e - 2 * x * (s - 1), 2 * e * x
  raise KeyError(name)


def _closed_form_variance(name, mu, s, c):
  if name == 'score_function':
    return ((mu**2 + c)**2 / s**2 + 15 * s**2 + 14 * mu**2 + 6 * c,
            2 * (mu**2 + c)**2 / s**2 + 60 * mu**2 + 74 * s**2 + 20 * c)
  if name == 'reparameterised':
    return 4 * s**2, 4 * mu**2 + 8 * s**2
  if name == 'grep_2':
    return ((mu**2 + c)**2 + 2 * c * s**2 + 4 * c * s + 10 * mu**2 * s**2
            + 4 * mu**2 * s + 7 * s**4 + 4 * s**3 + 4 * s**2,
            4 * mu**2 + 8 * s**2)
  raise KeyError(name)


# ----------------------------------------------------------------------------
# T-F1 and the per-sample formulas.


@pytest.mark.parametrize('name', ['score_function', 'reparameterised',
                                  'grep_1', 'grep_2'])
def test_per_sample_gradients_match_the_formulas(name):
  key = jax.random.key(1)
  e = _eps(key)
  for mu, s, c in POINTS:
    g = _toy_grads(name, mu, s, c, key)
    np.testing.assert_allclose(g, np.stack(_formula(name, mu, s, c, e), 1),
                               rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize('name', sorted(ESTIMATORS))
def test_toy_gradient_is_unbiased(name):  # T-F1
  for i, (mu, s, c) in enumerate(POINTS):
    g = _toy_grads(name, mu, s, c, jax.random.key(10 + i))
    mean, se = g.mean(0), g.std(0) / math.sqrt(N_MEAN)
    exact = np.array([2 * mu, 2 * s])
    assert np.all(np.abs(mean - exact) < 5 * se), (mu, s, c, mean, exact, se)


def test_equivalences_on_the_same_draws():
  """Full standardisation is the reparameterisation; the identity transform
  is the score function; LAX with c_phi = f is the reparameterisation."""
  key = jax.random.key(3)
  for mu, s, c in POINTS:
    rep = _toy_grads('reparameterised', mu, s, c, key)
    for name in ('grep_standardise', 'lax_control_is_f'):
      np.testing.assert_allclose(_toy_grads(name, mu, s, c, key), rep,
                                 rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(_toy_grads('grep_identity', mu, s, c, key),
                               _toy_grads('score_function', mu, s, c, key),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('name', sorted(ESTIMATORS))
def test_surrogate_value_is_f_at_the_samples(name):
  key = jax.random.key(4)
  expected = np.square(0.3 + 1.5 * _eps(key)) + 2.0
  _, surrogate, value = _toy(name, 0.3, 1.5, 2.0, key)
  np.testing.assert_allclose(value, expected, rtol=1e-10)
  np.testing.assert_allclose(surrogate, expected.sum(), rtol=1e-10)


# ----------------------------------------------------------------------------
# T-F2: variances.


def _relative_se_of_variance(name, mu, s, c, n):
  """Exact standard error of the sample variance over the variance,
  sqrt((kurtosis - 1) / n), per coordinate; the kurtosis of the per-sample
  gradient (a polynomial in eps) by Gauss-Hermite quadrature, exact here."""
  e, w = np.polynomial.hermite_e.hermegauss(60)
  w = w / w.sum()
  out = []
  for g in _formula(name, mu, s, c, e):
    d = g - np.sum(w * g)
    kurtosis = np.sum(w * d**4) / np.sum(w * d**2)**2
    out.append(math.sqrt((kurtosis - 1) / n))
  return np.array(out)


@pytest.mark.parametrize('name', ['score_function', 'reparameterised',
                                  'grep_2'])
def test_variances_match_the_closed_forms(name):  # T-F2
  """Empirical variances within 5 standard errors of the closed forms, with
  enough samples that 5 SE is at most 3% (at most N_VAR = 4e6: the score
  function's d/dsigma has kurtosis ~250 at (1, 1, 1) and (0.1, 0.1, 0),
  so its tolerance there is 3.6% and 4.0%). The standard error of a
  sample variance is sqrt((kurtosis - 1) / n) times the variance, with the
  kurtosis computed exactly."""
  for i, (mu, s, c) in enumerate([(1.0, 1.0, 1.0), (0.3, 0.1, 1.0),
                                  (0.1, 0.1, 0.0)]):
    kurtosis_minus_1 = np.max(_relative_se_of_variance(name, mu, s, c, 1))**2
    calls = min(N_VAR, math.ceil(25 * kurtosis_minus_1 / 0.03**2)) / N_MEAN
    keys = jax.random.split(jax.random.key(20 + i), math.ceil(calls))
    g = np.concatenate([_toy_grads(name, mu, s, c, k) for k in keys])
    ratio = g.var(0) / np.array(_closed_form_variance(name, mu, s, c))
    tol = 5 * _relative_se_of_variance(name, mu, s, c, len(g))
    assert np.all(tol <= 0.04), tol
    assert np.all(np.abs(ratio - 1) < tol), (mu, s, c, ratio, tol)


# ----------------------------------------------------------------------------
# T-F5: G-REP's correction.


def test_full_standardisation_has_no_correction():  # T-F5
  k1, k2, key = jax.random.split(jax.random.key(5), 3)
  params = (jax.random.normal(k1, (50, 3)),
            jnp.exp(jax.random.normal(k2, (50, 3))))
  f = lambda x: jnp.sum(jnp.sin(x) + x**2, -1)
  # The general change-of-variables density (log p(eps) from T and T').
  general = C.Transform(*C.TRANSFORMS['standardise'][:2])
  transforms = {'standardise': 'standardise', 'general': general,
                'centre': 'centre', 'rescale': 'rescale'}
  g_corr = jax.jit(lambda p: {
      name: jax.grad(lambda p: C.grep_terms(key, p, f, t).corr)(p)
      for name, t in transforms.items()})(params)
  assert all(np.all(np.asarray(g) == 0.0) for g in g_corr['standardise'])
  # With the general density it is zero up to rounding ...
  assert all(np.max(np.abs(g)) < 1e-9 for g in g_corr['general'])
  # ... and not zero for the partial transforms.
  for name in ('centre', 'rescale'):
    assert max(float(jnp.max(jnp.abs(g))) for g in g_corr[name]) > 0.1


@pytest.mark.parametrize('name', ['standardise', 'centre', 'rescale',
                                  'identity'])
def test_closed_form_noise_densities_are_the_change_of_variables(name):
  """Each transform's log p(eps | theta) equals log N(T(eps)) + log|T'|:
  values (up to a theta-free constant: none here) and theta-gradients."""
  k1, k2, k3 = jax.random.split(jax.random.key(6), 3)
  params = (jax.random.normal(k1, (20, 2)),
            jnp.exp(jax.random.normal(k2, (20, 2))))
  t = C.TRANSFORMS[name]
  eps = t.inverse(C.gaussian_sample(k3, params), params)
  closed = lambda p: jnp.sum(t.log_prob(eps, p))
  general = lambda p: jnp.sum(C.change_of_variables_log_prob(t, eps, p))
  (v1, g1), (v2, g2) = jax.jit(lambda p: (jax.value_and_grad(closed)(p),
                                          jax.value_and_grad(general)(p)))(
                                              params)
  np.testing.assert_allclose(v1, v2, rtol=1e-12)
  for a, b in zip(g1, g2):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_unknown_transform_is_refused():
  with pytest.raises(ValueError, match='unknown transform'):
    C.grep(jax.random.key(0), (jnp.zeros((1, 1)), jnp.ones((1, 1))),
           _toy_f(0.0), 'whiten')


# ----------------------------------------------------------------------------
# T-F4: RSVI for the Gamma.


@functools.partial(jax.jit, static_argnums=(2,))
def _rsvi(alpha, key, boost, log):
  """[N_MEAN] RSVI estimates of d/dalpha E[f(x)], f = log if log else x,
  and f at the draws. One compilation per boost."""
  f = lambda x: jnp.where(log, jnp.log(x[:, 0]), x[:, 0])

  def surrogate(a):
    e = C.rsvi_gamma(key, a, f, boost=boost)
    return e.surrogate, e.value

  g, value = jax.grad(surrogate, has_aux=True)(jnp.full((N_MEAN, 1), alpha))
  return g[:, 0], value


@jax.jit
def _implicit_grads(alpha, x):
  """jax.random.gamma's implicit reparameterisation gradient at Gamma(alpha)
  draws x: dx/dalpha = random_gamma_grad(alpha, x) (what its JVP computes),
  and d log x / dalpha = (dx/dalpha) / x."""
  dx = jax.lax.random_gamma_grad(jnp.full_like(x, alpha), x)
  return dx, dx / x


@pytest.mark.parametrize('alpha,boost', [(1.5, 0), (3.0, 0), (10.0, 0),
                                         (1.5, 1), (3.0, 1), (10.0, 1),
                                         (0.3, 1), (0.7, 3)])
def test_rsvi_gamma_gradient(alpha, boost):  # T-F4
  """d/dalpha E[x] = 1 and d/dalpha E[log x] = trigamma(alpha) (5 SE); for
  alpha in {1.5, 3, 10} also the same mean as jax.random.gamma's implicit
  reparameterisation gradient on the same draws (5 SE of the paired
  difference)."""
  key = jax.random.key(7)
  trigamma = float(jax.scipy.special.polygamma(1, alpha))
  implicit = boost == 0 and alpha in (1.5, 3.0, 10.0)
  if implicit:
    implicit = _implicit_grads(alpha, _rsvi(alpha, key, boost, False)[1])
  for log, exact in ((False, 1.0), (True, trigamma)):
    g = np.asarray(_rsvi(alpha, key, boost, log)[0])
    m, se = g.mean(), g.std() / math.sqrt(N_MEAN)
    assert abs(m - exact) < 5 * se, (log, m, exact, se)
    if implicit:
      h = np.asarray(implicit[int(log)])
      se_diff = (g - h).std() / math.sqrt(N_MEAN)
      assert abs(m - h.mean()) < 5 * se_diff, (log, m, h.mean(), se_diff)


@pytest.mark.parametrize('alpha,boost', [(1.0, 0), (3.0, 0), (0.3, 1),
                                         (2.5, 3)])
def test_rsvi_samples_are_gamma(alpha, boost):
  """Kolmogorov-Smirnov against Gamma(alpha, 1) on N_MEAN draws."""
  x = np.asarray(_rsvi(alpha, jax.random.key(9), boost, False)[1])
  p = scipy.stats.kstest(x, scipy.stats.gamma(alpha).cdf).pvalue
  assert p > 1e-3, p


def test_marsaglia_tsang_log_derivative():
  """The closed-form log T'(eps) in log p(eps | alpha) is autodiff's."""
  eps = jnp.linspace(-2.0, 4.0, 13)
  alpha = jnp.full_like(eps, 2.7)
  x, dt, log_p = jax.jit(lambda e, a: (
      C.marsaglia_tsang_transform(e, a),
      jax.vmap(jax.grad(C.marsaglia_tsang_transform))(e, a),
      C.marsaglia_tsang_log_prob(e, a)))(eps, alpha)
  log_gamma = scipy.stats.gamma(2.7).logpdf(np.asarray(x))
  np.testing.assert_allclose(log_p, log_gamma + np.log(np.asarray(dt)),
                             rtol=1e-12)


def test_rsvi_needs_boost_below_one():
  f = lambda x: x[:, 0]
  with pytest.raises(ValueError, match='alpha >= 1'):
    C.rsvi_gamma(jax.random.key(0), jnp.array([[0.5, 2.0]]), f, boost=0)
  with pytest.raises(ValueError, match='boost'):
    C.rsvi_gamma(jax.random.key(0), jnp.array([[2.0]]), f, boost=-1)
  # Under jit alpha is unknown: the draws are NaN and the loop ends.
  assert np.all(np.isnan(_rsvi(0.5, jax.random.key(0), 0, False)[1]))


# ----------------------------------------------------------------------------
# LAX: tuning the control variate by its variance.


def _quadratic_control(phi, x):
  return jnp.sum(phi[0] * jnp.square(x) + phi[1] * x + phi[2], -1)


def test_lax_variance_tuning_lowers_the_variance():
  """A few SGD steps on estimate_and_cv_grads' cv gradient (E||g||^2 by
  second-order autodiff) lower the variance of LAX on the toy at
  (mu, sigma, c) = (1, 1, 1) from a random quadratic c_phi."""
  mu, s, c, b = 1.0, 1.0, 1.0, 256
  params = (jnp.full((b, 1), mu), jnp.full((b, 1), s))
  f = _toy_f(c)

  @jax.jit
  def step(phi, key):
    fn = lambda p, cv: C.lax(key, p, f, _quadratic_control, cv)
    g, g_phi, est = base.estimate_and_cv_grads(fn, params, phi, True)
    return phi - 1e-5 * g_phi, g, est

  @jax.jit
  def mean_square(phi):
    n = 100_000
    p = (jnp.full((n, 1), mu), jnp.full((n, 1), s))
    g = jax.grad(lambda p: C.lax(jax.random.key(99), p, f, _quadratic_control,
                                 phi).surrogate)(p)
    return jnp.mean(jnp.sum(jnp.square(jnp.concatenate(g, 1)), 1))

  phi = jnp.array([-0.5, 1.0, 2.0])
  before = float(mean_square(phi))
  for i in range(30):
    phi, g, est = step(phi, jax.random.key(100 + i))
  after = float(mean_square(phi))
  # The estimate is still the LAX one, with f's value.
  assert g[0].shape == (b, 1) and est.value.shape == (b,)
  assert after < 0.25 * before, (before, after, phi)
