"""Real NVP models (Dinh, Sohl-Dickstein, Bengio 2017, arXiv:1605.08803).

`RealNVP` is the paper's multi-scale image architecture (Sec. 3.6): at each
scale, 3 checkerboard couplings, a squeeze, 3 channel couplings, then half of
the channels are factored out to the latent; the last scale has 4 checkerboard
couplings. `RealNVP2D` is a stack of MLP couplings for 2-D points.

Both map data to a flat latent z [B, D] with a standard normal prior and offer
`forward` (x -> z, log-det), `inverse` (z -> x), `log_prob` and `sample`.
Images are expected already in the model's space (e.g. after the logit
transform of flows/objective.py).
"""
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from common import distributions
from common.errors import ConfigError
from flows import bijectors


class _Flow(nn.Module):
  """Shared density/sampling methods on top of `forward` and `inverse`."""

  def log_prob(self, x, train=False):
    z, log_det = self.forward(x, train)
    return distributions.standard_normal_log_prob(z) + log_det

  def sample(self, rng, num, temperature=1.0):
    z = temperature * jax.random.normal(rng, (num, self.num_dims))
    x, _ = self.inverse(z)
    return x

  @property
  def num_dims(self):
    return int(np.prod(self.data_shape))


class RealNVP(_Flow):
  """The multi-scale image flow. `data_shape` is (H, W, C)."""
  data_shape: Sequence[int]
  num_scales: int = 3
  features: int = 64
  num_blocks: int = 8
  net_norm: str = 'batch'
  flow_batch_norm: bool = True
  bn_momentum: float = 0.99

  def setup(self):
    h, w, c = self.data_shape
    if h % 2 ** (self.num_scales - 1) or w % 2 ** (self.num_scales - 1):
      raise ConfigError(f'image size {h}x{w} cannot be squeezed '
                        f'{self.num_scales - 1} times (model.num_scales='
                        f'{self.num_scales}); use fewer scales')
    scales, shapes = [], []
    for i in range(self.num_scales):
      final = i == self.num_scales - 1
      layers = []
      for j in range(4 if final else 3):
        layers += self._coupling('checkerboard', j % 2, c, c)
      if not final:
        layers.append(bijectors.Squeeze())
        h, w, c = h // 2, w // 2, 4 * c
        for j in range(3):
          layers += self._coupling('channel', j % 2, c // 2, c)
      scales.append(layers)
      shapes.append((h, w, c))
      c = c if final else c // 2
    self.scales = scales
    self.scale_shapes = shapes

  def _coupling(self, mask, parity, out_channels, channels):
    net = bijectors.ResNetST(out_channels, self.features, self.num_blocks,
                             self.net_norm, self.bn_momentum)
    layers = [bijectors.AffineCoupling(mask, parity, net)]
    if self.flow_batch_norm:
      layers.append(bijectors.FlowBatchNorm(channels, self.bn_momentum))
    return layers

  def forward(self, x, train=False):
    """x [B, H, W, C] -> (z [B, D], log|det dz/dx| [B])."""
    log_det = jnp.zeros((x.shape[0],))
    zs = []
    for i, layers in enumerate(self.scales):
      for layer in layers:
        x, ld = layer.forward_and_log_det(x, train)
        log_det += ld
      if i < self.num_scales - 1:  # Factor out half of the channels.
        half = x.shape[-1] // 2
        zs.append(x[..., :half].reshape(x.shape[0], -1))
        x = x[..., half:]
    zs.append(x.reshape(x.shape[0], -1))
    return jnp.concatenate(zs, axis=-1), log_det

  def inverse(self, z):
    """z [B, D] -> (x [B, H, W, C], log|det dx/dz| [B]); evaluation mode."""
    sizes = []
    for i, (h, w, c) in enumerate(self.scale_shapes):
      sizes.append(h * w * (c // 2 if i < self.num_scales - 1 else c))
    parts = jnp.split(z, np.cumsum(sizes)[:-1], axis=-1)
    log_det = jnp.zeros((z.shape[0],))
    x = None
    for i in reversed(range(self.num_scales)):
      h, w, c = self.scale_shapes[i]
      if i == self.num_scales - 1:
        x = parts[i].reshape(-1, h, w, c)
      else:
        x = jnp.concatenate([parts[i].reshape(-1, h, w, c // 2), x], axis=-1)
      for layer in reversed(self.scales[i]):
        x, ld = layer.inverse_and_log_det(x)
        log_det += ld
    return x, log_det


class RealNVP2D(_Flow):
  """Affine MLP couplings that alternate which coordinate half is transformed."""
  data_shape: Sequence[int] = (2,)
  num_couplings: int = 8
  hidden: int = 64
  num_layers: int = 2
  flow_batch_norm: bool = False
  bn_momentum: float = 0.99

  def setup(self):
    d = self.data_shape[-1]
    layers = []
    for i in range(self.num_couplings):
      parity = i % 2
      out = d - d // 2 if parity == 0 else d // 2
      net = bijectors.MLPST(out, self.hidden, self.num_layers)
      layers.append(bijectors.AffineCoupling('channel', parity, net))
      if self.flow_batch_norm:
        layers.append(bijectors.FlowBatchNorm(d, self.bn_momentum))
    self.layers = layers

  def forward(self, x, train=False):
    log_det = jnp.zeros((x.shape[0],))
    for layer in self.layers:
      x, ld = layer.forward_and_log_det(x, train)
      log_det += ld
    return x, log_det

  def inverse(self, z):
    log_det = jnp.zeros((z.shape[0],))
    for layer in reversed(self.layers):
      z, ld = layer.inverse_and_log_det(z)
      log_det += ld
    return z, log_det
