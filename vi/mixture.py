"""Gaussian mixtures with full covariances: the data checks and Gaussian
helpers every mixture algorithm shares, and EM.

* EM (Dempster, Laird & Rubin 1977) for the maximum-likelihood mixture, with
  the conventions of scikit-learn's `GaussianMixture(covariance_type='full')`:
  `reg_covar` is added to the diagonal of every covariance, the component
  counts get 10 machine epsilons (so an empty component gives its mean 0
  rather than 0/0), and iteration i records the mean log-likelihood of the
  parameters *before* its M-step; the loop stops after the first iteration
  whose change is below `tol` (the first change, from -inf, never is).

The Bayesian mixture (CAVI and SVI) is vi/bayesian_mixture.py.

Like the hmc kernels, the step functions are pure and unjitted; `fit_em`
checks its inputs on the host and runs a jitted `lax.while_loop` in
float64.
"""
import functools
import math
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp

from common.errors import ConfigError
from common.errors import DataError

_LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------
# Input checks (host side, on concrete arrays).


def check_data(x, n_components):
  """x as a float array [N, d], or a one-line DataError/ConfigError."""
  try:
    arr = np.asarray(x)
  except Exception as e:  # pylint: disable=broad-except
    raise DataError(f'x cannot be read as an array ({e}); pass a [num_points, '
                    'dim] float array') from None
  if arr.dtype.kind not in 'fiub':
    raise DataError(f'x has dtype {arr.dtype}; pass a [num_points, dim] float '
                    'array')
  if arr.ndim != 2:
    raise DataError(f'x has shape {arr.shape} but must be [num_points, dim]; '
                    'reshape 1-D data with x[:, None]')
  n, d = arr.shape
  if n == 0 or d == 0:
    raise DataError(f'x has shape {arr.shape}; it needs at least one point and '
                    'one dimension')
  bad = ~np.isfinite(arr)
  if bad.any():
    rows = np.flatnonzero(bad.any(axis=1))
    raise DataError(f'x has {int(bad.sum())} NaN/inf values in {rows.size} '
                    f'rows (first: row {rows[0]}); drop or impute them first')
  if int(n_components) != n_components or n_components < 1:
    raise ConfigError(f'n_components={n_components} must be a positive integer')
  if n_components > n:
    raise ConfigError(f'n_components={n_components} is more than the {n} data '
                      f'points; use n_components <= {n} or more data')
  if arr.dtype.kind != 'f':
    arr = arr.astype(np.float64)
  return jnp.asarray(arr)


def _float64(fit):
  """Runs `fit` in float64 (sklearn's precision): ELBOs of 1e4 in float32
  are spaced about 1e-3, the size of the stopping tolerance."""
  @functools.wraps(fit)
  def wrapped(*args, **kwargs):
    with jax.enable_x64(True):
      return fit(*args, **kwargs)
  return wrapped


def check_resp(resp, num_data, n_components):
  """Initial responsibilities [N, K]: finite, >= 0, rows summing to 1."""
  r = np.asarray(resp, dtype=np.float64)
  if r.shape != (num_data, n_components):
    raise ConfigError(f'resp0 has shape {r.shape} but must be [num_points, '
                      f'n_components] = {(num_data, n_components)}')
  if not np.all(np.isfinite(r)) or (r < 0).any():
    raise ConfigError('resp0 must be finite and non-negative (probabilities '
                      'of each point belonging to each component)')
  if not np.allclose(r.sum(axis=1), 1.0, rtol=0, atol=1e-6):
    raise ConfigError('the rows of resp0 must sum to 1; normalise with '
                      'resp0 / resp0.sum(axis=1, keepdims=True)')


def _num_components(resp0):
  if np.ndim(resp0) != 2:
    raise ConfigError(f'resp0 has shape {np.shape(resp0)} but must be '
                      '[num_points, n_components]')
  return np.shape(resp0)[1]


def _check_loop(max_iter, tol):
  if int(max_iter) != max_iter or max_iter < 1:
    raise ConfigError(f'max_iter={max_iter} must be a positive integer')
  if not tol >= 0:
    raise ConfigError(f'tol={tol} must be >= 0 (e.g. tol=1e-3)')


def _check_reg(reg_covar):
  if not reg_covar >= 0:
    raise ConfigError(f'reg_covar={reg_covar} must be >= 0 (e.g. 1e-6)')


# ----------------------------------------------------------------------------
# Gaussian helpers.


def precision_cholesky(covariances):
  """Upper-triangular P with P P^T = covariances^-1, batched over [..., d, d].

  P = L^-T for the Cholesky factor L of the covariance (sklearn's
  `_compute_precision_cholesky`): |(x - mu) P|^2 is the Mahalanobis distance
  without forming an inverse.
  """
  d = covariances.shape[-1]
  chol = jnp.linalg.cholesky(covariances)
  eye = jnp.broadcast_to(jnp.eye(d, dtype=covariances.dtype), covariances.shape)
  return jnp.swapaxes(solve_triangular(chol, eye, lower=True), -1, -2)


def _log_det_cholesky(prec_chol):
  return jnp.sum(jnp.log(jnp.diagonal(prec_chol, axis1=-2, axis2=-1)), -1)


def _mahalanobis(x, means, prec_chol):
  """[N, K] squared distances |x_n P_k - mu_k P_k|^2 (sklearn's form)."""
  y = (jnp.einsum('nd,kde->nke', x, prec_chol)
       - jnp.einsum('kd,kde->ke', means, prec_chol)[None])
  return jnp.sum(y * y, -1)


