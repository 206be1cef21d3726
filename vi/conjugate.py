"""Small conjugate models whose CAVI has known answers, as checks of the
machinery in vi/mixture.py and vi/svi.py.

* A correlated 2-D Gaussian under a factorised q (Bishop PRML 10.1.2): the
  fixed point has the exact means and variances 1/Lambda_ii (too small).
* The univariate Normal-Gamma (Bishop PRML 10.1.3): q(mu) q(tau), whose
  fixed point is closed form.
* The Bayesian mixture of unit-variance Gaussians (Blei, Kucukelbir &
  McAuliffe 2017, arXiv:1601.00670, Sec. 3): mu_k ~ N(0, s0^2),
  c_i ~ Cat(1/K), x_i ~ N(mu_{c_i}, 1), with q(mu_k) = N(m_k, s_k^2) in
  natural parameters (m/s^2, -1/(2 s^2)) so that the SVI identities
  (Hoffman et al. 2013, arXiv:1206.7051) can be checked on it.

Pure functions on jnp arrays; the caller jits.
"""
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy

_LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------
# Factorised Gaussian.


def factorised_gaussian_cavi(mean, precision, m_init, num_sweeps):
  """CAVI for q(z1) q(z2) ~ N(mean, precision^-1) (Bishop 10.12-10.13).

  Returns (m, s^2): the coordinate means after num_sweeps sweeps and the
  (fixed) variances 1 / Lambda_ii.
  """
  p = precision

  def sweep(_, m):
    m1 = mean[0] - p[0, 1] / p[0, 0] * (m[1] - mean[1])
    m2 = mean[1] - p[1, 0] / p[1, 1] * (m1 - mean[0])
    return jnp.stack([m1, m2])

  m = jax.lax.fori_loop(0, num_sweeps, sweep, jnp.asarray(m_init))
  return m, 1.0 / jnp.diagonal(p)


# ----------------------------------------------------------------------------
# Normal-Gamma.


class NormalGammaPrior(NamedTuple):
  """mu | tau ~ N(mu0, (lambda0 tau)^-1), tau ~ Gamma(a0, rate b0)."""
  mu0: float
  lambda0: float
  a0: float
  b0: float


class NormalGammaQ(NamedTuple):
  """q(mu) = N(mu_n, 1/lambda_n), q(tau) = Gamma(a_n, rate b_n)."""
  mu_n: jax.Array
  lambda_n: jax.Array
  a_n: jax.Array
  b_n: jax.Array


def normal_gamma_step(q: NormalGammaQ, x, prior: NormalGammaPrior):
  """One sweep, q(mu) then q(tau) (Bishop 10.26-10.30)."""
  n = x.shape[0]
  mu0, lambda0, a0, b0 = prior
  mu_n = (lambda0 * mu0 + jnp.sum(x)) / (lambda0 + n)
  lambda_n = (lambda0 + n) * q.a_n / q.b_n
  a_n = a0 + 0.5 * (n + 1)
  e_sq = (jnp.sum((x - mu_n) ** 2) + n / lambda_n
          + lambda0 * ((mu_n - mu0) ** 2 + 1.0 / lambda_n))
  return NormalGammaQ(mu_n, lambda_n, a_n, b0 + 0.5 * e_sq)


def normal_gamma_fixed_point(x, prior: NormalGammaPrior) -> NormalGammaQ:
  """The CAVI fixed point in closed form.

  mu_N = (lambda0 mu0 + N xbar) / (lambda0 + N) and a_N = a0 + (N + 1)/2 do
  not move. With C = sum_n (x_n - mu_N)^2 + lambda0 (mu_N - mu0)^2,
  b_N = b0 + C/2 + (N + lambda0) / (2 lambda_N) and lambda_N =
  (lambda0 + N) E[tau] give b_N = b0 + C/2 + 1/(2 E[tau]); with
  E[tau] = a_N / b_N that is E[tau] = (a0 + N/2) / (b0 + C/2).
  """
  n = x.shape[0]
  mu0, lambda0, a0, b0 = prior
  mu_n = (lambda0 * mu0 + jnp.sum(x)) / (lambda0 + n)
  c = jnp.sum((x - mu_n) ** 2) + lambda0 * (mu_n - mu0) ** 2
  e_tau = (a0 + 0.5 * n) / (b0 + 0.5 * c)
  a_n = a0 + 0.5 * (n + 1)
  return NormalGammaQ(mu_n, (lambda0 + n) * e_tau, a_n, a_n / e_tau)


