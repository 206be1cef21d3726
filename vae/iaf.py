"""Inverse autoregressive flow posterior (Kingma et al. 2016, arXiv:1606.04934).

Starting from z_0 ~ N(mu(x), sigma_0(x)^2), each step t computes
[m_t, s_t] = MADE_t(z_{t-1}, h) with the encoder's context h, and the
LSTM-style update of the paper's Eqs. 11-14:

  sigma_t = sigmoid(s_t + forget_bias),  z_t = sigma_t * z_{t-1} + (1 - sigma_t) * m_t.

m_t and s_t depend only on earlier dimensions, so dz_t/dz_{t-1} is triangular
with diagonal sigma_t and log q(z_T|x) = log q(z_0|x) - sum_t sum_i log sigma_t,i
exactly. The positive forget bias starts each step close to the identity,
which the paper found necessary for stable training (Kingma et al. 2016,
arXiv:1606.04934). The ordering is reversed
between steps so every dimension conditions on every other after two steps.
"""
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from flows.made import MADE
from vae import networks


class IAF(nn.Module):
  """`steps` IAF steps on z [N, D] with context h [N, C]."""
  latent: int
  steps: int
  hidden: Sequence[int]
  forget_bias: float = 2.0
  activation: str = 'elu'

  def setup(self):
    act = networks.activation_fn(self.activation)
    self.mades = [
        MADE(num_inputs=self.latent, hidden=tuple(self.hidden), params_per_dim=2,
             ordering='natural', direct=True, activation=act,
             zero_init_output=True)
        for t in range(self.steps)]

  def _gate(self, t, z, h):
    ms = self.mades[t](z, 0, h)
    m, s = ms[:, 0], ms[:, 1]
    return m, s + self.forget_bias

  def __call__(self, z, h):
    """Returns (z_T, sum_t sum_i log sigma_t,i): log q(z_T) = log q(z_0) - that."""
    log_sigma_sum = jnp.zeros(z.shape[0])
    for t in range(self.steps):
      if t > 0:
        z = z[:, ::-1]
      m, gate = self._gate(t, z, h)
      sigma = jax.nn.sigmoid(gate)
      z = sigma * z + (1.0 - sigma) * m
      log_sigma_sum = log_sigma_sum + jnp.sum(jax.nn.log_sigmoid(gate), -1)
    return z, log_sigma_sum

  def inverse(self, z, h):
    """z_0 from z_T, and the same log-sigma sum, by D sequential passes per step.

    Step t is z' = sigma(z) z + (1 - sigma(z)) m(z) with sigma_i, m_i functions
    of z_<i, so solving for z one dimension at a time is exact after D passes
    (pass j fixes dimension j given the correct earlier ones).
    """
    log_sigma_sum = jnp.zeros(z.shape[0])
    for t in reversed(range(self.steps)):
      target = z

      def solve(_, z_prev, t=t, target=target):
        m, gate = self._gate(t, z_prev, h)
        sigma = jax.nn.sigmoid(gate)
        return (target - (1.0 - sigma) * m) / sigma

      z = jax.lax.fori_loop(0, self.latent, solve, jnp.zeros_like(target))
      _, gate = self._gate(t, z, h)
      log_sigma_sum = log_sigma_sum + jnp.sum(jax.nn.log_sigmoid(gate), -1)
      if t > 0:
        z = z[:, ::-1]
    return z, log_sigma_sum
