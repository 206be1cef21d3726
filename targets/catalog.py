"""The benchmark targets, each with what the diagnostics can check.

The named ones are flat vectors (what the HMC configs and the peer
benchmark, bench/hmc_vs_peers.py, run); `diagonal_gaussian` is over any
pytree.

* std_gaussian: N(0, I_d).
* correlated_gaussian: 2-D, unit variances, rho = 0.9.
* mixture: 0.25 N(-4, 1) + 0.75 N(4, 1) in 1-D (mean 2, variance 13).
* banana: x0 ~ N(0, 10^2), x1 | x0 ~ N(0.03 (x0^2 - 100), 1) (the
  Inference Gym's Banana, after Haario et al. 1999; mean 0, variances 100
  and 19).
* funnel: Neal's funnel, v ~ N(0, 3^2), x_i | v ~ N(0, e^v), i = 1..9
  (Neal 2003, "Slice sampling", arXiv:physics/0009028, Sec. 8;
  var x_i = e^{9/2}).
* ill_conditioned: 100-d Gaussian with a random rotation and eigenvalues
  log-spaced over [1e-2, 1e2] (condition number 1e4).
* logistic_regression: Bayesian logistic regression on scikit-learn's
  breast-cancer data (569 x 30, standardised), N(0, 1) prior on 30 weights
  and the bias; moments unknown.
* linear_regression: Bayesian linear regression on scikit-learn's diabetes
  data (442 x 10, standardised, standardised response, and a bias), N(0, 1)
  prior, known noise scale 0.7: the posterior is Gaussian in closed form
  (`linear_regression_posterior` gives its mean and covariance).
* eight_schools: the non-centred eight schools model (Rubin 1981; Gelman et
  al., BDA 5.5): mu ~ N(0, 5^2), tau ~ HalfCauchy(5), theta_j = mu +
  tau theta_tilde_j, theta_tilde_j ~ N(0, 1), y_j ~ N(theta_j, sigma_j^2),
  over (mu, log tau, theta_tilde[8]); moments unknown.
* diagonal_gaussian: independent normals over any pytree (mean and scale
  pytrees of one structure), e.g. {'mu': 0., 'theta': zeros(8)}.

A VAE posterior p(z | x) is `base.from_log_joint` of the decoder and prior
(hmc/run.py builds it from a checkpoint).
"""
import jax
import jax.numpy as jnp
import numpy as np

from common.errors import ConfigError
from targets.base import Target


def std_gaussian(dim=10):
  return Target('std_gaussian', lambda x: -0.5 * jnp.sum(x**2), np.zeros(dim),
                mean=np.zeros(dim), var=np.ones(dim))


def scaled_gaussian(dim=100):
  """Independent N(0, s_i^2) with scales s_i log-spaced over [1e-2, 1e1]
  (condition number 10^6): what a diagonal mass matrix must learn."""
  scale = np.logspace(-2, 1, dim)
  return Target('scaled_gaussian',
                lambda x: -0.5 * jnp.sum((x / jnp.asarray(scale, x.dtype))**2),
                np.zeros(dim), mean=np.zeros(dim), var=scale**2)


def correlated_gaussian(rho=0.9):
  cov = np.array([[1.0, rho], [rho, 1.0]])
  prec = np.linalg.inv(cov)
  return Target('correlated_gaussian',
                lambda x: -0.5 * x @ jnp.asarray(prec, x.dtype) @ x,
                np.zeros(2), mean=np.zeros(2), var=np.ones(2))


def mixture():
  """0.25 N(-4, 1) + 0.75 N(4, 1)."""
  def logdensity(x):
    a = jnp.log(0.25) - 0.5 * (x[0] + 4.0)**2
    b = jnp.log(0.75) - 0.5 * (x[0] - 4.0)**2
    return jnp.logaddexp(a, b)
  return Target('mixture', logdensity, np.zeros(1), mean=np.array([2.0]),
                var=np.array([13.0]), names=['x'], init_scale=6.0, pair=(0, 0))


def banana(curvature=0.03):
  def logdensity(x):
    return (-0.5 * (x[0] / 10.0)**2
            - 0.5 * (x[1] - curvature * (x[0]**2 - 100.0))**2)
  var1 = 1.0 + curvature**2 * 2 * 100.0**2
  return Target('banana', logdensity, np.zeros(2), mean=np.zeros(2),
                var=np.array([100.0, var1]), names=['x0', 'x1'],
                init_scale=5.0)


def funnel(dim=10):
  def logdensity(x):
    v, rest = x[0], x[1:]
    return (-0.5 * (v / 3.0)**2
            - 0.5 * jnp.sum(rest**2) * jnp.exp(-v) - 0.5 * (dim - 1) * v)
  var = np.full(dim, np.exp(4.5))
  var[0] = 9.0
  return Target('funnel', logdensity, np.zeros(dim), mean=np.zeros(dim),
                var=var, names=['v'] + [f'x[{i}]' for i in range(dim - 1)])


