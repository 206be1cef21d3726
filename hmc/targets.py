"""Target densities for HMC, each with what the diagnostics can check.

A `Target` has an unnormalised `logdensity(position)` over a flat vector,
an `initial(rng, chains)` spread of starting points, parameter names, and
the exact posterior mean and variance where they are known (None where not:
the logistic regression and the VAE posterior), so runs report moment
errors in units of Monte Carlo standard error.

* std_gaussian: N(0, I_d).
* correlated_gaussian: 2-D, unit variances, rho = 0.9.
* mixture: 0.25 N(-4, 1) + 0.75 N(4, 1) in 1-D (mean 2, variance 13).
* banana: x0 ~ N(0, 10^2), x1 | x0 ~ N(0.03 (x0^2 - 100), 1) (the
  Inference Gym's Banana; mean 0, variances 100 and 19).
* funnel: Neal's funnel, v ~ N(0, 3^2), x_i | v ~ N(0, e^v), i = 1..9
  (Neal 2003, "Slice sampling", Sec. 8; var x_i = e^{9/2}).
* ill_conditioned: 100-d Gaussian with a random rotation and eigenvalues
  log-spaced over [1e-2, 1e2] (condition number 1e4).
* logistic_regression: Bayesian logistic regression on scikit-learn's
  breast-cancer data (569 x 30, standardised), N(0, 1) prior on 30 weights
  and the bias.
* vae_latent: the posterior p(z | x) of a trained one-layer VAE for one
  test image (hmc/run.py builds it from a checkpoint).
"""
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import ConfigError


class Target(NamedTuple):
  name: str
  dim: int
  logdensity: Callable
  names: list
  mean: Optional[np.ndarray] = None
  var: Optional[np.ndarray] = None
  init_scale: float = 2.0   # Chains start at uniform(-s, s), as Stan does.
  pair: tuple = (0, 1)      # Coordinates of the pair plot.

  def initial(self, rng, chains, dtype=jnp.float32):
    return jax.random.uniform(rng, (chains, self.dim), dtype, -self.init_scale,
                              self.init_scale)


def _names(prefix, d):
  return [f'{prefix}[{i}]' for i in range(d)]


def std_gaussian(dim=10):
  return Target('std_gaussian', dim, lambda x: -0.5 * jnp.sum(x**2),
                _names('x', dim), np.zeros(dim), np.ones(dim))


def correlated_gaussian(rho=0.9):
  cov = np.array([[1.0, rho], [rho, 1.0]])
  prec = np.linalg.inv(cov)
  return Target('correlated_gaussian', 2,
                lambda x: -0.5 * x @ jnp.asarray(prec, x.dtype) @ x,
                ['x[0]', 'x[1]'], np.zeros(2), np.ones(2))


def mixture():
  """0.25 N(-4, 1) + 0.75 N(4, 1)."""
  def logdensity(x):
    a = jnp.log(0.25) - 0.5 * (x[0] + 4.0)**2
    b = jnp.log(0.75) - 0.5 * (x[0] - 4.0)**2
    return jnp.logaddexp(a, b)
  return Target('mixture', 1, logdensity, ['x'], np.array([2.0]),
                np.array([13.0]), init_scale=6.0, pair=(0, 0))


def banana(curvature=0.03):
  def logdensity(x):
    return (-0.5 * (x[0] / 10.0)**2
            - 0.5 * (x[1] - curvature * (x[0]**2 - 100.0))**2)
  var1 = 1.0 + curvature**2 * 2 * 100.0**2
  return Target('banana', 2, logdensity, ['x0', 'x1'], np.zeros(2),
                np.array([100.0, var1]), init_scale=5.0)


def funnel(dim=10):
  def logdensity(x):
    v, rest = x[0], x[1:]
    return (-0.5 * (v / 3.0)**2
            - 0.5 * jnp.sum(rest**2) * jnp.exp(-v) - 0.5 * (dim - 1) * v)
  var = np.full(dim, np.exp(4.5))
  var[0] = 9.0
  return Target('funnel', dim, logdensity, ['v'] + _names('x', dim - 1),
                np.zeros(dim), var)


def ill_conditioned(dim=100, seed=0):
  rng = np.random.default_rng(seed)
  q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
  eig = np.logspace(-2, 2, dim)
  cov = (q * eig) @ q.T
  prec = (q / eig) @ q.T
  def logdensity(x):
    return -0.5 * x @ jnp.asarray(prec, x.dtype) @ x
  return Target('ill_conditioned', dim, logdensity, _names('x', dim),
                np.zeros(dim), np.diag(cov).copy())


def logistic_regression():
  """Breast cancer (scikit-learn's bundled copy), standardised features."""
  from sklearn.datasets import load_breast_cancer  # pylint: disable=g-import-not-at-top
  data = load_breast_cancer()
  x = data.data
  x = (x - x.mean(0)) / x.std(0)
  y = data.target.astype(np.float64)
  def logdensity(theta):
    w, b = theta[:-1], theta[-1]
    logits = jnp.asarray(x, theta.dtype) @ w + b
    yy = jnp.asarray(y, theta.dtype)
    log_lik = jnp.sum(yy * logits - jax.nn.softplus(logits))
    return log_lik - 0.5 * jnp.sum(theta**2)
  d = x.shape[1] + 1
  return Target('logistic_regression', d, logdensity,
                _names('w', d - 1) + ['bias'])


def from_log_joint(name, log_joint, dim):
  """A target from any log joint over a flat vector (e.g. a VAE posterior)."""
  return Target(name, dim, log_joint, _names('z', dim))


BUILDERS = {'std_gaussian': std_gaussian,
            'correlated_gaussian': correlated_gaussian,
            'mixture': mixture, 'banana': banana, 'funnel': funnel,
            'ill_conditioned': ill_conditioned,
            'logistic_regression': logistic_regression}


def get(name, dim=0):
  if name not in BUILDERS:
    raise ConfigError(f'unknown HMC target {name!r}; use one of '
                      f'{sorted(BUILDERS) + ["vae_latent"]}')
  if name in ('std_gaussian', 'funnel', 'ill_conditioned') and dim > 0:
    return BUILDERS[name](dim)
  return BUILDERS[name]()
