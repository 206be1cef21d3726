"""Invertible layers of Real NVP (Dinh, Sohl-Dickstein, Bengio 2017, arXiv:1605.08803).

Every bijector offers

  forward_and_log_det(x, train) -> (y, log|det dy/dx|)   log-det shape [B]
  inverse_and_log_det(y)        -> (x, log|det dx/dy|)

`forward` is the data-to-latent direction (the density is evaluated with it)
and `inverse` generates. Inverses always run in evaluation mode: batch
normalisation uses its running statistics there.
"""
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from common.distributions import sum_per_example


# ----------------------------------------------------------------------------
# Coupling networks s(.), t(.).


class WNConv(nn.Module):
  """Weight-normalised 2-D convolution, w = scale * v / ||v|| (Salimans & Kingma 2016).

  With `zero_init`, the gain `scale` starts at 0 so the layer outputs exactly
  its (zero) bias: the last layer of each coupling network uses it so that the
  coupling starts as the identity.
  """
  features: int
  kernel_size: Sequence[int] = (3, 3)
  zero_init: bool = False

  @nn.compact
  def __call__(self, x):
    in_features = x.shape[-1]
    v = self.param('kernel', nn.initializers.normal(0.05),
                   (*self.kernel_size, in_features, self.features))
    init = nn.initializers.zeros if self.zero_init else nn.initializers.ones
    scale = self.param('scale', init, (self.features,))
    bias = self.param('bias', nn.initializers.zeros, (self.features,))
    norm = jnp.sqrt(jnp.sum(jnp.square(v), axis=(0, 1, 2)) + 1e-12)
    w = v * (scale / norm)
    y = jax.lax.conv_general_dilated(
        x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    return y + bias


def _norm(kind, train, momentum, name=None):
  if kind == 'batch':
    return nn.BatchNorm(use_running_average=not train, momentum=momentum,
                        name=name)
  if kind == 'instance':
    return nn.GroupNorm(num_groups=None, group_size=1, name=name)
  if kind == 'none':
    return lambda h: h
  raise ValueError(f'unknown norm {kind!r}; use batch, instance or none')


class ResBlock(nn.Module):
  """Pre-activation residual block: h + conv(relu(norm(conv(relu(norm(h))))))."""
  features: int
  norm: str
  bn_momentum: float

  @nn.compact
  def __call__(self, h, train):
    norm = lambda: _norm(self.norm, train, self.bn_momentum)
    r = WNConv(self.features)(nn.relu(norm()(h)))
    r = WNConv(self.features)(nn.relu(norm()(r)))
    return h + r


class ResNetST(nn.Module):
  """The s/t network of the paper's image couplings: a weight-normalised ResNet.

  Outputs 2 * out_features channels: s (raw) and t. The blocks are unrolled:
  stacking them with `nn.scan` compiles faster but made the backward pass
  ~10x slower on CPU (measured, jax 0.10.2), which costs more than it saves.
  """
  out_features: int
  features: int = 64
  num_blocks: int = 8
  norm: str = 'batch'
  bn_momentum: float = 0.99

  @nn.compact
  def __call__(self, x, train):
    h = WNConv(self.features)(x)
    for _ in range(self.num_blocks):
      h = ResBlock(self.features, self.norm, self.bn_momentum)(h, train)
    h = nn.relu(_norm(self.norm, train, self.bn_momentum, name='out_norm')(h))
    return WNConv(2 * self.out_features, zero_init=True, name='out')(h)


class MLPST(nn.Module):
  """The s/t network of the 2-D couplings: an MLP with a zero-initialised head."""
  out_features: int
  hidden: int = 64
  num_layers: int = 2

  @nn.compact
  def __call__(self, x, train):
    del train
    h = x
    for _ in range(self.num_layers):
      h = nn.relu(nn.Dense(self.hidden)(h))
    return nn.Dense(2 * self.out_features, kernel_init=nn.initializers.zeros,
                    name='out')(h)


# ----------------------------------------------------------------------------
# Bijectors.


def checkerboard(height, width, parity):
  """Spatial mask b[h, w] = 1 where (h + w) % 2 == parity: the conditioning half."""
  hh, ww = np.meshgrid(np.arange(height), np.arange(width), indexing='ij')
  return ((hh + ww) % 2 == parity).astype(np.float32)[None, :, :, None]


class AffineCoupling(nn.Module):
  """y_b = x_b,  y_~b = x_~b * exp(s(x_b)) + t(x_b)  (Real NVP Eqs. 7-9).

  `mask='checkerboard'` conditions on alternate pixels of an image (the mask
  is fed to the network as an extra channel, so it knows which half it sees);
  `mask='channel'` conditions on one half of the last axis (image channels
  after a squeeze, or the coordinates of a vector). `parity` picks which half
  is transformed. The scale is s = rescale * tanh(s_raw) with a learnable
  per-channel `rescale`, which keeps exp(s) bounded early in training.
  """
  mask: str
  parity: int
  net: nn.Module  # Maps the conditioning input to 2 * net.out_features channels.

  def setup(self):
    self.rescale = self.param('rescale', nn.initializers.ones,
                              (self.net.out_features,))

  def _split(self, x):
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return (a, b) if self.parity == 0 else (b, a)

  def _merge(self, cond, trans):
    return (jnp.concatenate([cond, trans], -1) if self.parity == 0
            else jnp.concatenate([trans, cond], -1))

  def _scale_shift(self, cond_input, train):
    st = self.net(cond_input, train)
    s_raw, t = jnp.split(st, 2, axis=-1)
    return self.rescale * jnp.tanh(s_raw), t

  def _checkerboard_scale_shift(self, x, train):
    """s, t from the conditioning pixels; zero on the conditioning pixels."""
    b = checkerboard(x.shape[1], x.shape[2], self.parity)
    inp = jnp.concatenate([x * b, jnp.broadcast_to(b, x.shape[:-1] + (1,))], -1)
    s, t = self._scale_shift(inp, train)
    return s * (1 - b), t * (1 - b)

  def forward_and_log_det(self, x, train=False):
    if self.mask == 'checkerboard':
      s, t = self._checkerboard_scale_shift(x, train)
      return x * jnp.exp(s) + t, sum_per_example(s)
    cond, trans = self._split(x)
    s, t = self._scale_shift(cond, train)
    return self._merge(cond, trans * jnp.exp(s) + t), sum_per_example(s)

  def inverse_and_log_det(self, y):
    if self.mask == 'checkerboard':
      s, t = self._checkerboard_scale_shift(y, False)
      return (y - t) * jnp.exp(-s), -sum_per_example(s)
    cond, trans = self._split(y)
    s, t = self._scale_shift(cond, False)
    return self._merge(cond, (trans - t) * jnp.exp(-s)), -sum_per_example(s)


class FlowBatchNorm(nn.Module):
  """Batch normalisation on the flow path, with its log-det (Real NVP Sec. 3.7).

  y = (x - mu) / sqrt(var + eps) per channel (the last axis). In training mu
  and var are the batch statistics, treated as constants for the log-det as in
  the paper, and the running averages are updated (new = momentum * old +
  (1 - momentum) * batch); otherwise the running averages are used and the
  layer is an ordinary per-example affine bijection. No affine parameters:
  the next coupling can absorb them.
  """
  features: int  # Size of the last axis.
  momentum: float = 0.99
  eps: float = 1e-4

  def setup(self):
    self.ra_mean = self.variable('batch_stats', 'mean', jnp.zeros,
                                 (self.features,))
    self.ra_var = self.variable('batch_stats', 'var', jnp.ones,
                                (self.features,))

  def forward_and_log_det(self, x, train=False):
    ra_mean, ra_var = self.ra_mean, self.ra_var
    if train:
      axes = tuple(range(x.ndim - 1))
      mean = jnp.mean(x, axes)
      var = jnp.mean(jnp.square(x - mean), axes)
      if not self.is_initializing():
        m = self.momentum
        ra_mean.value = m * ra_mean.value + (1 - m) * mean
        ra_var.value = m * ra_var.value + (1 - m) * var
    else:
      mean, var = ra_mean.value, ra_var.value
    y = (x - mean) * jax.lax.rsqrt(var + self.eps)
    positions = int(np.prod(x.shape[1:-1]))
    log_det = -0.5 * positions * jnp.sum(jnp.log(var + self.eps))
    return y, jnp.full((x.shape[0],), log_det)

  def inverse_and_log_det(self, y):
    mean, var = self.ra_mean.value, self.ra_var.value
    x = y * jnp.sqrt(var + self.eps) + mean
    positions = int(np.prod(y.shape[1:-1]))
    log_det = 0.5 * positions * jnp.sum(jnp.log(var + self.eps))
    return x, jnp.full((y.shape[0],), log_det)


def squeeze(x):
  """Space-to-depth: [B, H, W, C] -> [B, H/2, W/2, 4C]; volume preserving."""
  b, h, w, c = x.shape
  x = x.reshape(b, h // 2, 2, w // 2, 2, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h // 2, w // 2, 4 * c)


def unsqueeze(x):
  """Depth-to-space, the inverse of `squeeze`."""
  b, h, w, c = x.shape
  x = x.reshape(b, h, w, 2, 2, c // 4)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, c // 4)


class Squeeze(nn.Module):
  """`squeeze` as a bijector (log-det 0), for use inside chains."""

  def forward_and_log_det(self, x, train=False):
    del train
    return squeeze(x), jnp.zeros((x.shape[0],))

  def inverse_and_log_det(self, y):
    return unsqueeze(y), jnp.zeros((y.shape[0],))