# ----------------------------------------------------------------------------
# Mixture of unit-variance Gaussians.


def ugmm_moments(lam):
  """(m, s^2) [K] from natural parameters lam [K, 2] = (m/s^2, -1/(2 s^2))."""
  s2 = -0.5 / lam[:, 1]
  return lam[:, 0] * s2, s2


def ugmm_natural(m, s2):
  return jnp.stack([m / s2, -0.5 / s2], -1)


def ugmm_log_normaliser(lam):
  """A(eta) = sum_k -eta1^2 / (4 eta2) - 1/2 log(-2 eta2) (+ 1/2 log 2pi)
  for the statistics (mu, mu^2); its Hessian is the Fisher of q(mu)."""
  return jnp.sum(-lam[:, 0] ** 2 / (4 * lam[:, 1])
                 - 0.5 * jnp.log(-2 * lam[:, 1]) + 0.5 * _LOG_2PI)


def ugmm_responsibilities(x, lam):
  """phi_ik ∝ exp(m_k x_i - (m_k^2 + s_k^2) / 2), as log phi [N, K]."""
  m, s2 = ugmm_moments(lam)
  return jax.nn.log_softmax(x[:, None] * m - 0.5 * (m ** 2 + s2), axis=1)


def ugmm_lambda_hat(x, phi, prior_var, scale=1.0):
  """E_q[eta_g] = (sum_i phi_ik x_i, -1/2 (1/s0^2 + sum_i phi_ik)), with the
  statistics counted `scale` times (SVI's N/|S|)."""
  return jnp.stack([scale * phi.T @ x,
                    -0.5 * (1.0 / prior_var + scale * jnp.sum(phi, 0))], -1)


def ugmm_elbo(x, phi, lam, prior_var):
  """The ELBO of q(c) = phi and q(mu) = lam (Blei et al. 2017, eq. 21)."""
  k = phi.shape[1]
  m, s2 = ugmm_moments(lam)
  e_log_prior = jnp.sum(-0.5 * jnp.log(2 * math.pi * prior_var)
                        - (m ** 2 + s2) / (2 * prior_var))
  e_log_lik = (-0.5 * _LOG_2PI
               - 0.5 * (x[:, None] ** 2 - 2 * x[:, None] * m + m ** 2 + s2))
  return (e_log_prior - x.shape[0] * math.log(k) + jnp.sum(phi * e_log_lik)
          - jnp.sum(xlogy(phi, phi))
          + jnp.sum(0.5 * jnp.log(2 * math.pi * math.e * s2)))


def ugmm_cavi(x, lam_init, prior_var, num_sweeps):
  """num_sweeps CAVI sweeps; returns (lam, phi, ELBO after each half-sweep
  [num_sweeps, 2]: after the phi update, after the mu update)."""
  def sweep(lam, _):
    phi = jnp.exp(ugmm_responsibilities(x, lam))
    half = ugmm_elbo(x, phi, lam, prior_var)
    lam = ugmm_lambda_hat(x, phi, prior_var)
    return lam, jnp.stack([half, ugmm_elbo(x, phi, lam, prior_var)])

  lam, trace = jax.lax.scan(sweep, lam_init, None, length=num_sweeps)
  return lam, jnp.exp(ugmm_responsibilities(x, lam)), trace
