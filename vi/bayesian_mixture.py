"""The Bayesian Gaussian mixture (full covariances): CAVI and SVI.

* CAVI for the Bayesian mixture (Bishop PRML 10.2; Blei, Kucukelbir &
  McAuliffe 2017, arXiv:1601.00670): pi ~ Dir(alpha_0), and per component a
  Normal-Wishart mu_k | Lambda_k ~ N(m_0, (beta_0 Lambda_k)^-1),
  Lambda_k ~ W(W_0, nu_0), with q(z) q(pi) q(mu, Lambda). This is sklearn's
  `BayesianGaussianMixture(weight_concentration_prior_type=
  'dirichlet_distribution', covariance_type='full')`, same prior defaults.
  A sweep is the E-step (responsibilities from the current global q) then
  the global update, written as expected sufficient statistics -> natural
  parameters lambda_hat = lambda_0 + stats.
* SVI (Hoffman, Blei, Wang & Paisley 2013, arXiv:1206.7051): the same global
  update from a minibatch whose statistics count N/|S| times, blended as
  lambda <- (1 - rho) lambda + rho lambda_hat (`vi.svi`). With rho = 1 and
  the full batch a step is exactly a CAVI sweep.

The ELBO is the full one, constants included:

  ELBO = E_q[log p(x, z, pi, mu, Lambda)] - E_q[log q]
       = -N d/2 log 2pi + <lambda_0 + s(r) - lambda, E_q T> + A(lambda)
         - A(lambda_0) + H(r),

with s(r) the expected statistics, T the sufficient statistics of the
global variables and A the log-normaliser (Hoffman et al. eq. 12). `elbo`
evaluates it for any (r, lambda); CAVI records it after each global update
through the closed form at lambda = lambda_hat(r). sklearn's
`_compute_lower_bound` is this at lambda = lambda_hat(r), where the middle
term vanishes, minus constants: it leaves out -K A_NW(lambda_0) -
A_Dir(alpha_0), the likelihood's -N d/2 log 2pi and, per component, d/2
log 2pi + d(d-1)/4 log pi of A_NW; `sklearn_bound_offset` is the
difference. Its `reg_covar` (default 1e-6) adds N_k reg I to the Wishart
scale, after which its bound is no longer exactly an ELBO, so our CAVI and
SVI default to reg_covar=0 (pass sklearn reg_covar=0 to compare; the
Wishart prior already keeps the covariances positive definite).

Shared pieces (data checks, Gaussian log-densities) are in vi/mixture.py,
with EM. Like the hmc kernels, the step functions are pure and unjitted;
`fit_cavi` and `fit_svi` check their inputs on the host and run a jitted
`lax.while_loop` / `lax.scan`, in float64.
"""
import functools
import math
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma
from jax.scipy.special import gammaln
from jax.scipy.special import logsumexp
from jax.scipy.special import xlogy

from common.errors import ConfigError
from common.errors import DataError
from vi import svi
from vi.mixture import _check_loop
from vi.mixture import _check_reg
from vi.mixture import _float64
from vi.mixture import _LOG_2PI
from vi.mixture import _log_det_cholesky
from vi.mixture import _mahalanobis
from vi.mixture import _num_components
from vi.mixture import check_data
from vi.mixture import check_resp
from vi.mixture import precision_cholesky


# ----------------------------------------------------------------------------
# The Bayesian mixture: prior, statistics, natural parameters.


class Prior(NamedTuple):
  """Dirichlet(alpha_0 1_K) x prod_k NW(m_0, beta_0, W_0, nu_0)."""
  weight_concentration: jax.Array  # alpha_0 > 0
  mean_precision: jax.Array        # beta_0 > 0
  mean: jax.Array                  # m_0 [d]
  degrees_of_freedom: jax.Array    # nu_0 > d - 1
  covariance: jax.Array            # W_0^-1 [d, d], positive definite


