"""Leapfrog (velocity Verlet) integration of Hamiltonian dynamics with a
diagonal or dense mass matrix (Neal 2011, "MCMC using Hamiltonian dynamics",
arXiv:1206.1901, Sec. 2.3 and 4.1).

H(q, p) = U(q) + K(p), U = -log pi(q), K(p) = p^T M^{-1} p / 2. Positions and
momenta are flat float vectors (the kernels ravel pytrees once at their
boundary). The metric is given by the inverse mass matrix: a vector for a
diagonal M, a matrix for a dense one. The kinetic energy and the velocity
always use the same M^{-1} that the momentum was drawn with (drawing p with
one scale and using sum(p^2)/2 for the energy samples the wrong target;
Neal 2011, arXiv:1206.1901).
"""
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


class Metric(NamedTuple):
  """M^{-1} and the three things HMC needs from it."""
  inverse_mass: jax.Array  # [d] (diagonal) or [d, d] (dense).

  @property
  def dense(self):
    return self.inverse_mass.ndim == 2

  def velocity(self, p):
    """dq/dt = M^{-1} p."""
    return self.inverse_mass @ p if self.dense else self.inverse_mass * p

  def kinetic_energy(self, p):
    return 0.5 * jnp.dot(p, self.velocity(p))

  def sample_momentum(self, rng, like):
    """p ~ N(0, M): M^{1/2} eps with M = (M^{-1})^{-1}."""
    eps = jax.random.normal(rng, like.shape, like.dtype)
    if self.dense:
      # With M^{-1} = L L^T, M = L^{-T} L^{-1}; p = L^{-T} eps has cov M.
      chol = jnp.linalg.cholesky(self.inverse_mass)
      return jax.scipy.linalg.solve_triangular(chol, eps, trans='T', lower=True)
    return eps / jnp.sqrt(self.inverse_mass)


class IntegratorState(NamedTuple):
  position: jax.Array
  momentum: jax.Array
  logdensity: jax.Array
  logdensity_grad: jax.Array


def leapfrog_step(logdensity_and_grad: Callable, metric: Metric,
                  state: IntegratorState, step_size) -> IntegratorState:
  """One velocity-Verlet step: half kick, drift, half kick (one gradient).

  A negative step size integrates backwards in time (NUTS uses both).
  """
  p = state.momentum + 0.5 * step_size * state.logdensity_grad
  q = state.position + step_size * metric.velocity(p)
  logdensity, grad = logdensity_and_grad(q)
  p = p + 0.5 * step_size * grad
  return IntegratorState(q, p, logdensity, grad)


def leapfrog(logdensity_and_grad: Callable, metric: Metric,
             state: IntegratorState, step_size, num_steps: int) -> IntegratorState:
  """`num_steps` leapfrog steps as one loop (a `lax.scan` when num_steps
  is a Python int, a while loop when it is traced).

  Adjacent half kicks are merged: a half kick, then num_steps - 1 full
  (drift, kick) pairs, a last drift and a closing half kick; num_steps
  gradient evaluations in all (the leapfrog of Neal 2011, arXiv:1206.1901;
  ending on a full kick would not be the same, time-reversible map).
  """
  p = state.momentum + 0.5 * step_size * state.logdensity_grad
  q = state.position

  def drift_kick(_, carry):
    q, p, _, _ = carry
    q = q + step_size * metric.velocity(p)
    logdensity, grad = logdensity_and_grad(q)
    return q, p + step_size * grad, logdensity, grad

  init = (q, p, state.logdensity, state.logdensity_grad)
  # A scan for a Python int; a while loop for a traced count (ChEES).
  q, p, _, _ = jax.lax.fori_loop(0, num_steps - 1, drift_kick, init)
  q = q + step_size * metric.velocity(p)
  logdensity, grad = logdensity_and_grad(q)
  return IntegratorState(q, p + 0.5 * step_size * grad, logdensity, grad)
