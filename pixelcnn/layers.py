"""Layers of the PixelCNN family.

* `MaskedConv`: a convolution whose kernel is multiplied by a causal mask
  with RGB channel groups (PixelCNN, arXiv:1601.06759 Sec. 3.4).
* `down_shift` / `right_shift` and the weight-normalised shifted
  convolutions of PixelCNN++ (arXiv:1701.05517 Sec. 2.4-2.5): causality by
  padding and cropping instead of masks.
* `WeightNormConv` / `WeightNormConvTranspose` / `WeightNormDense`: weight
  normalisation (Salimans & Kingma 2016, arXiv:1602.07868) with its
  data-dependent initialisation: at `init` the first batch sets the gain and
  bias so every pre-activation starts with zero mean and unit variance.
"""
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from pixelcnn import masks


def down_shift(x):
  """Moves every row down by one (zeros in the top row): row r sees < r."""
  return jnp.pad(x, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]


def right_shift(x):
  """Moves every column right by one (zeros in the first column)."""
  return jnp.pad(x, ((0, 0), (0, 0), (1, 0), (0, 0)))[:, :, :-1]


def concat_elu(x):
  """ELU of [x, -x] along channels (PixelCNN++ Sec. 2.5): keeps both signs."""
  return jax.nn.elu(jnp.concatenate([x, -x], -1))


