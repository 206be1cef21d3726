"""The targets package: names and chain axes from the pytree, flat <-> pytree
maps, moments, and the benchmark targets unchanged by the move out of hmc/."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import targets


def test_names_shapes_and_moments_come_from_the_pytree():
  t = targets.diagonal_gaussian({'mu': 1.0, 'theta': np.arange(8.0)},
                                {'mu': 2.0, 'theta': np.full(8, 0.5)})
  assert t.dim == 9 and t.leaf_names == ['mu', 'theta']
  assert t.names == ['mu'] + [f'theta[{i}]' for i in range(8)]
  np.testing.assert_array_equal(t.mean, np.r_[1.0, np.arange(8.0)])
  np.testing.assert_array_equal(t.var, np.r_[4.0, np.full(8, 0.25)])
  x0 = t.initial(jax.random.key(0), 3)
  assert x0['mu'].shape == (3,) and x0['theta'].shape == (3, 8)
  assert x0['theta'].dtype == jnp.float32
  one = jax.tree.map(lambda a: a[1], x0)
  np.testing.assert_array_equal(t.unravel(t.ravel(one))['theta'], one['theta'])
  assert float(t.logdensity_flat(t.ravel(one))) == float(t.logdensity(one))
  assert targets.coordinate_names({'a': {'b': np.zeros((2, 2))},
                                   'c': [np.zeros(2), 0.0]}) == [
      'a.b[0,0]', 'a.b[0,1]', 'a.b[1,0]', 'a.b[1,1]', 'c[0][0]', 'c[0][1]',
      'c[1]']
  z = targets.from_log_joint('post', lambda z: -jnp.sum(z**2), 3)
  assert z.names == ['z[0]', 'z[1]', 'z[2]'] and z.mean is None


def test_the_benchmark_targets_keep_their_densities_names_and_moments():
  # Flat vectors, as before the move: initial() is the same uniform draw.
  key = jax.random.key(4)
  for name in ('std_gaussian', 'correlated_gaussian', 'mixture', 'banana',
               'funnel', 'ill_conditioned'):
    t = targets.get(name)
    x0 = t.initial(key, 3)
    np.testing.assert_array_equal(x0, jax.random.uniform(
        key, (3, t.dim), jnp.float32, -t.init_scale, t.init_scale))
    assert len(t.names) == t.dim == t.mean.shape[0] == t.var.shape[0]
  banana = targets.get('banana')
  assert banana.names == ['x0', 'x1']
  np.testing.assert_allclose(banana.var, [100.0, 19.0])
  assert float(banana.logdensity(jnp.array([10.0, 0.0]))) == pytest.approx(-0.5)
  assert targets.get('mixture').names == ['x']
  assert targets.get('funnel', 5).names == ['v', 'x[0]', 'x[1]', 'x[2]', 'x[3]']
  scaled = targets.get('scaled_gaussian', 4)
  np.testing.assert_allclose(np.sqrt(scaled.var), [0.01, 0.1, 1.0, 10.0])
  x = jnp.array([0.01, 0.2, 0.0, 10.0])
  assert float(scaled.logdensity(x)) == pytest.approx(-0.5 * (1 + 4 + 0 + 1))
  with pytest.raises(ValueError, match='unknown target'):
    targets.get('nope')
