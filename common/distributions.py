"""Log-densities shared by every family (one place for each formula).

The image families add the discretized logistic (mixture) and discretized
Gaussian here; the flows need only the standard normal prior.
"""
import math

import jax.numpy as jnp

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def standard_normal_log_prob(z):
  """Sum over all non-batch dimensions of log N(z; 0, 1): shape [B]."""
  per_dim = -_HALF_LOG_2PI - 0.5 * jnp.square(z)
  return jnp.sum(per_dim.reshape(z.shape[0], -1), axis=-1)


def diagonal_normal_log_prob(x, mean, log_scale):
  """Sum over non-batch dimensions of log N(x; mean, exp(log_scale)^2)."""
  per_dim = (-_HALF_LOG_2PI - log_scale
             - 0.5 * jnp.square((x - mean) * jnp.exp(-log_scale)))
  return jnp.sum(per_dim.reshape(x.shape[0], -1), axis=-1)