def make_prior(x, n_components, *, weight_concentration=None,
               mean_precision=None, mean=None, degrees_of_freedom=None,
               covariance=None) -> Prior:
  """sklearn's defaults, each overridable: alpha_0 = 1/K, beta_0 = 1,
  m_0 = mean of x, nu_0 = d, W_0^-1 = the empirical covariance of x
  (ddof=1)."""
  x = check_data(x, n_components)
  xn = np.asarray(x, np.float64)
  n, d = xn.shape
  alpha = 1.0 / n_components if weight_concentration is None else \
      weight_concentration
  beta = 1.0 if mean_precision is None else mean_precision
  nu = float(d) if degrees_of_freedom is None else degrees_of_freedom
  for name, value in (('weight_concentration', alpha),
                      ('mean_precision', beta)):
    if not (np.ndim(value) == 0 and np.isfinite(value) and value > 0):
      raise ConfigError(f'prior {name}={value} must be a positive number')
  if not (np.ndim(nu) == 0 and np.isfinite(nu) and nu > d - 1):
    raise ConfigError(f'prior degrees_of_freedom={nu} must be > dim - 1 = '
                      f'{d - 1} (default: dim)')
  m0 = xn.mean(0) if mean is None else np.asarray(mean, np.float64)
  if m0.shape != (d,) or not np.all(np.isfinite(m0)):
    raise ConfigError(f'prior mean must be a finite vector of shape ({d},), '
                      f'got shape {m0.shape}')
  if covariance is None:
    if n < 2:
      raise DataError('one data point has no empirical covariance; pass the '
                      'prior covariance=')
    cov = np.atleast_2d(np.cov(xn.T))
    what = 'the empirical covariance of x (a constant or collinear column?)'
  else:
    cov = np.asarray(covariance, np.float64)
    what = 'prior covariance'
  if cov.shape != (d, d) or not np.all(np.isfinite(cov)):
    raise ConfigError(f'prior covariance must be a finite [{d}, {d}] matrix, '
                      f'got shape {cov.shape}')
  if not np.allclose(cov, cov.T) or np.linalg.eigvalsh(cov).min() <= 0:
    fix = ('; pass covariance= explicitly' if covariance is None
           else '; pass a symmetric positive definite matrix')
    raise ConfigError(f'{what} is not symmetric positive definite{fix}')
  dtype = x.dtype
  return Prior(jnp.asarray(alpha, dtype), jnp.asarray(beta, dtype),
               jnp.asarray(m0, dtype), jnp.asarray(nu, dtype),
               jnp.asarray(cov, dtype))


class SuffStats(NamedTuple):
  """Expected sufficient statistics per component, x centred at m_0."""
  counts: jax.Array  # N_k = sum_n r_nk                      [K]
  sum_x: jax.Array   # sum_n r_nk (x_n - m_0)                [K, d]
  sum_xx: jax.Array  # sum_n r_nk (x_n - m_0)(x_n - m_0)^T   [K, d, d]


class Natural(NamedTuple):
  """The global factors q(pi) prod_k q(mu_k, Lambda_k) as natural parameters.

  In coordinates centred at the prior mean m_0 (mu' = mu - m_0, m' = m - m_0)
  and up to fixed offsets, every field is the exponential-family natural
  parameter of a sufficient statistic of the global variables:

    concentration  alpha_k              (alpha_k - 1  of log pi_k)
    mean_precision beta_k               (of -1/2 mu'^T Lambda mu')
    scaled_mean    beta_k m'_k          (of Lambda mu')
    scatter        W_k^-1 + beta_k m'_k m'_k^T   (of -1/2 Lambda)
    dof            nu_k                 (nu_k - d  of 1/2 log|Lambda|)

  This is an affine reparametrisation of the natural parameters, so convex
  combinations (the SVI step) and the natural-gradient identity
  F^-1 grad = lambda_hat - lambda hold in it unchanged; centring keeps the
  scatter well conditioned when the data sit far from the origin.
  """
  concentration: jax.Array   # [K]
  mean_precision: jax.Array  # [K]
  scaled_mean: jax.Array     # [K, d]
  scatter: jax.Array         # [K, d, d]
  dof: jax.Array             # [K]


class Posterior(NamedTuple):
  """Moment form of `Natural`, named as sklearn's fitted attributes."""
  weights: jax.Array                # E[pi] = alpha / sum(alpha)
  weight_concentration: jax.Array   # alpha_k
  mean_precision: jax.Array         # beta_k
  means: jax.Array                  # m_k
  degrees_of_freedom: jax.Array     # nu_k
  covariances: jax.Array            # W_k^-1 / nu_k  (sklearn's covariances_)


