"""Bounds on log p(x) from log importance weights log w = log p(x, z) - log q(z|x).

ELBO: the mean of log w over samples (the "VAE k" columns of the IWAE table).
IWAE (Burda et al. 2016, arXiv:1509.00519 Eq. 8): L_k = log (1/k) sum_i w_i,
which satisfies L_1 = ELBO <= L_k <= L_{k+1} <= log p(x) (their Theorem 1);
autodiff of L_k gives the self-normalised gradient sum_i w~_i grad log w_i.
The test NLL is -L_5000, computed in chunks whose log-sum-exps are merged so
memory stays bounded whatever k is.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np


def log_weights(terms):
  """log w [k, B] from the terms returned by VAE.log_weight_terms."""
  return terms['log_p_x'] + terms['log_p_z'] - terms['log_q_z']


def elbo(log_w):
  """Mean over the k samples: an unbiased estimate of the ELBO, [B]."""
  return jnp.mean(log_w, axis=0)


def iwae_bound(log_w):
  """L_k = log mean_i exp(log w_i), [B]."""
  return jax.nn.logsumexp(log_w, axis=0) - math.log(log_w.shape[0])


def chunked_iwae_bound(log_w_fn, rng, k, chunk):
  """L_k with k = num_chunks * chunk samples, `chunk` samples at a time.

  Args:
    log_w_fn: (rng, chunk) -> log w of shape [chunk, B].
    rng: key; chunk i uses fold_in(rng, i).
    k: total samples (must be a multiple of `chunk`).
    chunk: samples per pass.

  Returns:
    the bound, [B]; equal to iwae_bound of all k weights at once.
  """
  if k % chunk:
    raise ValueError(f'k={k} must be a multiple of the chunk size {chunk}')

  def body(running, i):
    lw = log_w_fn(jax.random.fold_in(rng, i), chunk)
    return jnp.logaddexp(running, jax.nn.logsumexp(lw, axis=0)), None

  first = log_w_fn(jax.random.fold_in(rng, 0), chunk)
  running = jax.nn.logsumexp(first, axis=0)
  running, _ = jax.lax.scan(body, running, jnp.arange(1, k // chunk))
  return running - math.log(k)


def active_units(posterior_means, threshold=1e-2):
  """Units u with Cov_x(E_q[u|x]) > threshold (IWAE paper Sec. 5.2).

  Args:
    posterior_means: [N, D] posterior means over a dataset.
  Returns:
    the number of active units (int).
  """
  variance = np.var(np.asarray(posterior_means, np.float64), axis=0)
  return int(np.sum(variance > threshold))
