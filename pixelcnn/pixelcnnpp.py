"""PixelCNN++ (Salimans, Karpathy, Chen, Kingma 2017, arXiv:1701.05517).

Two streams replace the masks: `u` sees the rows above (down-shifted
convolutions) and `ul` the rows above plus the pixels to the left on the
current row (down-right-shifted convolutions). A U-Net of gated resnet blocks
with concat_elu runs over three resolutions (stride-2 down- and up-sampling)
with shortcut connections from each up-pass block to its mirror in the down
pass (Sec. 2.4-2.5); dropout sits inside every block (Sec. 2.6), and every
layer is weight-normalised with data-dependent initialisation. The output is
the raw map of a `heads.LogisticMixtureHead` (per-pixel discretized logistic
mixture with linear channel coupling, Sec. 2.1-2.2).
"""
import flax.linen as nn
import jax
import jax.numpy as jnp

from common.errors import ConfigError
from pixelcnn import layers as L
from pixelcnn import network_config


def _twos(n):
  """The exponent of 2 in n > 0 (how often n halves exactly)."""
  return (n & -n).bit_length() - 1


def check_image_size(height, width, num_scales):
  """Raises ConfigError unless the U-Net's resolutions fit the image.

  Each of the num_scales - 1 stride-2 stages halves the image and the down
  pass doubles it back, so both sides must be divisible by 2^(num_scales-1);
  otherwise the two passes disagree on shapes deep inside the network.
  """
  if num_scales <= 1:
    return
  factor = 2**(num_scales - 1)
  bad = [f'{name} {n}' for name, n in (('height', height), ('width', width))
         if n % factor]
  if not bad:
    return
  fits = 1 + min(_twos(height), _twos(width))
  padded = (-(-height // factor) * factor, -(-width // factor) * factor)
  raise ConfigError(
      f'PixelCNN++ with model.num_scales={num_scales} halves the image '
      f'{num_scales - 1} time(s), so its height and width must be divisible by '
      f'2^{num_scales - 1}={factor}; the {height}x{width} image has '
      f'{" and ".join(bad)}: use model.num_scales <= {fits} or pad the images '
      f'to {padded[0]}x{padded[1]}')


class GatedResnet(nn.Module):
  """x + a * sigmoid(b), [a, b] = conv(dropout(concat_elu(conv(concat_elu(x))
  + nin(concat_elu(shortcut)))))  (PixelCNN++ code, `gated_resnet`)."""
  conv: type
  dropout: float
  num_classes: int = 0

  @nn.compact
  def __call__(self, x, shortcut=None, y=None, train=False):
    f = x.shape[-1]
    c = self.conv(f)(L.concat_elu(x))
    if shortcut is not None:
      c = c + L.WeightNormDense(f)(L.concat_elu(shortcut))
    c = L.concat_elu(c)
    c = nn.Dropout(self.dropout, deterministic=not train)(c)
    # A small initial scale starts each block near the identity.
    c = self.conv(2 * f, init_scale=0.1)(c)
    if self.num_classes:
      c = c + nn.Embed(self.num_classes, 2 * f)(y)[:, None, None, :]
    a, b = jnp.split(c, 2, -1)
    return x + a * jax.nn.sigmoid(b)


class PixelCNNPP(nn.Module):
  """The PixelCNN++ network: images as centres in [-1, 1] -> raw mixture map.

  `resnet_blocks` gated resnet blocks per stage, `filters` channels in
  every layer; 3 resolutions up, 3 down (the paper's "6 blocks of 5 ResNet
  layers", 160 filters, 10 components, dropout 0.5). Image height and width
  must be divisible by 2^(num_scales - 1) (`check_image_size`, a
  ConfigError at the first call otherwise). The fields (but head) are the
  config keys: `from_config(model_config, head)` builds it by keyword.
  """
  head: object
  filters: int = 160
  resnet_blocks: int = 5
  num_scales: int = 3
  dropout: float = 0.5
  num_classes: int = 0

  @classmethod
  def from_config(cls, model_config, head):
    """The network of a `pixelcnn_model('pixelcnnpp')` block, by keyword."""
    return network_config.from_config(cls, model_config, head)

  @nn.compact
  def __call__(self, x, y=None, train=False):
    check_image_size(x.shape[1], x.shape[2], self.num_scales)
    f = self.filters
    u_conv = lambda feat, init_scale=1.0: L.DownShiftedConv(
        feat, init_scale=init_scale)
    ul_conv = lambda feat, init_scale=1.0: L.DownRightShiftedConv(
        feat, init_scale=init_scale)
    block = lambda conv: GatedResnet(conv, self.dropout, self.num_classes)
    # A channel of ones marks the image inside the zero padding.
    x = jnp.concatenate([x, jnp.ones_like(x[..., :1])], -1)
    u = L.down_shift(L.DownShiftedConv(f, (2, 3))(x))
    ul = (L.down_shift(L.DownShiftedConv(f, (1, 3))(x))
          + L.right_shift(L.DownRightShiftedConv(f, (2, 1))(x)))
    us, uls = [u], [ul]
    # Up pass: full resolution, then each stride-2 downsampling.
    for scale in range(self.num_scales):
      if scale > 0:
        us.append(L.DownShiftedConv(f, strides=(2, 2))(us[-1]))
        uls.append(L.DownRightShiftedConv(f, strides=(2, 2))(uls[-1]))
      for _ in range(self.resnet_blocks):
        us.append(block(u_conv)(us[-1], y=y, train=train))
        uls.append(block(ul_conv)(uls[-1], us[-1], y=y, train=train))
    # Down pass: every block consumes its mirror's outputs as shortcuts.
    u, ul = us.pop(), uls.pop()
    for scale in range(self.num_scales):
      if scale > 0:
        u = L.DownShiftedConvTranspose(f)(u)
        ul = L.DownRightShiftedConvTranspose(f)(ul)
      for _ in range(self.resnet_blocks + (scale > 0)):
        u = block(u_conv)(u, us.pop(), y=y, train=train)
        ul = block(ul_conv)(ul, jnp.concatenate([u, uls.pop()], -1), y=y,
                            train=train)
    assert not us and not uls
    return L.WeightNormDense(self.head.num_outputs)(jax.nn.elu(ul))
