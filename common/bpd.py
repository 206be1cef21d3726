"""Likelihood bookkeeping for discrete data: dequantization, rescaling, bits/dim.

A continuous density p(v) on v in [0, L)^D, where v = x + u with u ~ U[0, 1)^D
and x the integer data with L levels, gives a lower bound on the discrete
log-likelihood: log P(x) >= E_u[log p(x + u)] (Theis et al. 2016,
arXiv:1511.01844). Every transform applied to v before the model (rescaling,
the logit of Real NVP, arXiv:1605.08803 Sec. 4.1) contributes its log-Jacobian,
so that reported bits/dim are exact code lengths for the discrete data. A model
that is uniform on [0, L)^D scores exactly log2(L) bits/dim, e.g. 8 for 8-bit
images.
"""
import math

import jax
import jax.numpy as jnp

from common import distributions


def nats_to_bpd(nats, num_dims):
  """Converts a negative log-likelihood in nats (per example) to bits/dim."""
  return nats / (num_dims * math.log(2.0))


def bpd_to_nats(bpd, num_dims):
  return bpd * num_dims * math.log(2.0)


def uniform_dequantize(rng, x, levels):
  """Returns v = x + u, u ~ U[0, 1): a point in [0, levels) per dimension."""
  del levels  # The range follows from x in {0..levels-1}; kept for symmetry.
  u = jax.random.uniform(rng, x.shape, jnp.float32)
  return x.astype(jnp.float32) + u


def logit_transform(v, levels, alpha):
  """y = logit(alpha + (1 - 2 alpha) v / levels) and its log|dy/dv| per example.

  This is Real NVP's preprocessing (arXiv:1605.08803 Sec. 4.1) written so that
  p stays inside (alpha, 1 - alpha) for every v in [0, levels), which avoids the
  overflow of logit near the top of the range.

  Args:
    v: dequantized data in [0, levels), shape [B, ...].
    levels: number of discrete values per dimension (256 for 8-bit).
    alpha: the boundary margin (0.05 in the paper).

  Returns:
    (y, log_det) with log_det of shape [B]: the sum over dimensions of
    log((1 - 2 alpha) / levels) - log p - log(1 - p).
  """
  scale = (1.0 - 2.0 * alpha) / levels
  p = alpha + scale * v
  y = jnp.log(p) - jnp.log1p(-p)
  log_det = math.log(scale) - jnp.log(p) - jnp.log1p(-p)
  return y, distributions.sum_per_example(log_det)


def inverse_logit_transform(y, levels, alpha):
  """Maps logit-space values back to [0, levels): the inverse of logit_transform."""
  p = jax.nn.sigmoid(y)
  return (p - alpha) * levels / (1.0 - 2.0 * alpha)


def quantize(v, levels):
  """Rounds a point of [0, levels) down to its integer level (uint8)."""
  return jnp.clip(jnp.floor(v), 0, levels - 1).astype(jnp.uint8)



def binarize(rng, x, levels):
  """Binary data for Bernoulli models: x itself if levels == 2, else a fresh
  draw x_bin ~ Bernoulli(x / (levels - 1)) ("dynamic binarization", as in the
  IWAE experiments, arXiv:1509.00519 Sec. 5). Returns float32 in {0, 1}.
  """
  if levels == 2:
    return x.astype(jnp.float32)
  p = x.astype(jnp.float32) / (levels - 1)
  return jax.random.bernoulli(rng, p).astype(jnp.float32)
