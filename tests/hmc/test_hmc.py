"""HMC against oracles: a harmonic oscillator, exact Gaussian moments,
the Metropolis-Hastings formula, adaptation targets, AR(1) chains with a
known ESS, NumPyro's diagnostics on the same draws, and NaN regions."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hmc import adaptation
from hmc import diagnostics
from hmc import integrators
from hmc import kernel
from hmc import sampling
import targets


def _oscillator_state(q0, p0, inv_mass):
  # U(q) = q^T q / 2 (unit stiffness): log pi = -q^2 / 2.
  vg = jax.value_and_grad(lambda q: -0.5 * jnp.sum(q**2))
  lp, g = vg(q0)
  return vg, integrators.IntegratorState(q0, p0, lp, g)


@pytest.mark.parametrize('inv_mass', [jnp.array([1.0, 0.25]),
                                      jnp.array([[1.0, 0.3], [0.3, 0.5]])])
def test_leapfrog_energy_error_is_second_order_and_reversible(inv_mass):
  q0, p0 = jnp.array([1.0, -0.5], jnp.float32), jnp.array([0.3, 0.8], jnp.float32)
  vg, state = _oscillator_state(q0, p0, inv_mass)
  metric = integrators.Metric(inv_mass)
  h = lambda s: -s.logdensity + metric.kinetic_energy(s.momentum)
  errors = []
  for eps in (0.2, 0.1, 0.05):
    # Same total time 2.0, so the global error of H is O(eps^2).
    end = integrators.leapfrog(vg, metric, state, eps, int(round(2.0 / eps)))
    errors.append(abs(float(h(end) - h(state))))
  assert 3.0 < errors[0] / errors[1] < 5.0 and 3.0 < errors[1] / errors[2] < 5.0
  # Forward, negate the momentum, forward again: back to the start.
  end = integrators.leapfrog(vg, metric, state, 0.1, 25)
  back = integrators.leapfrog(vg, metric, end._replace(momentum=-end.momentum),
                              0.1, 25)
  np.testing.assert_allclose(back.position, q0, atol=1e-5)
  np.testing.assert_allclose(-back.momentum, p0, atol=1e-5)


def test_one_leapfrog_step_matches_the_textbook_update():
  vg, state = _oscillator_state(jnp.array([1.0]), jnp.array([0.5]), None)
  metric = integrators.Metric(jnp.array([2.0]))
  out = integrators.leapfrog(vg, metric, state, 0.1, 1)
  p_half = 0.5 - 0.05 * 1.0           # p - eps/2 dU/dq
  q1 = 1.0 + 0.1 * 2.0 * p_half       # q + eps M^{-1} p
  p1 = p_half - 0.05 * q1             # a half step at the end, not a full one
  np.testing.assert_allclose([out.position[0], out.momentum[0]], [q1, p1],
                             rtol=1e-6)


def test_mh_acceptance_formula():
  assert float(kernel.mh_accept_prob(3.0, 2.0)) == 1.0
  assert float(kernel.mh_accept_prob(2.0, 3.5)) == pytest.approx(math.exp(-1.5))
  assert float(kernel.mh_accept_prob(2.0, jnp.nan)) == 0.0
  # HMC reports exactly min(1, exp(H0 - H1)) for its own trajectory.
  target = targets.correlated_gaussian()
  vg = jax.value_and_grad(target.logdensity)
  state = kernel.init(jnp.array([0.5, -0.2]), vg)
  inv_mass = jnp.array([1.0, 2.0])
  _, info = kernel.hmc_step(jax.random.key(3), state, vg, 0.3, inv_mass, 7)
  metric = integrators.Metric(inv_mass)
  p0 = metric.sample_momentum(jax.random.split(jax.random.key(3))[0], state.position)
  end = integrators.leapfrog(vg, metric, integrators.IntegratorState(
      state.position, p0, state.logdensity, state.logdensity_grad), 0.3, 7)
  h0 = -state.logdensity + metric.kinetic_energy(p0)
  h1 = -end.logdensity + metric.kinetic_energy(end.momentum)
  assert float(info.acceptance_prob) == pytest.approx(min(1.0, math.exp(h0 - h1)),
                                                      rel=1e-5)


def test_dense_momentum_has_covariance_m():
  inv_mass = jnp.array([[1.0, 0.6], [0.6, 2.0]])
  p = jax.vmap(lambda k: integrators.Metric(inv_mass).sample_momentum(
      k, jnp.zeros(2)))(jax.random.split(jax.random.key(0), 100_000))
  np.testing.assert_allclose(np.cov(np.asarray(p).T), np.linalg.inv(inv_mass),
                             atol=0.03)


@pytest.mark.parametrize('name', ['hmc', 'nuts'])
def test_moments_on_a_correlated_gaussian(name):
  target = targets.correlated_gaussian()
  res = sampling.run_chains(jax.random.key(0), target.logdensity,
                            target.initial(jax.random.key(1), 4), name,
                            num_warmup=300, num_draws=1000, num_steps=8)
  draws = res.draws
  for i in range(2):
    x = draws[..., i]
    ess = diagnostics.ess(x)
    assert ess > 300
    z_mean = x.mean() / math.sqrt(1.0 / ess)
    # Var of the sample variance of a unit Gaussian ~ 2 / ESS.
    z_var = (x.var() - 1.0) / math.sqrt(2.0 / ess)
    assert abs(z_mean) < 4 and abs(z_var) < 4, (z_mean, z_var)
  corr = np.corrcoef(draws.reshape(-1, 2).T)[0, 1]
  assert abs(corr - 0.9) < 0.03
  assert diagnostics.rhat(draws[..., 0]) < 1.02
  assert not np.any(res.info.is_divergent)


def test_adaptation_reaches_the_target_acceptance():
  # The draws use the dual-averaging *average* of the log step size, which
  # sits a little below the iterates: on a 100-d Gaussian it gives 0.84-0.87
  # for a target of 0.8 (six seeds), on the safe side, as Stan's does. (In
  # 2-D the curve bends and it gives ~0.9.)
  target = targets.std_gaussian(100)
  res = sampling.run_chains(jax.random.key(2), target.logdensity,
                            target.initial(jax.random.key(3), 4), 'nuts',
                            num_warmup=1000, num_draws=300, target_accept=0.8)
  assert 0.8 <= float(np.mean(res.info.acceptance_prob)) < 0.9
  # During warm-up dual averaging held the iterates at the target.
  assert abs(float(np.mean(res.warmup_info.acceptance_prob[:, -50:])) - 0.8) < 0.05
  # The mass matrix learned the unit variances.
  assert abs(float(np.mean(res.inverse_mass)) - 1.0) < 0.15


def test_window_schedule_is_stans():
  slow, ends = adaptation.window_schedule(1000)
  assert not slow[:75].any() and not slow[-50:].any() and slow[75:950].all()
  assert list(np.flatnonzero(ends) + 1) == [100, 150, 250, 450, 950]
  slow, ends = adaptation.window_schedule(100)  # 15% / 75% / 10%.
  assert np.flatnonzero(slow)[[0, -1]].tolist() == [15, 89] and ends[89]


def _ar1(phi, chains, n, seed):
  rng = np.random.default_rng(seed)
  x = np.zeros((chains, n))
  e = rng.normal(size=(chains, n)) * math.sqrt(1 - phi**2)
  x[:, 0] = rng.normal(size=chains)
  for t in range(1, n):
    x[:, t] = phi * x[:, t - 1] + e[:, t]
  return x


def test_ess_and_rhat_against_ar1_and_numpyro():
  from numpyro import diagnostics as numpyro_diag  # pylint: disable=g-import-not-at-top
  for phi in (0.0, 0.5, 0.9):
    x = _ar1(phi, 4, 20_000, seed=int(phi * 10))
    exact = x.size * (1 - phi) / (1 + phi)
    assert diagnostics.ess(x) == pytest.approx(exact, rel=0.1)
    assert diagnostics.ess_bulk(x) == pytest.approx(exact, rel=0.1)
    # NumPyro neither splits chains nor adds Geyer's last even-lag term
    # (ArviZ's exact agreement is in test_diagnostics.py): close, not equal.
    assert diagnostics.ess(x, split=False) == pytest.approx(
        float(numpyro_diag.effective_sample_size(x)), rel=1e-3)
    assert diagnostics.split_rhat(x) == pytest.approx(
        float(numpyro_diag.split_gelman_rubin(x)), rel=1e-9)
    assert diagnostics.rhat(x) < 1.01
  # Chains stuck in different places: R-hat sees it.
  stuck = _ar1(0.5, 4, 1000, 1) + np.arange(4)[:, None]
  assert diagnostics.rhat(stuck) > 1.5


def test_vmap_and_jit_agree_with_a_single_chain():
  target = targets.banana()
  vg = jax.value_and_grad(target.logdensity)
  x0 = target.initial(jax.random.key(0), 3)
  keys = jax.random.split(jax.random.key(1), 3)
  step = lambda k, x: kernel.nuts_step(k, kernel.init(x, vg), vg, 0.3,
                                       jnp.ones(2), 6)
  batched = jax.jit(jax.vmap(step))(keys, x0)
  for i in range(3):
    single = step(keys[i], x0[i])
    np.testing.assert_allclose(batched[0].position[i], single[0].position,
                               rtol=1e-5, atol=1e-6)
    assert int(batched[1].num_grad_evals[i]) == int(single[1].num_grad_evals)


@pytest.mark.parametrize('name', ['hmc', 'nuts', 'rwmh'])
def test_nan_region_gives_counted_divergences_not_a_crash(name):
  # log pi is NaN for x0 > 1.5: proposals there must be rejected and counted.
  def logdensity(x):
    return jnp.where(x[0] > 1.5, jnp.nan, -0.5 * jnp.sum(x**2))
  res = sampling.run_chains(jax.random.key(0), logdensity,
                            jnp.zeros((2, 2)), name, num_warmup=100,
                            num_draws=300, num_steps=10)
  assert np.all(np.isfinite(res.draws))
  assert np.all(res.draws[..., 0] <= 1.5)
  assert int(np.sum(res.info.is_divergent)) > 0


def test_float64_chains_sharded_over_eight_devices_match_one_device(tmp_path):
  import os, subprocess, sys  # pylint: disable=g-import-not-at-top,multiple-imports
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  draws = []
  for devices in (1, 8):
    env = dict(os.environ, XLA_FLAGS=os.environ.get('XLA_FLAGS', '')
               + f' --xla_force_host_platform_device_count={devices}')
    workdir = tmp_path / f'd{devices}'
    proc = subprocess.run(
        [sys.executable, 'launch.py',
         '--config=configs/hmc_correlated_gaussian.py:smoke,float64',
         '--config.num_chains=8', f'--workdir={workdir}'], cwd=root, env=env, capture_output=True,
        text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with np.load(workdir / 'draws.npz') as f:
      draws.append(f['draws'])
  assert draws[0].dtype == np.float64 and draws[0].shape[0] == 8
  # Chains are independent: splitting them over devices changes nothing but
  # the order of float64 reductions (a different per-device batch), which
  # 120 iterations of chaotic dynamics amplify from 1e-16 to about 1e-8.
  np.testing.assert_allclose(draws[0], draws[1], rtol=1e-6, atol=1e-6)


def test_a_compiled_sampler_is_reused_for_new_keys_and_starts():
  target = targets.std_gaussian(3)
  run = lambda seed, x0, **kw: sampling.run_chains(
      jax.random.key(seed), target, x0, 'nuts', 50, 30, **kw)
  x0 = target.initial(jax.random.key(0), 2)
  first = run(1, x0)
  assert first.compile_s > 0
  again = run(1, x0)  # Same key and start: no compile, the same draws.
  assert again.compile_s == 0
  np.testing.assert_array_equal(again.draws, first.draws)
  other = run(2, x0 + 0.5)  # New key and start: no compile, new draws.
  assert other.compile_s == 0 and not np.allclose(other.draws, first.draws)
  # Another shape or setting compiles its own sampler.
  assert run(1, target.initial(jax.random.key(0), 3)).compile_s > 0
  assert run(1, x0, max_depth=5).compile_s > 0
  with jax.enable_x64(True):  # Another global setting: its own sampler.
    assert run(1, x0).compile_s > 0
  # A new density of the same shape is not mistaken for the cached one.
  shifted = targets.diagonal_gaussian(np.full(3, 5.0), 1.0)
  assert sampling.run_chains(jax.random.key(1), shifted, x0, 'nuts', 50,
                             30).compile_s > 0
