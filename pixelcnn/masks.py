"""Causal masks for PixelCNN convolutions (van den Oord et al. 2016,
arXiv:1601.06759 Sec. 3.4).

Pixels are generated in raster order and, within a pixel, colour by colour
(R, then G, then B). Feature maps are split into as many contiguous groups
as there are colours; group g of a layer's output may use

  * every channel of every earlier pixel (rows above; left on the same row);
  * at the current pixel, the input groups before g (mask 'A', first layer)
    or up to and including g (mask 'B', later layers).

Masking only the current pixel's channels (and nothing at earlier pixels) is
the paper's rule (arXiv:1601.06759 Sec. 3.4); zeroing later colour groups at
every position would throw away valid context.
"""
import numpy as np


def group_ids(num_channels, groups):
  """Colour group of each of `num_channels` contiguous channels: [C]."""
  return np.arange(num_channels) * groups // num_channels


def conv_mask(kernel_hw, in_groups, out_groups, mask_type, centre=None):
  """The 0/1 mask [kh, kw, in, out] of a causal convolution.

  Args:
    kernel_hw: (kh, kw).
    in_groups, out_groups: colour-group id of each input / output channel.
    mask_type: 'A' (the current sub-pixel is hidden from itself) or 'B'.
    centre: (row, col) of the current pixel in the kernel; default the middle
      (PixelCNN's k x k kernels). The Gated PixelCNN's horizontal stack uses a
      1 x (k//2 + 1) kernel whose last column is the current pixel.
  """
  if mask_type not in ('A', 'B'):
    raise ValueError(f'mask_type must be A or B, got {mask_type!r}')
  kh, kw = kernel_hw
  cy, cx = centre if centre is not None else (kh // 2, kw // 2)
  ci, co = np.asarray(in_groups)[:, None], np.asarray(out_groups)[None, :]
  mask = np.zeros((kh, kw, len(in_groups), len(out_groups)), np.float32)
  mask[:cy] = 1.0                # Rows above: every channel.
  mask[cy, :cx] = 1.0            # Left on the current row: every channel.
  mask[cy, cx] = (ci < co) if mask_type == 'A' else (ci <= co)
  return mask
