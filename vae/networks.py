"""Encoders and decoders: the IWAE paper's MLPs and a convolutional pair.

MLP (Burda et al. 2016, arXiv:1509.00519 Sec. 5): deterministic layers of
`hidden` units with tanh, a diagonal-Gaussian head for q(z|x), and a mirrored
decoder. Convolutional: stride-2 convolutions down, a dense layer, and
transposed convolutions back up, for image likelihoods (CIFAR-10).
"""
from typing import Sequence

import flax.linen as nn
import numpy as np

from common.errors import ConfigError


def activation_fn(name):
  fns = {'tanh': nn.tanh, 'relu': nn.relu, 'elu': nn.elu,
         'softplus': nn.softplus}
  if name not in fns:
    raise ConfigError(f'unknown activation {name!r}; use one of {sorted(fns)}')
  return fns[name]


class MLP(nn.Module):
  """Dense layers with an activation after each; input flattened to [N, -1]."""
  hidden: Sequence[int]
  activation: str = 'tanh'

  @nn.compact
  def __call__(self, x):
    h = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      h = activation_fn(self.activation)(nn.Dense(width)(h))
    return h


class GaussianHead(nn.Module):
  """Dense layer to the mean and log standard deviation of a diagonal Gaussian."""
  latent: int

  @nn.compact
  def __call__(self, h):
    mean = nn.Dense(self.latent, name='mean')(h)
    log_scale = nn.Dense(self.latent, name='log_scale')(h)
    return mean, log_scale


class GaussianMLP(nn.Module):
  """x -> MLP -> (mean, log_scale, h): q(z|x), or p(z1|z2) in 2-layer models.

  h, the last hidden layer, is the context IAF steps condition on.
  """
  hidden: Sequence[int]
  latent: int
  activation: str = 'tanh'

  @nn.compact
  def __call__(self, x):
    h = MLP(self.hidden, self.activation)(x)
    mean, log_scale = GaussianHead(self.latent)(h)
    return mean, log_scale, h


class MLPDecoder(nn.Module):
  """z -> MLP -> likelihood parameters [N, *data_shape, params_per_dim]."""
  hidden: Sequence[int]
  data_shape: Sequence[int]
  params_per_dim: int
  activation: str = 'tanh'

  @nn.compact
  def __call__(self, z):
    h = MLP(self.hidden, self.activation)(z)
    out = nn.Dense(int(np.prod(self.data_shape)) * self.params_per_dim)(h)
    return out.reshape(z.shape[0], *self.data_shape, self.params_per_dim)


def _check_divisible(data_shape, num_down):
  h, w = data_shape[:2]
  if h % 2**num_down or w % 2**num_down:
    raise ConfigError(f'a conv VAE with {num_down} stride-2 layers needs image '
                      f'sides divisible by {2**num_down}; got {h}x{w}')


class ConvEncoder(nn.Module):
  """Images -> stride-2 convs -> dense -> (mean, log_scale, h)."""
  features: Sequence[int]
  dense: int
  latent: int
  activation: str = 'elu'

  @nn.compact
  def __call__(self, x):
    _check_divisible(x.shape[1:], len(self.features))
    act = activation_fn(self.activation)
    h = x
    for f in self.features:
      h = act(nn.Conv(f, (3, 3))(h))
      h = act(nn.Conv(f, (3, 3), strides=(2, 2))(h))
    h = act(nn.Dense(self.dense)(h.reshape(h.shape[0], -1)))
    mean, log_scale = GaussianHead(self.latent)(h)
    return mean, log_scale, h


class ConvDecoder(nn.Module):
  """z -> dense -> transposed stride-2 convs -> [N, H, W, C, params_per_dim]."""
  features: Sequence[int]  # Listed as in the encoder (bottom-up).
  dense: int
  data_shape: Sequence[int]
  params_per_dim: int
  activation: str = 'elu'

  @nn.compact
  def __call__(self, z):
    _check_divisible(self.data_shape, len(self.features))
    act = activation_fn(self.activation)
    height, width, channels = self.data_shape
    scale = 2**len(self.features)
    top = self.features[-1]
    h = act(nn.Dense(self.dense)(z))
    h = act(nn.Dense(height // scale * width // scale * top)(h))
    h = h.reshape(z.shape[0], height // scale, width // scale, top)
    for f in reversed(self.features):
      h = act(nn.ConvTranspose(f, (3, 3), strides=(2, 2))(h))
      h = act(nn.Conv(f, (3, 3))(h))
    out = nn.Conv(channels * self.params_per_dim, (1, 1))(h)
    return out.reshape(z.shape[0], height, width, channels, self.params_per_dim)
