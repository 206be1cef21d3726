"""Stochastic variational inference for conjugate-exponential models
(Hoffman, Blei, Wang & Paisley 2013, arXiv:1206.7051).

For a global variational factor q(beta | lambda) in the exponential family
of the complete conditional, the natural gradient of the ELBO is
lambda_hat - lambda, where lambda_hat is the complete conditional's expected
natural parameter; a step of size 1 is the CAVI update. SVI estimates
lambda_hat from a minibatch replicated N/|S| times and moves
lambda <- (1 - rho_t) lambda + rho_t lambda_hat with the Robbins-Monro
schedule rho_t = (t + tau)^(-kappa), kappa in (0.5, 1].
"""
import jax
import jax.numpy as jnp

from common.errors import ConfigError


def check_schedule(kappa, tau):
  """One-line error unless rho_t = (t + tau)^-kappa is a Robbins-Monro schedule."""
  if not 0.5 < kappa <= 1.0:
    raise ConfigError(f'forgetting rate kappa={kappa} is outside (0.5, 1]: the '
                      'steps must sum to infinity with squares that do not '
                      '(Robbins-Monro); use e.g. kappa=0.7')
  if not tau >= 1:  # Also refuses NaN.
    raise ConfigError(f'delay tau={tau} must be >= 1: steps count from t = 0, '
                      'so tau < 1 gives rho_0 > 1, a step past lambda_hat '
                      '(e.g. tau=1)')


def step_size(t, kappa, tau):
  """rho_t = (t + tau)^(-kappa), for step t = 0, 1, ... (rho_0 = 1 at tau=1)."""
  return (jnp.asarray(t, jnp.float32) + tau) ** (-kappa)


def natural_gradient(lam, lam_hat):
  """The natural gradient of the ELBO in the global natural parameters."""
  return jax.tree.map(lambda h, l: h - l, lam_hat, lam)


def update(lam, lam_hat, rho):
  """lambda <- (1 - rho) lambda + rho lambda_hat, a natural-gradient step."""
  return jax.tree.map(lambda l, h: (1.0 - rho) * l + rho * h, lam, lam_hat)


def replicate_scale(num_data, batch_size):
  """N / |S|: the minibatch's sufficient statistics count as the whole set."""
  return num_data / batch_size
