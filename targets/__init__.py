"""Target densities shared by the samplers (hmc/), variational inference
and the benchmarks: unnormalised log densities over pytree positions, with
parameter names derived from the pytree, `initial(rng, chains)` starting
points with a leading chain axis, and exact moments where they are known.

  import targets
  t = targets.get('funnel')                        # a named benchmark target
  t = targets.diagonal_gaussian({'mu': 0., 'theta': np.zeros(8)}, 1.0)
  t = targets.from_log_joint('posterior', log_joint, dim=16)
  x0 = t.initial(jax.random.key(0), chains=4)      # leaves [4, *leaf_shape]
"""
from targets.base import coordinate_names
from targets.base import from_log_joint
from targets.base import leaf_names
from targets.base import make_unravel
from targets.base import ravel
from targets.base import Target
from targets.catalog import banana
from targets.catalog import BUILDERS
from targets.catalog import correlated_gaussian
from targets.catalog import diagonal_gaussian
from targets.catalog import eight_schools
from targets.catalog import funnel
from targets.catalog import get
from targets.catalog import ill_conditioned
from targets.catalog import linear_regression
from targets.catalog import linear_regression_posterior
from targets.catalog import logistic_regression
from targets.catalog import mixture
from targets.catalog import std_gaussian

__all__ = [
    'Target', 'from_log_joint', 'get', 'BUILDERS',
    'std_gaussian', 'correlated_gaussian', 'mixture', 'banana', 'funnel',
    'ill_conditioned', 'logistic_regression', 'linear_regression',
    'linear_regression_posterior', 'eight_schools', 'diagonal_gaussian',
    'leaf_names', 'coordinate_names', 'make_unravel', 'ravel',
]