def expected_stats(x, resp, prior: Prior) -> SuffStats:
  """The statistics s(r) of the complete conditional of the globals."""
  y = x - prior.mean
  return SuffStats(jnp.sum(resp, 0), resp.T @ y,
                   jnp.einsum('nk,nd,ne->kde', resp, y, y))


def natural_from_stats(stats: SuffStats, prior: Prior, scale=1.0,
                       reg_covar=0.0) -> Natural:
  """lambda_hat = lambda_0 + scale * s: the CAVI update (scale 1) or SVI's
  replicated-minibatch estimate (scale N/|S|).

  reg_covar > 0 adds scale N_k reg I to the scatter, sklearn's reg_covar.
  """
  d = stats.sum_x.shape[-1]
  counts = scale * stats.counts
  sum_xx = stats.sum_xx + reg_covar * stats.counts[:, None, None] * jnp.eye(
      d, dtype=stats.sum_xx.dtype)
  return Natural(prior.weight_concentration + counts,
                 prior.mean_precision + counts,
                 scale * stats.sum_x,
                 prior.covariance + scale * sum_xx,
                 prior.degrees_of_freedom + counts)


def prior_natural(prior: Prior, n_components) -> Natural:
  """lambda_0, the prior in the coordinates of `Natural`."""
  k, d = n_components, prior.mean.shape[0]
  zero = jnp.zeros((k,), prior.mean.dtype)
  return natural_from_stats(
      SuffStats(zero, jnp.zeros((k, d), zero.dtype),
                jnp.zeros((k, d, d), zero.dtype)), prior)


def _inverse_scale(lam: Natural):
  """W^-1 = scatter - beta m' m'^T and m' per component."""
  m = lam.scaled_mean / lam.mean_precision[:, None]
  return lam.scatter - lam.scaled_mean[:, :, None] * m[:, None, :], m


def posterior(lam: Natural, prior: Prior) -> Posterior:
  w_inv, m = _inverse_scale(lam)
  return Posterior(lam.concentration / jnp.sum(lam.concentration),
                   lam.concentration, lam.mean_precision, prior.mean + m,
                   lam.dof, w_inv / lam.dof[:, None, None])


def _wishart_expectations(lam: Natural):
  """(P with P P^T = W, m', E log|Lambda|, log|W^-1|) per component."""
  w_inv, m = _inverse_scale(lam)
  d = m.shape[-1]
  chol_w = precision_cholesky(w_inv)
  log_det_w_inv = -2.0 * _log_det_cholesky(chol_w)
  i = jnp.arange(d, dtype=m.dtype)
  e_log_det = (jnp.sum(digamma(0.5 * (lam.dof[:, None] - i)), -1)
               + d * math.log(2.0) - log_det_w_inv)
  return chol_w, m, e_log_det, log_det_w_inv


def _log_normaliser_nw(lam: Natural, log_det_w_inv):
  """A_NW per component, constants included (Lebesgue measure on mu and the
  free entries of Lambda)."""
  d = lam.scaled_mean.shape[-1]
  nu = lam.dof
  i = jnp.arange(d, dtype=nu.dtype)
  log_gamma_d = (0.25 * d * (d - 1) * math.log(math.pi)
                 + jnp.sum(gammaln(0.5 * (nu[:, None] - i)), -1))
  return (0.5 * d * _LOG_2PI - 0.5 * d * jnp.log(lam.mean_precision)
          + 0.5 * nu * d * math.log(2.0) - 0.5 * nu * log_det_w_inv
          + log_gamma_d)


def _log_normaliser_dirichlet(alpha):
  return jnp.sum(gammaln(alpha)) - gammaln(jnp.sum(alpha))


def log_normaliser(lam: Natural):
  """A(lambda) = A_Dir(alpha) + sum_k A_NW(lambda_k): its Hessian is the
  Fisher information of q (in these coordinates)."""
  return (_log_normaliser_dirichlet(lam.concentration)
          + jnp.sum(_log_normaliser_nw(lam, _wishart_expectations(lam)[3])))


