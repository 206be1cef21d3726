"""PixelCNN (van den Oord et al. 2016, arXiv:1601.06759) and Gated PixelCNN
(van den Oord et al. 2016, arXiv:1606.05328).

Both take images as bin centres in [-1, 1], shape [B, H, W, C], and return
the raw output map [B, H, W, head.num_outputs] of a `heads.SoftmaxHead`,
whose colour group c only sees the context of sub-pixel c. Their fields
(but head) are their config keys: `from_config(model_config, head)` builds
one from its model block by keyword (configs/common.py `pixelcnn_model`).
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from pixelcnn import masks
from pixelcnn import network_config
from pixelcnn.layers import MaskedConv, down_shift


class PixelCNN(nn.Module):
  """The PixelCNN of arXiv:1601.06759 Sec. 3.5 / Table 4.

  A k x k mask-A convolution with 2h features, residual blocks of
  (ReLU, 1x1 -> h, ReLU, 3x3 -> h, ReLU, 1x1 -> 2h) with mask B (Fig. 5),
  then ReLU, 1x1 mask-B layers of `output_features`, and the logits.
  The receptive field has the known blind spot (fixed by GatedPixelCNN).
  """
  head: object
  hidden: int = 128            # h; the residual stream has 2h channels.
  residual_blocks: int = 15
  first_kernel: int = 7        # Side of the mask-A convolution.
  output_features: int = 1024  # Channels of the 1x1 output layers.
  output_layers: int = 2

  @classmethod
  def from_config(cls, model_config, head):
    """The network of a `pixelcnn_model('pixelcnn')` block, by keyword."""
    return network_config.from_config(cls, model_config, head)

  @nn.compact
  def __call__(self, x, y=None, train=False):
    del y, train  # Unconditional; no dropout.
    groups = x.shape[-1]
    conv = lambda f, k, t: MaskedConv(f, (k, k), t, groups)
    h = conv(2 * self.hidden, self.first_kernel, 'A')(x)
    for _ in range(self.residual_blocks):
      r = conv(self.hidden, 1, 'B')(nn.relu(h))
      r = conv(self.hidden, 3, 'B')(nn.relu(r))
      h = h + conv(2 * self.hidden, 1, 'B')(nn.relu(r))
    for _ in range(self.output_layers):
      h = conv(self.output_features, 1, 'B')(nn.relu(h))
    h = nn.relu(h)
    return MaskedConv(self.head.num_outputs, (1, 1), 'B', groups,
                      out_groups=tuple(self.head.out_groups()))(h)


class GatedPixelCNN(nn.Module):
  """Gated PixelCNN with vertical and horizontal stacks (arXiv:1606.05328 Fig. 2).

  The vertical stack convolves the rows up to the current one with
  (k//2 + 1) x k kernels; shifted down by one row it feeds the horizontal
  stack, which convolves the current row up to the current pixel with
  1 x (k//2 + 1) kernels (mask A in the first layer, B after). Together they
  cover every earlier pixel, with no blind spot. Units are gated,
  tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h), where h is a learned
  embedding of the class label when `num_classes` > 0; the horizontal stack
  is residual.
  """
  head: object
  stack_channels: int = 128    # p, the channels of each stack.
  gated_layers: int = 15
  kernel: int = 5              # Side of the later layers' kernels.
  first_kernel: int = 7        # Side of the first layer's kernels.
  num_classes: int = 0
  output_features: int = 1024  # Channels of the 1x1 output layer.

  @classmethod
  def from_config(cls, model_config, head):
    """The network of a `pixelcnn_model('gated_pixelcnn')` block, by keyword."""
    return network_config.from_config(cls, model_config, head)

  @nn.compact
  def __call__(self, x, y=None, train=False):
    del train
    groups = x.shape[-1]
    p = self.stack_channels
    # Each gate half keeps the contiguous colour groups of p channels.
    gate_groups = tuple(np.concatenate([masks.group_ids(p, groups)] * 2))
    cond = 0.0
    if self.num_classes:
      if y is None:
        raise ValueError('a class-conditional GatedPixelCNN needs labels y')
      cond = nn.Embed(self.num_classes, 2 * p)(y)[:, None, None, :]

    def gate(a):
      f, g = jnp.split(a + cond, 2, -1)
      return jnp.tanh(f) * jax.nn.sigmoid(g)

    v, h = x, x
    for layer in range(self.gated_layers):
      k = self.first_kernel if layer == 0 else self.kernel
      # Vertical: rows r - k//2 .. r, all columns within k//2.
      v_pre = nn.Conv(2 * p, (k // 2 + 1, k),
                      padding=((k // 2, 0), (k // 2, k // 2)))(v)
      # Horizontal: this row up to the current pixel, masked at the pixel.
      h_pre = MaskedConv(2 * p, (1, k // 2 + 1), 'A' if layer == 0 else 'B',
                         groups, centre=(0, k // 2), out_groups=gate_groups)(h)
      # The link sees rows < r only, so it needs no mask.
      h_pre = h_pre + nn.Conv(2 * p, (1, 1))(down_shift(v_pre))
      v = gate(v_pre)
      out = MaskedConv(p, (1, 1), 'B', groups)(gate(h_pre))
      h = out if layer == 0 else h + out
    h = MaskedConv(self.output_features, (1, 1), 'B', groups)(nn.relu(h))
    return MaskedConv(self.head.num_outputs, (1, 1), 'B', groups,
                      out_groups=tuple(self.head.out_groups()))(nn.relu(h))
