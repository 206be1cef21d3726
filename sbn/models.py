"""Discrete-latent generative models: sigmoid belief networks with a
recognition network, and a VAE with categorical latents.

SBN (Neal 1992; as benchmarked by Mnih & Gregor 2014, arXiv:1402.0030,
Tucker et al. 2017, arXiv:1703.07370, Grathwohl et al. 2018,
arXiv:1711.00123): binary layers z_1..z_L above binary data x,

  p(x, z) = p(z_L) prod_l p(z_l | z_{l+1}) p(x | z_1),
  q(z | x) = q(z_1 | x) prod_l q(z_{l+1} | z_l),

every conditional a product of Bernoullis whose logits are an affine map of
the layer below or above ("linear"), or a two-hidden-layer tanh MLP
("nonlinear", `hidden` > 0); p(z_L) has learned logits. Methods take the
layers as a list [z_1, ..., z_L] of floats (relaxed values in [0, 1] are
allowed: every log-probability is the Bernoulli formula
z log sigma(l) + (1 - z) log sigma(-l)).

CategoricalVAE (Jang, Gu & Poole 2017, arXiv:1611.01144): `num_variables`
categorical latents of `num_categories` classes, uniform prior, MLP encoder
and decoder, Bernoulli pixels; z one-hot [B, N, K] (relaxed allowed).
"""
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from estimators.base import Bernoulli


def bernoulli_log_prob(logits, z):
  """log p(z | logits) per example [B] (z may be relaxed)."""
  return Bernoulli.log_prob(logits, z)


class _Conditional(nn.Module):
  """Logits of one layer given another: affine, or tanh MLP then affine."""
  features: int
  hidden: int = 0

  @nn.compact
  def __call__(self, h):
    h = 2.0 * h - 1.0  # {0, 1} -> {-1, 1}: centred inputs.
    if self.hidden:
      h = jnp.tanh(nn.Dense(self.hidden)(h))
      h = jnp.tanh(nn.Dense(self.hidden)(h))
    return nn.Dense(self.features)(h)


class SBN(nn.Module):
  """A sigmoid belief network with stochastic `layers` (bottom first) over
  `data_dim` binary pixels, and its recognition network."""
  data_dim: int = 784
  layers: Sequence[int] = (200,)
  hidden: int = 0            # 0: linear; > 0: two tanh layers of this width.

  def setup(self):
    sizes = (self.data_dim, *self.layers)
    # generative[l]: logits of layer l (0 = x) given layer l + 1.
    self.generative = [_Conditional(sizes[l], self.hidden)
                       for l in range(len(self.layers))]
    # recognition[l]: logits of layer l + 1 given layer l (0 = x).
    self.recognition = [_Conditional(sizes[l + 1], self.hidden)
                        for l in range(len(self.layers))]
    self.prior = self.param('prior', nn.initializers.zeros, (self.layers[-1],))

  def __call__(self, x):
    """Initialises every parameter: the q and p logits of a zero sample."""
    zs = [jnp.zeros((x.shape[0], d)) for d in self.layers]
    return self.log_joint(x, zs) + self.log_q(x, zs)

  def q_logits(self, level, below):
    """Logits of q(z_{level+1} | z_level) (level 0: the data)."""
    return self.recognition[level](below)

  def log_q(self, x, zs):
    """log q(z_1..z_L | x) [B]."""
    below, total = x, 0.0
    for l, z in enumerate(zs):
      total = total + bernoulli_log_prob(self.recognition[l](below), z)
      below = z
    return total

  def log_joint(self, x, zs):
    """log p(x, z_1..z_L) [B]."""
    total = bernoulli_log_prob(jnp.broadcast_to(self.prior, zs[-1].shape), zs[-1])
    below = [x, *zs[:-1]]
    for l in range(len(zs)):
      total = total + bernoulli_log_prob(self.generative[l](zs[l]), below[l])
    return total

  def sample_q(self, key, x):
    """Ancestral z ~ q(z | x): the list of layers."""
    zs, below = [], x
    for l, key_l in enumerate(jax.random.split(key, len(self.layers))):
      below = Bernoulli.sample(key_l, self.recognition[l](below))
      zs.append(below)
    return zs

  def sample_p(self, key, n):
    """Ancestral (x, z) ~ p: x [n, data_dim] and the list of layers."""
    keys = jax.random.split(key, len(self.layers) + 1)
    z = Bernoulli.sample(keys[-1], jnp.broadcast_to(self.prior, (n, self.layers[-1])))
    zs = [z]
    for l in reversed(range(len(self.layers))):
      z = Bernoulli.sample(keys[l], self.generative[l](z))
      zs.insert(0, z)
    return zs[0], zs[1:]

  def x_logits(self, z1):
    """Logits of p(x | z_1) (for mean images)."""
    return self.generative[0](z1)


class CategoricalVAE(nn.Module):
  """Categorical latents [B, N, K] between MLP encoder and decoder."""
  data_dim: int = 784
  num_variables: int = 20
  num_categories: int = 10
  hidden: Sequence[int] = (512, 256)

  def setup(self):
    self.encoder = [nn.Dense(h) for h in self.hidden]
    self.encoder_out = nn.Dense(self.num_variables * self.num_categories)
    self.decoder = [nn.Dense(h) for h in reversed(self.hidden)]
    self.decoder_out = nn.Dense(self.data_dim)

  def __call__(self, x):
    logits = self.q_logits(x)
    return self.log_px(x, jax.nn.softmax(logits)) + jnp.sum(logits)

  def q_logits(self, x):
    h = 2.0 * x - 1.0
    for layer in self.encoder:
      h = jax.nn.relu(layer(h))
    return self.encoder_out(h).reshape(-1, self.num_variables, self.num_categories)

  def x_logits(self, z):
    h = z.reshape(z.shape[0], -1)
    for layer in self.decoder:
      h = jax.nn.relu(layer(h))
    return self.decoder_out(h)

  def log_px(self, x, z):
    """log p(x | z) [B]."""
    return bernoulli_log_prob(self.x_logits(z), x)

  def kl(self, logits):
    """KL(q(z | x) || uniform) [B], analytic."""
    log_q = jax.nn.log_softmax(logits)
    kl = jnp.sum(jnp.exp(log_q) * (log_q + jnp.log(self.num_categories)), -1)
    return jnp.sum(kl, -1)