def responsibilities(x, lam: Natural, prior: Prior):
  """The local CAVI step: log r_nk, normalised over k (Bishop 10.46-10.49).

  log rho_nk = E log pi_k + 1/2 E log|Lambda_k| - d/2 log 2pi
               - 1/2 (d / beta_k + nu_k |(x_n - m_k) P_k|^2).
  """
  d = x.shape[-1]
  chol_w, m, e_log_det, _ = _wishart_expectations(lam)
  alpha = lam.concentration
  e_log_pi = digamma(alpha) - digamma(jnp.sum(alpha))
  quad = (d / lam.mean_precision
          + lam.dof * _mahalanobis(x - prior.mean, m, chol_w))
  log_rho = e_log_pi + 0.5 * e_log_det - 0.5 * d * _LOG_2PI - 0.5 * quad
  return log_rho - logsumexp(log_rho, axis=1, keepdims=True)


def _prior_log_normaliser(prior: Prior, n_components):
  """A(lambda_0): one Cholesky of W_0^-1 rather than K of them."""
  chol = jnp.linalg.cholesky(prior.covariance)
  log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol)))
  one = prior_natural(prior, 1)
  alpha0 = jnp.full((n_components,), prior.weight_concentration)
  return (_log_normaliser_dirichlet(alpha0)
          + n_components * _log_normaliser_nw(one, log_det[None])[0])


def _elbo(stats: SuffStats, entropy, lam: Natural, prior: Prior):
  """The ELBO from s(r), H(r) and lambda; differentiable in lambda."""
  k, d = lam.scaled_mean.shape
  num_data = jnp.sum(stats.counts)
  chol_w, m, e_log_det, log_det_w_inv = _wishart_expectations(lam)
  alpha = lam.concentration
  e_log_pi = digamma(alpha) - digamma(jnp.sum(alpha))
  w = chol_w @ jnp.swapaxes(chol_w, -1, -2)                  # W
  e_prec = lam.dof[:, None, None] * w                        # E[Lambda]
  e_prec_mean = jnp.einsum('kde,ke->kd', e_prec, m)          # E[Lambda mu']
  e_quad = d / lam.mean_precision + jnp.einsum('kd,kd->k', e_prec_mean, m)
  lam0 = prior_natural(prior, k)
  # <lambda_0 + s - lambda, E T>, field by field; zero at lambda_hat(r).
  gap = (jnp.sum((lam0.concentration + stats.counts - alpha) * e_log_pi)
         + jnp.sum((stats.sum_x - lam.scaled_mean) * e_prec_mean)
         - 0.5 * jnp.sum((lam0.scatter + stats.sum_xx - lam.scatter) * e_prec)
         - 0.5 * jnp.sum((lam0.mean_precision + stats.counts
                          - lam.mean_precision) * e_quad)
         + 0.5 * jnp.sum((lam0.dof + stats.counts - lam.dof) * e_log_det))
  log_norm = (_log_normaliser_dirichlet(alpha)
              + jnp.sum(_log_normaliser_nw(lam, log_det_w_inv)))
  return (-0.5 * num_data * d * _LOG_2PI + gap + log_norm
          - _prior_log_normaliser(prior, k) + entropy)


def elbo(x, resp, lam: Natural, prior: Prior):
  """The ELBO of q(z) = resp [N, K] and the global q given by lam."""
  return _elbo(expected_stats(x, resp, prior), -jnp.sum(xlogy(resp, resp)),
               lam, prior)


def _elbo_at_update(lam: Natural, prior: Prior, num_data, entropy):
  """The ELBO at lambda = lambda_hat(r), where <lambda_0 + s - lambda, E T>
  vanishes: -N d/2 log 2pi + A(lambda) - A(lambda_0) + H(r). Only log|W^-1|
  is needed, not the expectations (about a third of `_elbo`'s compile
  time, which matters inside every fitted loop). With reg_covar > 0 lambda
  is not exactly lambda_hat(r) and this is sklearn's value, not an ELBO."""
  d = lam.scaled_mean.shape[-1]
  w_inv, _ = _inverse_scale(lam)
  log_det_w_inv = 2.0 * jnp.sum(jnp.log(jnp.diagonal(
      jnp.linalg.cholesky(w_inv), axis1=-2, axis2=-1)), -1)
  return (-0.5 * num_data * d * _LOG_2PI
          + _log_normaliser_dirichlet(lam.concentration)
          + jnp.sum(_log_normaliser_nw(lam, log_det_w_inv))
          - _prior_log_normaliser(prior, lam.concentration.shape[0]) + entropy)


