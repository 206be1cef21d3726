"""nutpie's adaptation from draws and gradients (its schedule, its estimate
against the Gaussian closed form, the sampler it tunes against known
moments), its dense metric against the Gaussian closed form, and jittered
step sizes."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hmc import adaptation
from hmc import diagnostics
from hmc import nutpie
from hmc import sampling
import targets


def test_nutpie_schedule_switches_every_10_then_every_80():
  adapt, switch, restart = nutpie.nutpie_schedule(1000)
  # The metric adapts for the first 85%; the last 15% tunes the step only,
  # and dual averaging restarts where that window starts.
  assert adapt[:850].all() and not adapt[850:].any()
  assert np.flatnonzero(restart).tolist() == [849]
  ends = np.flatnonzero(switch) + 1  # Draws seen when each switch happens.
  # The starting point fills the first window, then 10 draws a window
  # through the early 30%, then 80 while 80 more fit before draw 850.
  assert ends[:3].tolist() == [9, 19, 29] and ends[29] == 299
  assert np.all(np.diff(ends[30:]) == 80) and ends[-1] == 699
  # Too short to switch: the estimate keeps every draw from the start.
  adapt, switch, restart = nutpie.nutpie_schedule(9)
  assert not switch.any() and adapt[:8].all() and restart[7]


@pytest.mark.parametrize('dim', [1, 5, 40])
def test_draw_grad_estimate_is_the_gaussian_variance(dim):
  # For N(0, diag(s^2)) the gradient is -x / s^2, so Var(x) / Var(g) = s^4
  # on any sample and the estimate is s^2 exactly (to float32 rounding).
  rng = np.random.default_rng(dim)
  scale = np.exp(rng.uniform(-3, 2, dim))
  x = rng.normal(size=(50, dim)) * scale
  w = adaptation.welford_init(2 * dim, False)
  for row in np.concatenate([x, -x / scale**2], 1):
    w = adaptation.welford_update(w, jnp.asarray(row, jnp.float32))
  est = nutpie.draw_grad_inverse_mass(w, jnp.ones(dim))
  np.testing.assert_allclose(est, scale**2, rtol=1e-4)


def test_draw_grad_estimate_keeps_the_previous_metric_where_undefined():
  previous = jnp.array([2.0, 3.0])
  w = adaptation.welford_init(4, False)
  for row in ([1.0, 5.0, -1.0, 0.5], [2.0, 5.0, -2.0, 0.5]):
    w = adaptation.welford_update(w, jnp.array(row))
  # Two entries are too few.
  np.testing.assert_array_equal(
      nutpie.draw_grad_inverse_mass(w, previous), previous)
  w = adaptation.welford_update(w, jnp.array([3.0, 5.0, -3.0, 0.5]))
  # Coordinate 0 is estimated (Var x / Var g = 1); coordinate 1 never moved
  # and its gradient is constant, 0 / 0, so it keeps its previous value.
  np.testing.assert_allclose(nutpie.draw_grad_inverse_mass(w, previous),
                             [1.0, 3.0])
  g = jnp.array([0.0, -4.0, jnp.inf])
  np.testing.assert_allclose(nutpie.gradient_inverse_mass(g),
                             [1.0, 0.25, 1.0])


def test_nutpie_learns_three_decades_of_scales_in_a_short_warmup():
  target = targets.get('scaled_gaussian', 100)  # Scales 1e-2 .. 1e1.
  res = sampling.run_chains(jax.random.key(0), target,
                            target.initial(jax.random.key(1), 2), 'nuts',
                            num_warmup=300, num_draws=600,
                            adaptation='nutpie')
  # Exact on a diagonal Gaussian (the previous test), whatever the draws.
  np.testing.assert_allclose(res.inverse_mass, np.broadcast_to(
      target.var, res.inverse_mass.shape), rtol=1e-3)
  assert abs(float(np.mean(res.info.acceptance_prob)) - 0.8) < 0.08
  assert not np.any(res.info.is_divergent)
  # Moments within Monte Carlo error on every coordinate.
  ess = np.array([diagnostics.ess(res.draws[..., i]) for i in range(100)])
  assert ess.min() > 300
  z_mean, z_var = diagnostics.moment_z(res.draws, target.mean, target.var)
  # 100 coordinates: |z| < 4.5 fails by chance with probability ~7e-4.
  assert np.abs(z_mean).max() < 4.5 and np.abs(z_var).max() < 4.5


@pytest.mark.parametrize('kwargs, match', [
    ({'adaptation': 'pathfinder'}, 'unknown adaptation'),
    ({'dense_mass': 'auto'}, "use it with adaptation='nutpie'"),
    ({'dense_mass': 'yes'}, "dense_mass must be True, False, None or 'auto'"),
    ({'step_size_jitter': 1.0}, r'step_size_jitter must be in \[0, 1\)'),
])
def test_bad_adaptation_arguments_are_one_line(kwargs, match):
  target = targets.std_gaussian(3)
  with pytest.raises(ValueError, match=match):
    sampling.run_chains(jax.random.key(0), target,
                        target.initial(jax.random.key(1), 2), **kwargs)


def test_step_size_jitter_breaks_a_periodic_trajectory():
  # On N(0, 1) a leapfrog step h turns (q, p) by theta with
  # cos(theta) = 1 - h^2 / 2; with h = 2 sin(pi / 16), 16 steps are one full
  # turn and static HMC never leaves its starting point. Jittered step sizes
  # make the trajectory length random and the chain mixes, correctly.
  target = targets.std_gaussian(1)
  x0 = target.initial(jax.random.key(0), 4)
  h = 2 * math.sin(math.pi / 16)
  run = lambda jitter: sampling.run_chains(
      jax.random.key(1), target, x0, 'hmc', num_warmup=0, num_draws=2000,
      num_steps=16, step_size=h, inverse_mass=np.ones(1),
      step_size_jitter=jitter)
  stuck = run(0.0).draws
  np.testing.assert_allclose(stuck, np.broadcast_to(
      np.asarray(x0)[:, None], stuck.shape), atol=1e-3)
  x = run(0.5).draws[..., 0]
  ess = diagnostics.ess(x)
  assert ess > 1000
  assert abs(x.mean()) < 4 * math.sqrt(1 / ess)
  sq = (x - x.mean())**2
  assert abs(x.var() - 1) < 4 * math.sqrt(2 / diagnostics.ess(sq))


@pytest.mark.parametrize('dim', [2, 6])
def test_dense_draw_grad_metric_is_the_gaussian_covariance(dim):
  # x ~ N(0, S), g = -S^{-1} x: on any full-rank sample the geometric mean
  # (Cov x) # (Cov g)^{-1} is S itself.
  rng = np.random.default_rng(dim)
  a = rng.normal(size=(dim, dim))
  cov = a @ a.T + 0.1 * np.eye(dim)
  cov *= np.outer(np.logspace(-1, 1, dim), np.logspace(-1, 1, dim))
  x = rng.multivariate_normal(np.zeros(dim), cov, size=4 * dim)
  g = -np.linalg.solve(cov, x.T).T
  est = nutpie.dense_draw_grad_inverse_mass(
      jnp.asarray(np.cov(x.T), jnp.float32), jnp.asarray(np.cov(g.T),
                                                         jnp.float32))
  np.testing.assert_allclose(est, cov, rtol=2e-3, atol=2e-3 * np.abs(cov).max())
  # 'auto' keeps it where the correlation matters ...
  chosen = nutpie.dense_draw_grad_inverse_mass(
      jnp.asarray(np.cov(x.T), jnp.float32),
      jnp.asarray(np.cov(g.T), jnp.float32), choose=True)
  np.testing.assert_allclose(chosen, est)
  # ... and takes the diagonal for independent coordinates, where they tie.
  s = np.logspace(-1, 1, dim)
  xi = rng.normal(size=(4 * dim, dim)) * s
  chosen = nutpie.dense_draw_grad_inverse_mass(
      jnp.asarray(np.cov(xi.T), jnp.float32),
      jnp.asarray(np.cov((-xi / s**2).T), jnp.float32), choose=True)
  np.testing.assert_allclose(chosen, np.diag(s**2), rtol=1e-3)


def test_auto_dense_metric_samples_a_correlated_gaussian():
  target = targets.get('correlated_gaussian')  # rho = 0.9.
  res = sampling.run_chains(jax.random.key(2), target,
                            target.initial(jax.random.key(3), 4), 'nuts',
                            num_warmup=300, num_draws=500,
                            adaptation='nutpie', dense_mass='auto')
  # Dense, and the covariance itself (a Gaussian: exact).
  np.testing.assert_allclose(res.inverse_mass,
                             np.broadcast_to([[1, 0.9], [0.9, 1]], (4, 2, 2)),
                             rtol=2e-3, atol=2e-3)
  x = res.draws.reshape(-1, 2)
  ess = min(diagnostics.ess(res.draws[..., i]) for i in range(2))
  assert ess > 1000  # A diagonal metric gives ~900 from 4 x 1000 draws.
  assert np.abs(x.mean(0)).max() < 4 * math.sqrt(1 / ess)
  assert abs(np.corrcoef(x.T)[0, 1] - 0.9) < 0.02