def gaussian_log_prob(x, means, prec_chol):
  """[N, K] log N(x_n | mu_k, Sigma_k) from the precision Cholesky factors."""
  d = x.shape[-1]
  return (-0.5 * (d * _LOG_2PI + _mahalanobis(x, means, prec_chol))
          + _log_det_cholesky(prec_chol))


# ----------------------------------------------------------------------------
# EM for the maximum-likelihood mixture.


class GMMState(NamedTuple):
  weights: jax.Array              # [K]
  means: jax.Array                # [K, d]
  covariances: jax.Array          # [K, d, d]
  precisions_cholesky: jax.Array  # [K, d, d], P P^T = covariances^-1


class EMResult(NamedTuple):
  state: GMMState        # after the last M-step
  log_likelihood: jax.Array  # [max_iter] mean log-lik. per iteration, NaN after
  n_iter: jax.Array
  converged: jax.Array


def gmm_state(weights, means, covariances):
  """A GMMState from explicit parameters (e.g. to start EM from them)."""
  covariances = jnp.asarray(covariances)
  return GMMState(jnp.asarray(weights), jnp.asarray(means), covariances,
                  precision_cholesky(covariances))


def em_m_step(x, resp, reg_covar=1e-6):
  """Maximum-likelihood weights, means and covariances given resp [N, K]."""
  n, d = x.shape
  counts = jnp.sum(resp, 0) + 10 * jnp.finfo(resp.dtype).eps
  means = (resp.T @ x) / counts[:, None]
  # Centred per component, as sklearn does: a raw second moment minus
  # mean mean^T loses digits when a component sits far from the origin.
  diff = x[None] - means[:, None]                          # [K, N, d]
  cov = jnp.einsum('nk,knd,kne->kde', resp, diff, diff) / counts[:, None, None]
  cov = cov + reg_covar * jnp.eye(d, dtype=x.dtype)
  return gmm_state(counts / n, means, cov)


def em_init(x, resp, reg_covar=1e-6):
  """The state an M-step from initial responsibilities gives (sklearn's
  `_initialize`)."""
  return em_m_step(x, resp, reg_covar)


def em_e_step(state: GMMState, x):
  """(mean log-likelihood of x, log responsibilities [N, K])."""
  weighted = (gaussian_log_prob(x, state.means, state.precisions_cholesky)
              + jnp.log(state.weights))
  log_norm = logsumexp(weighted, axis=1)
  return jnp.mean(log_norm), weighted - log_norm[:, None]


def em_step(state: GMMState, x, reg_covar=1e-6):
  """One E- and M-step: (new state, mean log-likelihood of the old state)."""
  mean_loglik, log_resp = em_e_step(state, x)
  return em_m_step(x, jnp.exp(log_resp), reg_covar), mean_loglik


def _em_loop(state, x, tol, reg_covar, max_iter):
  def cond(carry):
    _, _, i, _, done = carry
    return (i < max_iter) & ~done

  def body(carry):
    state, trace, i, prev, _ = carry
    state, ll = em_step(state, x, reg_covar)
    return state, trace.at[i].set(ll), i + 1, ll, jnp.abs(ll - prev) < tol

  trace = jnp.full((max_iter,), jnp.nan, x.dtype)
  init = (state, trace, jnp.asarray(0), jnp.asarray(-jnp.inf, x.dtype),
          jnp.asarray(False))
  state, trace, n_iter, _, done = jax.lax.while_loop(cond, body, init)
  return EMResult(state, trace, n_iter, done)


@functools.partial(jax.jit, static_argnames=('max_iter',))
def _em_from_resp(x, resp0, tol, reg_covar, max_iter):
  return _em_loop(em_init(x, resp0, reg_covar), x, tol, reg_covar, max_iter)


_em_from_params = jax.jit(_em_loop, static_argnames=('max_iter',))


@_float64
def fit_em(x, resp0=None, params0: Optional[GMMState] = None, *,
           n_components=None, max_iter=100, tol=1e-3, reg_covar=1e-6):
  """EM from initial responsibilities or parameters, until the change of the
  mean log-likelihood is below tol (sklearn's rule) or max_iter iterations.

  Args:
    x: [N, d] data.
    resp0: [N, K] initial responsibilities (the first state is their M-step),
      or
    params0: a GMMState (see `gmm_state`) to run the first E-step from.
    n_components: K; defaults to the width of resp0 / params0.
    max_iter, tol, reg_covar: as sklearn's GaussianMixture.

  Returns:
    EMResult: the final state, the per-iteration mean log-likelihood (of the
    parameters before that iteration's M-step, NaN after n_iter), n_iter and
    whether the tolerance was met.
  """
  if (resp0 is None) == (params0 is None):
    raise ConfigError('fit_em needs exactly one of resp0 (initial '
                      'responsibilities) or params0 (a GMMState)')
  if n_components is None:
    n_components = (_num_components(resp0) if resp0 is not None
                    else np.shape(params0.weights)[0])
  x = check_data(x, n_components)
  _check_loop(max_iter, tol)
  _check_reg(reg_covar)
  if resp0 is not None:
    check_resp(resp0, x.shape[0], n_components)
    return _em_from_resp(x, jnp.asarray(resp0, x.dtype),
                         jnp.asarray(tol, x.dtype),
                         jnp.asarray(reg_covar, x.dtype),
                         max_iter=int(max_iter))
  state = GMMState(*[jnp.asarray(a, x.dtype) for a in params0])
  if state.means.shape != (n_components, x.shape[1]):
    raise ConfigError(f'params0.means has shape {state.means.shape}, '
                      f'expected {(n_components, x.shape[1])}')
  return _em_from_params(state, x, jnp.asarray(tol, x.dtype),
                         jnp.asarray(reg_covar, x.dtype),
                         max_iter=int(max_iter))