def sklearn_bound_offset(prior: Prior, n_components, num_data):
  """Our ELBO minus sklearn's `lower_bound_` for the same fit (a constant)."""
  k, d = n_components, prior.mean.shape[0]
  a0 = _prior_log_normaliser(prior, k)
  return (k * (0.5 * d * _LOG_2PI + 0.25 * d * (d - 1) * math.log(math.pi))
          - a0 - 0.5 * num_data * d * _LOG_2PI)


# ----------------------------------------------------------------------------
# CAVI.


class CAVIState(NamedTuple):
  natural: Natural
  elbo: jax.Array  # ELBO of (the responsibilities used, natural)


class CAVIResult(NamedTuple):
  state: CAVIState
  elbo: jax.Array    # [max_iter] ELBO after each sweep, NaN after n_iter
  n_iter: jax.Array
  converged: jax.Array


def _global_update(x, resp, prior, scale, reg_covar):
  return natural_from_stats(expected_stats(x, resp, prior), prior, scale,
                            reg_covar)


def cavi_init(x, resp0, prior: Prior, reg_covar=0.0) -> CAVIState:
  """The global q from initial responsibilities (sklearn's `_initialize`)."""
  lam = _global_update(x, resp0, prior, 1.0, reg_covar)
  return CAVIState(lam, _elbo_at_update(lam, prior, x.shape[0],
                                        -jnp.sum(xlogy(resp0, resp0))))


def cavi_step(state: CAVIState, x, prior: Prior, reg_covar=0.0) -> CAVIState:
  """One sweep: responsibilities from the current q, then the global update
  lambda = lambda_0 + s(r). Each half maximises the ELBO in its block, so
  the recorded ELBO never decreases (with reg_covar = 0)."""
  log_resp = responsibilities(x, state.natural, prior)
  resp = jnp.exp(log_resp)
  lam = _global_update(x, resp, prior, 1.0, reg_covar)
  return CAVIState(lam, _elbo_at_update(lam, prior, x.shape[0],
                                        -jnp.sum(resp * log_resp)))


@functools.partial(jax.jit, static_argnames=('max_iter',))
def _cavi_loop(x, resp0, prior, tol, reg_covar, max_iter):
  state = cavi_init(x, resp0, prior, reg_covar)

  def cond(carry):
    _, _, i, _, done = carry
    return (i < max_iter) & ~done

  def body(carry):
    state, trace, i, prev, _ = carry
    state = cavi_step(state, x, prior, reg_covar)
    return (state, trace.at[i].set(state.elbo), i + 1, state.elbo,
            jnp.abs(state.elbo - prev) < tol)

  trace = jnp.full((max_iter,), jnp.nan, x.dtype)
  init = (state, trace, jnp.asarray(0), jnp.asarray(-jnp.inf, x.dtype),
          jnp.asarray(False))
  state, trace, n_iter, _, done = jax.lax.while_loop(cond, body, init)
  return CAVIResult(state, trace, n_iter, done)


@_float64
def fit_cavi(x, resp0, prior: Optional[Prior] = None, *, max_iter=100,
             tol=1e-3, reg_covar=0.0) -> CAVIResult:
  """CAVI sweeps from initial responsibilities until the ELBO changes by
  less than tol (sklearn's rule: the first sweep's change, from -inf, never
  stops it) or max_iter sweeps.

  Args:
    x: [N, d] data.
    resp0: [N, K] initial responsibilities; the initial q is their global
      update.
    prior: a `Prior`; default `make_prior(x, K)` (sklearn's defaults).
    max_iter, tol: as sklearn's BayesianGaussianMixture.
    reg_covar: see the module docstring; 0 keeps the ELBO exact.

  Returns:
    CAVIResult: final state, ELBO per sweep, n_iter, converged.
  """
  k = _num_components(resp0)
  x = check_data(x, k)
  check_resp(resp0, x.shape[0], k)
  _check_loop(max_iter, tol)
  _check_reg(reg_covar)
  prior = make_prior(x, k) if prior is None else Prior(
      *[jnp.asarray(a, x.dtype) for a in prior])
  return _cavi_loop(x, jnp.asarray(resp0, x.dtype), prior,
                    jnp.asarray(tol, x.dtype), jnp.asarray(reg_covar, x.dtype),
                    max_iter=int(max_iter))


# ----------------------------------------------------------------------------
# SVI.