def _conv(x, kernel, strides=(1, 1), padding=((0, 0), (0, 0))):
  return jax.lax.conv_general_dilated(
      x, kernel, strides, padding, dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


class MaskedConv(nn.Module):
  """A same-size convolution with a causal mask (see `masks.conv_mask`).

  `out_groups` (one id per output channel) defaults to contiguous groups;
  a gated layer passes its own so each gate half keeps the group layout.
  """
  features: int
  kernel_hw: Sequence[int]
  mask_type: str
  groups: int
  centre: Sequence[int] = ()
  out_groups: Sequence[int] = ()

  @nn.compact
  def __call__(self, x):
    kh, kw = self.kernel_hw
    cy, cx = self.centre or (kh // 2, kw // 2)
    in_groups = masks.group_ids(x.shape[-1], self.groups)
    out_groups = (np.asarray(self.out_groups) if len(self.out_groups)
                  else masks.group_ids(self.features, self.groups))
    mask = masks.conv_mask((kh, kw), in_groups, out_groups, self.mask_type,
                           (cy, cx))
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (kh, kw, x.shape[-1], self.features))
    bias = self.param('bias', nn.initializers.zeros, (self.features,))
    y = _conv(x, kernel * mask, padding=((cy, kh - 1 - cy), (cx, kw - 1 - cx)))
    return y + bias


def weight_normalize(v, axes):
  """v / ||v|| over `axes` (Salimans & Kingma 2016, arXiv:1602.07868): the
  direction of every weight-normalised layer, here and in the cached
  sampler (pixelcnn/cached_pp.py), which must compute the same weights."""
  return v / jnp.sqrt(jnp.sum(jnp.square(v), axes) + 1e-12)


def _data_dependent(module, name, y, init_scale, reduce_axes):
  """Gain g and bias b that whiten `y` (the normalised pre-activation).

  At init they are set from the batch so g * y + b has zero mean and
  variance init_scale^2 per channel; afterwards they are ordinary params.
  """
  mean = jnp.mean(y, reduce_axes)
  var = jnp.var(y, reduce_axes)
  g = module.param(f'{name}g', lambda _: init_scale / jnp.sqrt(var + 1e-10))
  b = module.param(f'{name}b', lambda _: -mean * g)
  return g, b


class WeightNormConv(nn.Module):
  """Weight-normalised convolution, explicit padding, optional stride."""
  features: int
  kernel_hw: Sequence[int]
  strides: Sequence[int] = (1, 1)
  padding: Sequence[Sequence[int]] = ((0, 0), (0, 0))
  init_scale: float = 1.0

  @nn.compact
  def __call__(self, x):
    shape = (*self.kernel_hw, x.shape[-1], self.features)
    v = self.param('v', nn.initializers.normal(0.05), shape)
    w = weight_normalize(v, (0, 1, 2))
    y = _conv(x, w, tuple(self.strides), tuple(map(tuple, self.padding)))
    g, b = _data_dependent(self, '', y, self.init_scale, (0, 1, 2))
    return g * y + b


class WeightNormConvTranspose(nn.Module):
  """Weight-normalised stride-s transposed convolution, 'VALID' padding:
  H -> (H - 1) * s + kh rows; the shifted wrappers crop it."""
  features: int
  kernel_hw: Sequence[int]
  strides: Sequence[int] = (2, 2)
  init_scale: float = 1.0

  @nn.compact
  def __call__(self, x):
    shape = (*self.kernel_hw, x.shape[-1], self.features)
    v = self.param('v', nn.initializers.normal(0.05), shape)
    w = weight_normalize(v, (0, 1, 2))
    y = jax.lax.conv_transpose(x, w, tuple(self.strides), 'VALID',
                               dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    g, b = _data_dependent(self, '', y, self.init_scale, (0, 1, 2))
    return g * y + b


class WeightNormDense(nn.Module):
  """Weight-normalised dense layer on the last axis (a 1x1 'nin' on images)."""
  features: int
  init_scale: float = 1.0

  @nn.compact
  def __call__(self, x):
    v = self.param('v', nn.initializers.normal(0.05),
                   (x.shape[-1], self.features))
    w = weight_normalize(v, 0)
    y = x @ w
    g, b = _data_dependent(self, '', y, self.init_scale,
                           tuple(range(y.ndim - 1)))
    return g * y + b


class DownShiftedConv(nn.Module):
  """Output (r, c) sees rows r-kh+1..r, columns c-kw//2..c+kw//2 (PixelCNN++)."""
  features: int
  kernel_hw: Sequence[int] = (2, 3)
  strides: Sequence[int] = (1, 1)
  init_scale: float = 1.0

  @nn.compact
  def __call__(self, x):
    kh, kw = self.kernel_hw
    return WeightNormConv(self.features, self.kernel_hw, self.strides,
                          ((kh - 1, 0), ((kw - 1) // 2, (kw - 1) // 2)),
                          self.init_scale)(x)


class DownRightShiftedConv(nn.Module):
  """Output (r, c) sees rows r-kh+1..r and columns c-kw+1..c."""
  features: int
  kernel_hw: Sequence[int] = (2, 2)
  strides: Sequence[int] = (1, 1)
  init_scale: float = 1.0

  @nn.compact
  def __call__(self, x):
    kh, kw = self.kernel_hw
    return WeightNormConv(self.features, self.kernel_hw, self.strides,
                          ((kh - 1, 0), (kw - 1, 0)), self.init_scale)(x)


class DownShiftedConvTranspose(nn.Module):
  """Stride-2 upsampling that keeps the down-shifted receptive field."""
  features: int
  kernel_hw: Sequence[int] = (2, 3)

  @nn.compact
  def __call__(self, x):
    kh, kw = self.kernel_hw
    h, w = x.shape[1] * 2, x.shape[2] * 2
    y = WeightNormConvTranspose(self.features, self.kernel_hw)(x)
    left = (kw - 1) // 2
    return y[:, :h, left:left + w]


class DownRightShiftedConvTranspose(nn.Module):
  """Stride-2 upsampling that keeps the down-right-shifted receptive field."""
  features: int
  kernel_hw: Sequence[int] = (2, 2)

  @nn.compact
  def __call__(self, x):
    h, w = x.shape[1] * 2, x.shape[2] * 2
    return WeightNormConvTranspose(self.features, self.kernel_hw)(x)[:, :h, :w]
