"""ChEES-HMC: the Halton jitter, the ChEES gradient against autodiff of the
criterion along exact Hamiltonian flow, and the sampler against known
moments."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hmc import chees
from hmc import diagnostics
from hmc import kernel
from hmc import sampling
import targets


def test_halton_is_the_base_2_van_der_corput_sequence():
  got = [float(chees.halton(i)) for i in range(1, 9)]
  assert got == [0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875, 0.0625]


@pytest.mark.parametrize('seed', [0, 1])
def test_chees_gradient_is_the_derivative_of_the_criterion(seed):
  # On N(0, diag(s^2)) with M^{-1} = diag(s^2) the flow is exact:
  # x(t) = x0 cos t + s^2 p0 sin t, p(t) = p0 cos t - x0 sin t / s^2. The
  # estimator must be d/d(log T) of mean_i (|z_i(uT) - m|^2 - |z_i0 - m|^2)^2
  # / 4 in whitened z = x / s, the centre m held fixed (as in the paper).
  rng = np.random.default_rng(seed)
  chains, dim = 16, 3
  s = np.exp(rng.normal(size=dim))
  x0 = rng.normal(size=(chains, dim)) * s * 1.5
  p0 = rng.normal(size=(chains, dim)) / s
  u, log_t = 0.7, math.log(1.3)
  flow = lambda t: (x0 * jnp.cos(t) + s**2 * p0 * jnp.sin(t),
                    p0 * jnp.cos(t) - x0 * jnp.sin(t) / s**2)

  def criterion(log_t):
    x1, _ = flow(u * jnp.exp(log_t))
    centre = jax.lax.stop_gradient(jnp.mean(x1, 0))  # All accepted.
    z0, z1 = (x0 - centre) / s, (x1 - centre) / s
    return jnp.mean((jnp.sum(z1**2, -1) - jnp.sum(z0**2, -1))**2) / 4

  x1, p1 = flow(u * math.exp(log_t))
  got = chees.chees_gradient(jnp.asarray(x0), x1, p1, jnp.ones(chains),
                             jnp.ones(chains, bool), jnp.asarray(s**2),
                             u * math.exp(log_t))
  want = jax.grad(criterion)(log_t)
  np.testing.assert_allclose(got, want, rtol=1e-4)
  # A divergent chain and a zero-acceptance chain carry no weight.
  ok = jnp.ones(chains, bool).at[0].set(False)
  accept = jnp.ones(chains).at[1].set(0.0)
  bad = chees.chees_gradient(jnp.asarray(x0), x1.at[0].set(jnp.nan), p1,
                             accept, ok, jnp.asarray(s**2), u * math.exp(log_t))
  assert np.isfinite(bad)


def test_harmonic_mean_accept_ignores_divergences():
  a = jnp.array([0.5, 1.0, 0.0, 0.25])
  ok = jnp.array([True, True, False, True])
  np.testing.assert_allclose(chees.harmonic_mean_accept(a, ok),
                             3 / (2 + 1 + 4), rtol=1e-6)
  assert float(chees.harmonic_mean_accept(a, jnp.zeros(4, bool))) == 0.0


@pytest.mark.parametrize('metric', ['nutpie', 'stan'])
def test_chees_moments_on_a_scaled_gaussian(metric):
  target = targets.get('scaled_gaussian', 8)  # Scales 1e-2 .. 1e1.
  res = sampling.run_chains(jax.random.key(0), target,
                            target.initial(jax.random.key(1), 64), 'chees',
                            num_warmup=300, num_draws=100,
                            adaptation=metric)
  # One step size, trajectory length and metric for every chain.
  assert np.ptp(res.step_size) == 0 and np.ptp(res.trajectory_length) == 0
  if metric == 'nutpie':  # Pooled draws and gradients: exact here.
    np.testing.assert_allclose(res.inverse_mass[0], target.var, rtol=1e-3)
  else:  # Pooled draw variances over Stan's windows: within a factor of 2
    # (the widest coordinate is still spreading out in a 300-step warm-up).
    ratio = res.inverse_mass[0] / target.var
    assert np.all((ratio > 0.5) & (ratio < 2)), ratio
  # Whitened, every coordinate turns once in 2 pi; ChEES averaged over the
  # jitter peaks at T ~ 2.3 (shorter with coarse steps).
  assert 1.0 < float(res.trajectory_length[0]) < 4.0
  assert not np.any(res.info.is_divergent)
  ess = np.array([diagnostics.ess(res.draws[..., i]) for i in range(8)])
  assert ess.min() > 1000
  z_mean, z_var = diagnostics.moment_z(res.draws, target.mean, target.var)
  assert np.abs(z_mean).max() < 4 and np.abs(z_var).max() < 4, (z_mean, z_var)
  # Every chain took the same number of steps in each iteration.
  assert np.all(np.ptp(res.info.num_grad_evals, axis=0) == 0)


@pytest.mark.parametrize('kwargs, match', [
    ({'dense_mass': True}, 'diagonal metric shared'),
    ({'step_size_jitter': 0.2}, 'jitters its trajectory lengths itself'),
    ({'num_warmup': 0}, 'num_warmup must be >= 1'),
])
def test_bad_chees_arguments_are_one_line(kwargs, match):
  target = targets.std_gaussian(3)
  with pytest.raises(ValueError, match=match):
    sampling.run_chains(jax.random.key(0), target,
                        target.initial(jax.random.key(1), 4), 'chees',
                        **kwargs)
  with pytest.raises(ValueError, match='at least 2'):
    sampling.run_chains(jax.random.key(0), target,
                        target.initial(jax.random.key(1), 1), 'chees')


def test_a_jittered_transition_leaves_the_target_invariant():
  # Stationarity, the property detailed balance buys: 20,000 exact draws
  # of N(0, diag(s^2)) through one ChEES iteration (shared random number
  # of steps, a metric off by a factor 3) are still draws of the target.
  s = jnp.array([0.1, 1.0, 5.0])
  vg = jax.value_and_grad(lambda x: -0.5 * jnp.sum((x / s)**2))
  x = jax.random.normal(jax.random.key(0), (20_000, 3)) * s
  states = jax.vmap(lambda p: kernel.init(p, vg))(x)
  for steps in (1, 7):
    new, info, _ = chees._transition(jax.random.key(steps), states, vg, 0.3,
                                     3 * s**2, steps)
    assert 0.3 < float(jnp.mean(info.acceptance_prob)) < 0.99
    z = np.asarray(new.position / s)
    assert np.all(np.abs(z.mean(0)) < 4 / np.sqrt(20_000))
    assert np.all(np.abs(z.var(0) - 1) < 4 * np.sqrt(2 / 20_000))
    # The moved fraction is not small, so the check has teeth.
    assert np.mean(np.any(np.asarray(new.position) != np.asarray(x), -1)) > 0.3