class SVIState(NamedTuple):
  natural: Natural
  step: jax.Array  # t, updates done so far


class SVIResult(NamedTuple):
  state: SVIState
  elbo: jax.Array   # [num_steps // eval_every] full-data ELBO (optimal r)
  steps: jax.Array  # the step after which each ELBO was taken


def svi_init(x, resp0, prior: Prior, reg_covar=0.0) -> SVIState:
  return SVIState(cavi_init(x, resp0, prior, reg_covar).natural,
                  jnp.asarray(0))


def svi_step(state: SVIState, x_batch, num_data, rho, prior: Prior,
             reg_covar=0.0) -> SVIState:
  """One SVI step on a minibatch (Hoffman et al. 2013, Fig. 6).

  The local step is the exact CAVI E-step for the minibatch under the
  current global q; lambda_hat counts the minibatch N/|S| times, and the
  natural-gradient step of size rho is lambda + rho (lambda_hat - lambda).
  """
  log_resp = responsibilities(x_batch, state.natural, prior)
  scale = svi.replicate_scale(num_data, x_batch.shape[0])
  lam_hat = _global_update(x_batch, jnp.exp(log_resp), prior, scale,
                              reg_covar)
  return SVIState(svi.update(state.natural, lam_hat, rho), state.step + 1)


def full_elbo(x, lam: Natural, prior: Prior):
  """The ELBO of lam with the optimal responsibilities on all of x."""
  log_resp = responsibilities(x, lam, prior)
  resp = jnp.exp(log_resp)
  return _elbo(expected_stats(x, resp, prior), -jnp.sum(resp * log_resp),
               lam, prior)


@functools.partial(jax.jit, static_argnames=('num_evals', 'eval_every',
                                             'batch_size'))
def _svi_loop(key, x, resp0, prior, kappa, tau, reg_covar, num_evals,
              eval_every, batch_size):
  n = x.shape[0]
  state = svi_init(x, resp0, prior, reg_covar)

  def one_step(_, state):
    # Minibatch t is a pure function of (key, t), so a run can be resumed.
    idx = jax.random.choice(jax.random.fold_in(key, state.step), n,
                            (batch_size,), replace=False)
    rho = svi.step_size(state.step, kappa, tau).astype(x.dtype)
    return svi_step(state, x[idx], n, rho, prior, reg_covar)

  def chunk(state, _):
    state = jax.lax.fori_loop(0, eval_every, one_step, state)
    return state, (full_elbo(x, state.natural, prior), state.step)

  state, (trace, steps) = jax.lax.scan(chunk, state, None, length=num_evals)
  return SVIResult(state, trace, steps)


@_float64
def fit_svi(key, x, resp0, prior: Optional[Prior] = None, *, num_steps=1000,
            batch_size=100, kappa=0.7, tau=1.0, eval_every=100,
            reg_covar=0.0) -> SVIResult:
  """SVI with rho_t = (t + tau)^-kappa and minibatches drawn uniformly
  without replacement, from the global q of resp0's global update.

  Returns the final state and the full-data ELBO every eval_every steps
  (an O(N) pass each; it does not feed back into the updates).
  """
  svi.check_schedule(kappa, tau)
  k = _num_components(resp0)
  x = check_data(x, k)
  check_resp(resp0, x.shape[0], k)
  _check_reg(reg_covar)
  n = x.shape[0]
  if int(batch_size) != batch_size or not 1 <= batch_size <= n:
    raise ConfigError(f'batch_size={batch_size} must be an integer in [1, {n}]')
  if int(eval_every) != eval_every or eval_every < 1:
    raise ConfigError(f'eval_every={eval_every} must be a positive integer')
  if int(num_steps) != num_steps or num_steps < 1 or num_steps % eval_every:
    raise ConfigError(f'num_steps={num_steps} must be a positive multiple of '
                      f'eval_every={eval_every}')
  prior = make_prior(x, k) if prior is None else Prior(
      *[jnp.asarray(a, x.dtype) for a in prior])
  return _svi_loop(key, x, jnp.asarray(resp0, x.dtype), prior, kappa, tau,
                   jnp.asarray(reg_covar, x.dtype),
                   num_evals=int(num_steps // eval_every),
                   eval_every=int(eval_every), batch_size=int(batch_size))