def ill_conditioned(dim=100, seed=0):
  rng = np.random.default_rng(seed)
  q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
  eig = np.logspace(-2, 2, dim)
  cov = (q * eig) @ q.T
  prec = (q / eig) @ q.T
  def logdensity(x):
    return -0.5 * x @ jnp.asarray(prec, x.dtype) @ x
  return Target('ill_conditioned', logdensity, np.zeros(dim),
                mean=np.zeros(dim), var=np.diag(cov).copy())


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
  return Target('logistic_regression', logdensity, np.zeros(d),
                names=[f'w[{i}]' for i in range(d - 1)] + ['bias'])


_DIABETES_NOISE = 0.7


def _diabetes():
  from sklearn.datasets import load_diabetes  # pylint: disable=g-import-not-at-top
  data = load_diabetes()
  x = (data.data - data.data.mean(0)) / data.data.std(0)
  y = (data.target - data.target.mean()) / data.target.std()
  return np.concatenate([x, np.ones((len(x), 1))], 1), y


def linear_regression_posterior():
  """(mean, covariance) of the exact Gaussian posterior of
  `linear_regression`: precision I + X^T X / s^2, mean cov X^T y / s^2."""
  x, y = _diabetes()
  precision = np.eye(x.shape[1]) + x.T @ x / _DIABETES_NOISE**2
  cov = np.linalg.inv(precision)
  return cov @ x.T @ y / _DIABETES_NOISE**2, cov


def linear_regression():
  """Diabetes regression with a closed-form posterior."""
  x, y = _diabetes()
  mean, cov = linear_regression_posterior()

  def logdensity(w):
    resid = jnp.asarray(y, w.dtype) - jnp.asarray(x, w.dtype) @ w
    return (-0.5 * jnp.sum(resid**2) / _DIABETES_NOISE**2
            - 0.5 * jnp.sum(w**2))
  d = x.shape[1]
  return Target('linear_regression', logdensity, np.zeros(d), mean=mean,
                var=np.diag(cov).copy(),
                names=[f'w[{i}]' for i in range(d - 1)] + ['bias'])


# Rubin (1981): SAT coaching effects and their standard errors.
EIGHT_SCHOOLS_Y = np.array([28., 8., -3., 7., -1., 1., 18., 12.])
EIGHT_SCHOOLS_SIGMA = np.array([15., 10., 16., 11., 9., 11., 10., 18.])


def eight_schools():
  """Non-centred eight schools over (mu, log tau, theta_tilde[8])."""
  y, sigma = EIGHT_SCHOOLS_Y, EIGHT_SCHOOLS_SIGMA

  def logdensity(x):
    mu, log_tau, tilde = x[0], x[1], x[2:]
    tau = jnp.exp(log_tau)
    theta = mu + tau * tilde
    log_lik = -0.5 * jnp.sum(((jnp.asarray(y, x.dtype) - theta)
                              / jnp.asarray(sigma, x.dtype))**2)
    # HalfCauchy(5) on tau, plus log tau for the change of variables.
    log_prior_tau = -jnp.log1p((tau / 5.0)**2) + log_tau
    return (log_lik - 0.5 * (mu / 5.0)**2 + log_prior_tau
            - 0.5 * jnp.sum(tilde**2))
  return Target('eight_schools', logdensity, np.zeros(10),
                names=['mu', 'log_tau'] + [f'theta_tilde[{j}]' for j in range(8)])


def diagonal_gaussian(mean, scale, name='diagonal_gaussian'):
  """Independent N(mean, scale^2) in every coordinate of a pytree position;
  `mean` and `scale` are pytrees of one structure, or `scale` is one
  number for every coordinate (scalars broadcast within a leaf). The
  template is `mean`."""
  mean = jax.tree.map(lambda m: np.asarray(m, np.float64), mean)
  if np.ndim(scale) == 0 and not isinstance(scale, (dict, list, tuple)):
    scale = jax.tree.map(lambda m: scale, mean)
  scale = jax.tree.map(lambda m, s: np.broadcast_to(
      np.asarray(s, np.float64), np.shape(m)), mean, scale)

  def logdensity(position):
    terms = jax.tree.map(
        lambda x, m, s: -0.5 * jnp.sum(((x - jnp.asarray(m, x.dtype))
                                        / jnp.asarray(s, x.dtype))**2),
        position, mean, scale)
    return sum(jax.tree.leaves(terms))

  return Target(name, logdensity, mean, mean=mean,
                var=jax.tree.map(np.square, scale))


BUILDERS = {'std_gaussian': std_gaussian, 'scaled_gaussian': scaled_gaussian,
            'correlated_gaussian': correlated_gaussian,
            'mixture': mixture, 'banana': banana, 'funnel': funnel,
            'ill_conditioned': ill_conditioned,
            'logistic_regression': logistic_regression,
            'linear_regression': linear_regression,
            'eight_schools': eight_schools}


def get(name, dim=0):
  """The named target; `dim` > 0 sets the dimension of std_gaussian,
  scaled_gaussian, funnel and ill_conditioned (0: their default)."""
  if name not in BUILDERS:
    raise ConfigError(f'unknown target {name!r}; use one of {sorted(BUILDERS)}')
  if name in ('std_gaussian', 'scaled_gaussian', 'funnel',
              'ill_conditioned') and dim > 0:
    return BUILDERS[name](dim)
  return BUILDERS[name]()
