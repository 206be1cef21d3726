"""hmc.run_chains as a library: pytree positions, named draws, a user's
step size and mass matrix with and without warm-up, and one clear
ValueError for positions without a chain axis."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hmc
import targets

MEAN = {'mu': 3.0, 'theta': np.linspace(-2.0, 2.0, 8)}


@pytest.fixture(scope='module')
def gaussian():
  return targets.diagonal_gaussian(
      MEAN, {'mu': 0.5, 'theta': np.geomspace(0.5, 2.0, 8)})


@pytest.fixture(scope='module')
def stiff():
  return targets.diagonal_gaussian(  # Condition number 1e4.
      MEAN, {'mu': 0.1, 'theta': np.geomspace(0.3, 10.0, 8)})


def _assert_moments(draws, target):
  """Means and variances within 4.5 Monte Carlo standard errors: the mean's
  from the ESS of x, the variance's from that of the squared deviations
  (HMC can be antithetic: ESS(x) above the draws, ESS(x^2) below)."""
  z_means, z_vars = hmc.moment_z(draws, target.mean, target.var)
  for i, (z_mean, z_var) in enumerate(zip(z_means, z_vars)):
    assert abs(z_mean) < 4.5 and abs(z_var) < 4.5, (target.names[i], z_mean,
                                                   z_var)


@pytest.fixture(scope='module')
def adapted(gaussian):
  return hmc.run_chains(jax.random.key(0), gaussian,
                        gaussian.initial(jax.random.key(1), 4), 'nuts',
                        num_warmup=300, num_draws=500)


def test_a_pytree_position_is_sampled_correctly(gaussian, adapted):
  assert adapted.draws.shape == (4, 500, 9)
  assert adapted.names == gaussian.names
  _assert_moments(adapted.draws, gaussian)
  assert hmc.rhat(adapted.draws[..., 0]) < 1.05


def test_named_draws_are_the_flat_draws_unravelled(adapted):
  assert sorted(adapted.named_draws) == ['mu', 'theta']
  assert adapted.named_draws['mu'].shape == (4, 500)
  assert adapted.named_draws['theta'].shape == (4, 500, 8)
  tree = jax.vmap(jax.vmap(adapted.unravel))(adapted.draws)
  for name in ('mu', 'theta'):
    np.testing.assert_array_equal(adapted.named_draws[name], tree[name])


def test_given_step_size_and_mass_without_warmup(stiff):
  # M^{-1} = the covariance whitens the target; steps of 0.5 are then
  # stable, but five times the scale of `mu` (0.1): with the identity as
  # M^{-1} leapfrog would diverge there (stable only below 2 sd).
  inverse_mass = stiff.var
  eps = np.array([0.4, 0.45, 0.5, 0.55], np.float32)  # One per chain.
  res = hmc.run_chains(jax.random.key(2), stiff.logdensity,
                       stiff.initial(jax.random.key(3), 4), 'hmc',
                       num_warmup=0, num_draws=600, num_steps=3,
                       step_size=eps, inverse_mass=inverse_mass)
  np.testing.assert_array_equal(res.step_size, eps)
  np.testing.assert_array_equal(res.inverse_mass,
                                np.tile(inverse_mass.astype(np.float32), (4, 1)))
  assert res.warmup_info.acceptance_prob.shape == (4, 0)
  assert np.all(res.info.num_grad_evals == 3)
  assert float(np.mean(res.info.acceptance_prob)) > 0.9
  _assert_moments(res.draws[:, 100:], stiff)


def test_given_values_start_the_warmup():
  # Ten warm-up iterations have no slow window: the dense M^{-1} given is
  # kept, the step size is searched from the given one and adapted.
  t = targets.correlated_gaussian(0.99)
  cov = np.array([[1.0, 0.99], [0.99, 1.0]])
  res = hmc.run_chains(jax.random.key(4), t.logdensity,
                       t.initial(jax.random.key(5), 2), 'hmc', num_warmup=10,
                       num_draws=20, num_steps=2, step_size=0.01,
                       inverse_mass=cov)
  np.testing.assert_allclose(res.inverse_mass[0], cov, rtol=1e-6)
  assert res.inverse_mass.shape == (2, 2, 2) and res.warmup_info.energy.shape == (2, 10)
  # Searched up from 0.01 and adapted on the whitened target (about 0.6;
  # with the identity as M^{-1} it would stay below 0.1 = the smallest sd).
  assert np.all(res.step_size > 0.3)


@pytest.mark.parametrize('position, match', [
    ({'mu': jnp.zeros(()), 'theta': jnp.zeros(8)}, r"got leaf shapes \{mu: \(\), theta: \(8,\)\}"),
    ({'mu': jnp.zeros(4), 'theta': jnp.zeros((3, 8))}, r'mu: \(4,\), theta: \(3, 8\)'),
    # With the Target, leaf shapes are checked against its template.
    ({'mu': jnp.zeros(4), 'theta': jnp.zeros(4)}, r'this target expects \{mu: \(chains,\), theta: \(chains, 8\)\}, got leaf shapes \{mu: \(4,\), theta: \(4,\)\}'),
    # A flat vector for one chain: the log density fails on its rows.
    (jnp.zeros(2), r"logdensity_fn fails on one chain's position \(leaf shapes \{x: \(\)\}\)"),
])
def test_a_position_without_a_chain_axis_is_one_clear_value_error(
    gaussian, position, match):
  logdensity = (gaussian if isinstance(position, dict)
                else targets.correlated_gaussian().logdensity)
  with pytest.raises(ValueError, match=match) as e:
    hmc.run_chains(jax.random.key(0), logdensity, position)
  assert str(e.value).startswith(
      'initial_positions must have a leading chain axis on every leaf, '
      '[chains, *position_leaf_shape]')
  assert '--config' not in str(e.value)


@pytest.mark.parametrize('kwargs, match', [
    ({'step_size': -0.1}, 'step_size must be a positive number'),
    ({'step_size': [0.1, 0.2]}, r'or 4 positive numbers \(one per chain\)'),
    ({'inverse_mass': np.ones(3)}, r'inverse_mass must have shape \(9,\)'),
    ({'inverse_mass': np.eye(9), 'dense_mass': False}, 'dense_mass=False'),
    ({'inverse_mass': -np.ones(9)}, 'must be positive'),
    ({'kernel': 'mala'}, 'unknown kernel'),
    ({'num_draws': 0}, 'num_draws must be an integer >= 1'),
])
def test_bad_arguments_are_value_errors(gaussian, kwargs, match):
  with pytest.raises(ValueError, match=match) as e:
    hmc.run_chains(jax.random.key(0), gaussian.logdensity,
                   gaussian.initial(jax.random.key(1), 4), **kwargs)
  assert '--config' not in str(e.value)


def test_a_targets_own_names_name_the_draws():
  # Names given by the target (and its root) are what the result reports,
  # not names rebuilt from the position's shape.
  t = targets.from_log_joint('z_post', lambda z: -0.5 * jnp.sum(z**2), 2,
                             names=['a', 'b'])
  res = hmc.run_chains(jax.random.key(0), t, t.initial(jax.random.key(1), 2),
                       'rwmh', num_warmup=0, num_draws=5, step_size=0.5,
                       inverse_mass=np.ones(2))
  assert res.names == ['a', 'b'] and list(res.named_draws) == ['z']
  assert res.named_draws['z'].shape == (2, 5, 2)
