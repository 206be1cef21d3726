"""Log-densities against oracles: normalisation, Monte Carlo, direct formulas."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import distributions as d


def test_analytic_kl_matches_monte_carlo():
  mean = jnp.array([[0.5, -1.0, 2.0]])
  log_scale = jnp.array([[-0.3, 0.4, -1.0]])
  n = 200_000
  z = d.diagonal_normal_sample(jax.random.key(0), jnp.repeat(mean, n, 0),
                               jnp.repeat(log_scale, n, 0))
  log_ratio = (d.diagonal_normal_log_prob(z, jnp.repeat(mean, n, 0),
                                          jnp.repeat(log_scale, n, 0))
               - d.standard_normal_log_prob(z))
  mc, se = float(jnp.mean(log_ratio)), float(jnp.std(log_ratio)) / math.sqrt(n)
  exact = float(d.normal_kl_to_standard(mean, log_scale)[0])
  assert abs(mc - exact) < 4 * se, (mc, exact, se)


def test_bernoulli_log_prob_matches_probabilities():
  logits = jnp.array([[-3.0, 0.0, 2.5, 15.0]])
  x = jnp.array([[0, 1, 1, 0]])
  p = 1 / (1 + np.exp(-np.asarray(logits, np.float64)))
  expected = np.sum(np.where(np.asarray(x) == 1, np.log(p), np.log1p(-p)))
  assert float(d.bernoulli_log_prob(x, logits)[0]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('levels', [2, 17, 256])
def test_discretized_logistic_mixture_sums_to_one(levels):
  k = 3
  rng = np.random.default_rng(levels)
  shape = (4, k)
  w = jnp.asarray(rng.normal(size=shape), jnp.float32)
  mu = jnp.asarray(rng.uniform(-1.2, 1.2, shape), jnp.float32)
  log_s = jnp.asarray(rng.uniform(-6, 0.5, shape), jnp.float32)  # Sharp and wide.
  x = jnp.arange(levels)
  # Every level of each of 4 independent sub-pixels, one at a time.
  log_p = jax.vmap(lambda v: jax.vmap(
      lambda wi, mi, si: d.discretized_logistic_mixture_log_prob(
          v[None, None], wi[None, None], mi[None, None], si[None, None], levels)[0]
  )(w, mu, log_s))(x)
  totals = np.exp(np.asarray(log_p, np.float64)).sum(0)
  np.testing.assert_allclose(totals, 1.0, atol=2e-4)


def test_discretized_logistic_matches_cdf_differences():
  levels, mu, log_s = 256, 0.1, -2.0
  x = np.array([0, 3, 128, 200, 255])
  sig = lambda t: 1 / (1 + np.exp(-t))
  c = x * 2 / 255 - 1
  upper = np.where(x == 255, 1.0, sig((c + 1 / 255 - mu) / np.exp(log_s)))
  lower = np.where(x == 0, 0.0, sig((c - 1 / 255 - mu) / np.exp(log_s)))
  expected = np.log(upper - lower)
  got = jax.vmap(lambda v: d.discretized_logistic_mixture_log_prob(
      v[None, None], jnp.zeros((1, 1, 1)), jnp.full((1, 1, 1), mu),
      jnp.full((1, 1, 1), log_s), levels)[0])(jnp.asarray(x))
  np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


def test_discretized_logistic_far_tail_uses_the_density_correctly():
  # A sharp logistic far from the bin: the bin mass (about e^-160) underflows
  # float32, so the density-times-width branch answers. Its sign must be right
  # (log density + log bin width, the far-tail branch of Salimans et al. 2017,
  # arXiv:1701.05517, whose sign is easy to get wrong).
  levels, mu, log_s, x = 256, 0.9, -5.0, 102
  c = x * 2 / 255 - 1
  s = np.exp(log_s)
  log_sig = lambda t: -np.logaddexp(0, -t)
  a, b = (c + 1 / 255 - mu) / s, (c - 1 / 255 - mu) / s
  exact = log_sig(a) + np.log1p(-np.exp(log_sig(b) - log_sig(a)))
  got = float(d.discretized_logistic_mixture_log_prob(
      jnp.array([[x]]), jnp.zeros((1, 1, 1)), jnp.full((1, 1, 1), mu),
      jnp.full((1, 1, 1), log_s), levels)[0])
  assert exact < -100
  assert got == pytest.approx(exact, rel=2e-3)


def test_mixture_samples_follow_the_pmf():
  levels = 8
  w = jnp.log(jnp.array([0.3, 0.7]))
  mu, log_s = jnp.array([-0.5, 0.4]), jnp.array([-1.0, -1.5])
  n = 100_000
  tile = lambda a: jnp.broadcast_to(a, (n, 2))
  s = d.discretized_logistic_mixture_sample(jax.random.key(3), tile(w), tile(mu),
                                            tile(log_s), levels)
  freq = np.bincount(np.asarray(s), minlength=levels) / n
  pmf = np.exp([float(d.discretized_logistic_mixture_log_prob(
      jnp.array([[v]]), w[None, None], mu[None, None], log_s[None, None],
      levels)[0]) for v in range(levels)])
  np.testing.assert_allclose(freq, pmf, atol=4 * np.sqrt(0.25 / n))


def test_categorical_entropy_and_log_prob():
  logits = jnp.log(jnp.array([[0.2, 0.3, 0.5]]))
  assert float(d.categorical_entropy(logits)[0]) == pytest.approx(
      -(0.2 * np.log(0.2) + 0.3 * np.log(0.3) + 0.5 * np.log(0.5)), rel=1e-5)
  assert float(d.categorical_log_prob(jnp.array([2]), logits)[0]) == pytest.approx(
      np.log(0.5), rel=1e-5)


def test_discretized_logistic_matches_numerical_integration_of_the_density():
  # Each bin's mass against a float64 integral of the logistic density over
  # the bin (edge bins out to +-infinity), for a wide and a sharp component,
  # including bins whose mass is far below float32's smallest number.
  levels, num_far = 256, 0
  for mu, log_s in [(0.3, -1.0), (-0.95, -4.5), (0.999, -6.0)]:
    s = np.exp(log_s)
    centres = np.arange(levels) * 2 / (levels - 1) - 1
    lo = np.where(np.arange(levels) == 0, -60 * s + min(mu, -1) - 1,
                  centres - 1 / 255)
    hi = np.where(np.arange(levels) == 255, 60 * s + max(mu, 1) + 1,
                  centres + 1 / 255)
    t = np.linspace(0, 1, 2001)[None, :]
    grid = lo[:, None] + (hi - lo)[:, None] * t
    z = (grid - mu) / s
    log_pdf = -z - np.log(s) - 2 * np.logaddexp(0, -z)
    # log of the trapezoid integral, done in log space for the far tails.
    w = np.full(t.shape[1], 1.0); w[[0, -1]] = 0.5
    log_mass = (np.log((hi - lo) / (t.shape[1] - 1))
                + np.logaddexp.reduce(log_pdf + np.log(w), axis=1))
    got = np.asarray(jax.vmap(lambda v: d.discretized_logistic_mixture_log_prob(
        v[None, None], jnp.zeros((1, 1, 1)), jnp.full((1, 1, 1), mu),
        jnp.full((1, 1, 1), log_s), levels)[0])(jnp.arange(levels)), np.float64)
    assert abs(np.exp(got).sum() - 1) < 1e-4
    big = log_mass > -15  # Bins float32 resolves as differences of CDFs.
    np.testing.assert_allclose(np.exp(got[big]), np.exp(log_mass[big]),
                               rtol=2e-3, atol=1e-7)
    # Bins whose mass underflows float32 (down to e^-800) stay exact in log
    # space: the differences of CDFs are taken in the near tail.
    far = log_mass < -30
    num_far += far.sum()
    np.testing.assert_allclose(got[far], log_mass[far], rtol=1e-4)
  assert num_far > 100
