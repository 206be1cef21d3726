"""The VAE as one Flax module: q(z|x), optional IAF, p(z) and p(x|z).

`log_weight_terms(x_in, target, rng, k)` draws k posterior samples per example
and returns the three terms of log w = log p(x|z) + log p(z) - log q(z|x),
each [k, B]; every bound (ELBO, IWAE, the importance-sampled NLL) is built from
them in vae/bounds.py.

Stochastic layers follow the IWAE paper (arXiv:1509.00519 Sec. 5): one layer
x-200-200-z(50), or two, x-200-200-z1(100)-100-100-z2(50), with
q(z1|x) q(z2|z1) and p(z2) p(z1|z2) p(x|z1) mirrored. An IAF posterior
(vae/iaf.py) can follow q(z|x) in one-layer models.
"""
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from common import distributions
from common.errors import ConfigError
from vae import iaf as iaf_lib
from vae import networks


class VAE(nn.Module):
  """Gaussian-latent VAE with an MLP or convolutional encoder/decoder.

  Attributes:
    data_shape: shape of one example.
    likelihood: a vae.likelihoods.DecoderLikelihood (its params_per_dim sets
      the decoder's output channels).
    architecture: 'mlp' or 'conv'.
    latents: sizes of the stochastic layers, bottom-up, e.g. (50,) or (100, 50).
    hidden: deterministic widths per stochastic layer (MLP), e.g.
      ((200, 200), (100, 100)); for 'conv', ((dense,),) after conv_features.
    conv_features: channels of the stride-2 stages ('conv' only).
    activation: of the deterministic layers.
    iaf_steps: 0 for a diagonal Gaussian posterior, else IAF steps.
    iaf_hidden: MADE hidden widths of each IAF step.
    iaf_forget_bias: the positive bias on the gate (start near identity).
  """
  data_shape: Sequence[int]
  likelihood: Any
  architecture: str = 'mlp'
  latents: Sequence[int] = (50,)
  hidden: Sequence[Sequence[int]] = ((200, 200),)
  conv_features: Sequence[int] = (32, 64)
  activation: str = 'tanh'
  iaf_steps: int = 0
  iaf_hidden: Sequence[int] = (320, 320)
  iaf_forget_bias: float = 2.0

  def setup(self):
    if len(self.hidden) != len(self.latents):
      raise ConfigError(f'model.hidden has {len(self.hidden)} entries for '
                        f'{len(self.latents)} stochastic layers')
    if self.iaf_steps and len(self.latents) != 1:
      raise ConfigError('the IAF posterior is implemented for one stochastic '
                        'layer; set model.latents to a single size')
    p = self.likelihood.params_per_dim
    if self.architecture == 'mlp':
      self.encoder = networks.GaussianMLP(self.hidden[0], self.latents[0],
                                          self.activation)
      self.decoder = networks.MLPDecoder(self.hidden[0][::-1], self.data_shape,
                                         p, self.activation)
    elif self.architecture == 'conv':
      if len(self.latents) != 1:
        raise ConfigError('the conv VAE has one stochastic layer')
      dense = self.hidden[0][0]
      self.encoder = networks.ConvEncoder(self.conv_features, dense,
                                          self.latents[0], self.activation)
      self.decoder = networks.ConvDecoder(self.conv_features, dense,
                                          self.data_shape, p, self.activation)
    else:
      raise ConfigError(f'unknown architecture {self.architecture!r}; use mlp '
                        'or conv')
    # Upper stochastic layers: q(z_{l+1}|z_l) and p(z_l|z_{l+1}).
    self.up = [networks.GaussianMLP(self.hidden[l], self.latents[l],
                                    self.activation)
               for l in range(1, len(self.latents))]
    self.down = [networks.GaussianMLP(self.hidden[l][::-1], self.latents[l - 1],
                                      self.activation)
                 for l in range(1, len(self.latents))]
    if self.iaf_steps:
      self.iaf = iaf_lib.IAF(self.latents[0], self.iaf_steps, self.iaf_hidden,
                             self.iaf_forget_bias)

  def encode(self, x):
    """(mean, log_scale, h) of q(z_1|x), without sampling."""
    return self.encoder(x)

  def decode(self, z):
    """The decoder's likelihood parameters [N, *data_shape, params_per_dim]
    of p(x | z_1) for first-layer latents z [N, latents[0]]."""
    return self.decoder(z)

  def __call__(self, x, target, rng, k=1):
    return self.log_weight_terms(x, target, rng, k)

  def log_weight_terms(self, x, target, rng, k=1):
    """log p(x|z), log p(z), log q(z|x) for k samples per example: each [k, B].

    Also returns the first layer's posterior (mean, log_scale), [B, D], for
    the analytic KL and the active-units count.
    """
    b = x.shape[0]
    tile = lambda a: jnp.broadcast_to(a, (k,) + a.shape).reshape((k * b,) + a.shape[1:])
    mean, log_scale, h = self.encoder(x)
    rngs = jax.random.split(rng, len(self.latents))
    z = distributions.diagonal_normal_sample(rngs[0], tile(mean), tile(log_scale))
    log_q = distributions.diagonal_normal_log_prob(z, tile(mean), tile(log_scale))
    if self.iaf_steps:
      z, log_sigma_sum = self.iaf(z, tile(h))
      log_q = log_q - log_sigma_sum
    zs = [z]
    for l, q_net in enumerate(self.up):
      m, s, _ = q_net(zs[-1])
      z_next = distributions.diagonal_normal_sample(rngs[l + 1], m, s)
      log_q = log_q + distributions.diagonal_normal_log_prob(z_next, m, s)
      zs.append(z_next)
    log_p_z = distributions.standard_normal_log_prob(zs[-1])
    for l, p_net in enumerate(self.down):
      m, s, _ = p_net(zs[l + 1])
      log_p_z = log_p_z + distributions.diagonal_normal_log_prob(zs[l], m, s)
    params = self.decoder(zs[0])
    log_p_x = self.likelihood.log_prob(tile(target), params)
    shape = lambda a: a.reshape(k, b)
    return {'log_p_x': shape(log_p_x), 'log_p_z': shape(log_p_z),
            'log_q_z': shape(log_q), 'q_mean': mean, 'q_log_scale': log_scale}

  def log_joint(self, z, target):
    """log p(x, z) = log p(x|z) + log p(z) of a one-layer VAE: [B].

    The unnormalised posterior over z that HMC samples (hmc/run.py's
    vae_latent target, built with targets.from_log_joint).
    """
    if len(self.latents) != 1:
      raise ConfigError('log_joint is defined for one stochastic layer')
    return (self.likelihood.log_prob(target, self.decoder(z))
            + distributions.standard_normal_log_prob(z))

  def generate(self, rng, n):
    """Decoder parameters for n draws from the prior, top layer down."""
    rngs = jax.random.split(rng, len(self.latents))
    z = jax.random.normal(rngs[-1], (n, self.latents[-1]))
    for l in reversed(range(len(self.down))):
      m, s, _ = self.down[l](z)
      z = distributions.diagonal_normal_sample(rngs[l], m, s)
    return self.decoder(z)
