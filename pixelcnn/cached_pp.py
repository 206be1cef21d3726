"""Cached sampling for PixelCNN++ (arXiv:1701.05517) with the activation
caches of Ramachandran et al. 2017 (arXiv:1704.06001); see pixelcnn/cached.py
for the plan interface and why cached values equal the network's.

PixelCNN++ has two streams, and each is cached at the granularity at which
it becomes computable:

* `u` (down-shifted convolutions) sees only rows above, at any column, so a
  row of it is computable once the image row above is complete:
  `row(cache, r)` computes row r of every `u` tensor at full resolution and,
  when r is a multiple of 2^s, row r / 2^s at resolution s (the paper's
  strided layers, updated only at the steps that complete their inputs).
* `ul` (down-right-shifted) sees rows above and pixels to the left: at
  pixel (r, c) every `ul` tensor is computed at (r, c), and at resolution s
  at (r / 2^s, c / 2^s) when both are multiples of 2^s: a stride-2
  (2, 2) convolution at (R, C) reads (2R-1..2R, 2C-1..2C) one level up, and
  its transposed convolution maps (R, C) to the 2 x 2 block (2R.., 2C..).

The recursion over resolutions mirrors the U-Net: up pass at level s, then
(at even positions) level s + 1, then the down pass at level s, whose
shortcuts are the up-pass values at the same position (same step). Convs
with a 2-row kernel read 2-row caches indexed by row parity; `u`'s
transposed convolution reads the last row of the level below it, `ul`'s
the last row of positions. The shifts' zero rows and columns are exact
zeros (`jnp.where`), as in the network, not a convolution of zeros.
"""
import itertools

import jax
import jax.numpy as jnp

from pixelcnn import cached as C
from pixelcnn import layers as L


# --- Weight-normalised layers, normalised once by pixelcnn/layers.py's own
# function, so the cached weights are the network's.


def _wn_conv(p):
  w = L.weight_normalize(p['WeightNormConv_0']['v'], (0, 1, 2))
  return w, p['WeightNormConv_0']['g'], p['WeightNormConv_0']['b']


def _wn_conv_transpose(p):
  w = L.weight_normalize(p['WeightNormConvTranspose_0']['v'], (0, 1, 2))
  return (w, p['WeightNormConvTranspose_0']['g'],
          p['WeightNormConvTranspose_0']['b'])


def _wn_dense(p):
  w = L.weight_normalize(p['v'], 0)
  return w, p['g'], p['b']


def conv(layer, window, strides=(1, 1)):
  w, g, b = layer
  return g * C.conv(window, w, strides) + b


def dense(layer, x):
  w, g, b = layer
  return g * (x @ w) + b


def conv_transpose(layer, x):
  """The stride-2 'VALID' transposed convolution of x (rows / pixels)."""
  w, g, b = layer
  y = jax.lax.conv_transpose(x, w, (2, 2), 'VALID',
                             dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  return g * y + b


# --- Two-row caches: rows R - 1 and R of a map, at slots (R - 1) % 2, R % 2.


def rows_buffer(batch, width, channels, left, right):
  return jnp.zeros((batch, 2, left + width + right, channels), jnp.float32)


def rows_put(buffer, value, row, col):
  return C.put(buffer, value, row % 2, col)


def rows_window(buffer, row, col, width):
  """Rows row - 1 and row, buffer columns col .. col + width - 1. Before the
  first row, slot 1 still holds the zeros of the top padding."""
  prev = C.window(buffer, (row + 1) % 2, col, 1, width)
  return jnp.concatenate([prev, C.window(buffer, row % 2, col, 1, width)], 1)


class _Names:
  """Flax's automatic names, in the order the network creates its modules."""

  def __init__(self, params):
    self.params, self.counters = params, {}

  def __call__(self, cls):
    i = self.counters.setdefault(cls, itertools.count())
    return self.params[f'{cls}_{next(i)}']


def _block(p, conv_name, cond):
  """The params of a `GatedResnet` (its two convs, nin, class embedding)."""
  return dict(c1=_wn_conv(p[f'{conv_name}_0']), c2=_wn_conv(p[f'{conv_name}_1']),
              nin=_wn_dense(p['WeightNormDense_0']) if 'WeightNormDense_0' in p else None,
              embed=p['Embed_0']['embedding'][cond][:, None, None, :]
              if cond is not None else None)


def _gate(x, c):
  """x + a * sigmoid(b), [a, b] = c: the end of `GatedResnet`."""
  a, b = jnp.split(c, 2, -1)
  return x + a * jax.nn.sigmoid(b)


def pixelcnnpp_plan(net, params, shape, levels, y):
  """Cached PixelCNN++ (see the module docstring)."""
  del levels
  batch, height, width, channels = shape
  f, nb, scales = net.filters, net.resnet_blocks, net.num_scales
  cond = y if net.num_classes else None
  name = _Names(params)
  first_u = _wn_conv(name('DownShiftedConv'))
  first_ul_down = _wn_conv(name('DownShiftedConv'))
  first_ul_right = _wn_conv(name('DownRightShiftedConv'))
  gated = lambda conv_name: _block(name('GatedResnet'), conv_name, cond)
  up, down = [], []  # Per level: entry layers and (u, ul) blocks.
  for s in range(scales):
    entry = ((_wn_conv(name('DownShiftedConv')), _wn_conv(name('DownRightShiftedConv')))
             if s else None)
    blocks = [(gated('DownShiftedConv'), gated('DownRightShiftedConv'))
              for _ in range(nb)]
    up.append((entry, blocks))
  for i in range(scales):
    entry = ((_wn_conv_transpose(name('DownShiftedConvTranspose')),
              _wn_conv_transpose(name('DownRightShiftedConvTranspose')))
             if i else None)
    blocks = [(gated('DownShiftedConv'), gated('DownRightShiftedConv'))
              for _ in range(nb + (i > 0))]
    down.insert(0, (entry, blocks))  # down[s]: level s.
  out_layer = _wn_dense(params['WeightNormDense_0'])
  sizes = [(height >> s, width >> s) for s in range(scales)]

  # ---- Caches.
  def init(b):
    def level(s):
      w = sizes[s][1]
      u_rows = lambda: rows_buffer(b, w, 2 * f, 1, 1)     # (2, 3) convs.
      ul_rows = lambda: rows_buffer(b, w, 2 * f, 1, 0)    # (2, 2) convs.
      n_up, n_down = nb, nb + (s < scales - 1)
      return dict(
          u_in=[u_rows() for _ in range(n_up + n_down)],
          u_mid=[u_rows() for _ in range(n_up + n_down)],
          ul_in=[ul_rows() for _ in range(n_up + n_down)],
          ul_mid=[ul_rows() for _ in range(n_up + n_down)],
          # Inputs of the stride-2 convs of level s + 1 (last up value).
          u_last=rows_buffer(b, w, f, 1, 1), ul_last=rows_buffer(b, w, f, 1, 0),
          # Outputs of the down pass, read by level s - 1's transposed convs.
          u_out=jnp.zeros((b, 1, w, f)), ul_out=jnp.zeros((b, 1, w, f)),
          # This row's u values, read by the ul stream's shortcuts.
          u_row=jnp.zeros((b, 1 + n_up + n_down, w, f)))
    return dict(x=C.new_buffer(b, height, width, channels + 1, ((1, 1), (1, 1))),
                levels=[level(s) for s in range(scales)])

  def put_input(cache, centres, r, c):
    xin = jnp.concatenate([centres, jnp.ones_like(centres[..., :1])], -1)
    return dict(cache, x=C.put(cache['x'], xin, r + 1, c + 1))

  def gated_resnet(blk, x, window_of, buffers, pos, shortcut=None):
    """`GatedResnet` at one row or pixel (dropout is off when sampling):
    window_of(buffer, value, pos) writes the value's concat_elu into the
    cache and returns the conv's input window."""
    in_buf, mid_buf = buffers
    in_buf, win = window_of(in_buf, L.concat_elu(x), pos)
    c = conv(blk['c1'], win)
    if shortcut is not None:
      c = c + dense(blk['nin'], L.concat_elu(shortcut))
    mid_buf, win = window_of(mid_buf, L.concat_elu(c), pos)
    c = conv(blk['c2'], win)
    if blk['embed'] is not None:
      c = c + blk['embed']
    return _gate(x, c), (in_buf, mid_buf)

  def u_window(buf, value, row):
    """Whole row `row`: write it, return rows row-1..row with a column each side."""
    buf = rows_put(buf, value, row, 1)
    return buf, rows_window(buf, row, 0, buf.shape[2])

  def ul_window(buf, value, pos):
    row, col = pos
    buf = rows_put(buf, value, row, col + 1)
    return buf, rows_window(buf, row, col, 2)

  # ---- The u stream, one row per level.
  def u_level(levels, s, row, x_rows):
    lv = dict(levels[s])
    entry, blocks = up[s]
    if s == 0:
      u = x_rows
    else:  # Stride-2 (2, 3) conv: rows 2R-1, 2R of the level above.
      u = conv(entry[0], rows_window(levels[s - 1]['u_last'], 2 * row, 0,
                                     levels[s - 1]['u_last'].shape[2]), (2, 2))
    saved, u_in, u_mid = [u], list(lv['u_in']), list(lv['u_mid'])
    for i, (blk, _) in enumerate(blocks):
      u, (u_in[i], u_mid[i]) = gated_resnet(blk, u, u_window, (u_in[i], u_mid[i]), row)
      saved.append(u)
    row_vals = list(saved)  # Shortcuts of the ul stream, by block.
    lv['u_last'] = rows_put(lv['u_last'], u, row, 1)
    levels = list(levels)
    levels[s] = lv
    if s + 1 < scales:
      levels = jax.lax.cond(row % 2 == 0,
                            lambda lv: u_level(lv, s + 1, row // 2, None),
                            lambda lv: lv, levels)
    lv = dict(levels[s])
    entry, blocks = down[s]
    if s + 1 == scales:
      u = saved.pop()
    else:  # Transposed (2, 3): row R from row R // 2 below, cropped.
      up_rows = conv_transpose(entry[0], levels[s + 1]['u_out'])
      u = jax.lax.dynamic_index_in_dim(up_rows, row % 2, 1)[:, :, 1:1 + sizes[s][1]]
    for i, (blk, _) in enumerate(blocks):
      j = nb + i
      u, (u_in[j], u_mid[j]) = gated_resnet(blk, u, u_window, (u_in[j], u_mid[j]),
                                            row, saved.pop())
      row_vals.append(u)
    assert not saved
    lv.update(u_in=u_in, u_mid=u_mid, u_out=u,
              u_row=jnp.concatenate(row_vals, 1))
    levels[s] = lv
    return levels

  def row(cache, r):
    # Row r of u = row r - 1 of the (2, 3) conv of x (zero row for r = 0).
    win = C.window(cache['x'], jnp.maximum(r - 1, 0), 0, 2, width + 2)
    u0 = jnp.where(r > 0, conv(first_u, win), 0.0)
    return dict(cache, levels=u_level(cache['levels'], 0, r, u0))

  # ---- The ul stream, one pixel per level.
  def ul_level(levels, s, pos, ul):
    row, col = pos
    lv = dict(levels[s])
    entry, blocks = up[s]
    if s:  # Stride-2 (2, 2) conv: (2R-1..2R, 2C-1..2C) of the level above.
      ul = conv(entry[1], rows_window(levels[s - 1]['ul_last'], 2 * row, 2 * col, 2),
                (2, 2))
    u_row = jax.lax.dynamic_slice_in_dim(lv['u_row'], col, 1, 2)  # [B, n, 1, f]
    u_at = lambda i: u_row[:, i:i + 1]
    saved, ul_in, ul_mid = [ul], list(lv['ul_in']), list(lv['ul_mid'])
    for i, (_, blk) in enumerate(blocks):
      ul, (ul_in[i], ul_mid[i]) = gated_resnet(
          blk, ul, ul_window, (ul_in[i], ul_mid[i]), pos, u_at(i + 1))
      saved.append(ul)
    lv['ul_last'] = rows_put(lv['ul_last'], ul, row, col + 1)
    levels = list(levels)
    levels[s] = lv
    if s + 1 < scales:
      levels = jax.lax.cond((row % 2 == 0) & (col % 2 == 0),
                            lambda lv: ul_level(lv, s + 1, (row // 2, col // 2), None)[0],
                            lambda lv: lv, levels)
    lv = dict(levels[s])
    entry, blocks = down[s]
    if s + 1 == scales:
      ul = saved.pop()
    else:  # Transposed (2, 2): (R, C) from (R // 2, C // 2) below.
      below = jax.lax.dynamic_slice_in_dim(levels[s + 1]['ul_out'], col // 2, 1, 2)
      block = conv_transpose(entry[1], below)
      ul = jax.lax.dynamic_slice(block, (0, row % 2, col % 2, 0), (batch, 1, 1, f))
    for i, (_, blk) in enumerate(blocks):
      j = nb + i
      shortcut = jnp.concatenate([u_at(nb + 1 + i), saved.pop()], -1)
      ul, (ul_in[j], ul_mid[j]) = gated_resnet(
          blk, ul, ul_window, (ul_in[j], ul_mid[j]), pos, shortcut)
    lv.update(ul_in=ul_in, ul_mid=ul_mid,
              ul_out=C.put(lv['ul_out'], ul, 0, col))
    levels[s] = lv
    return levels, ul

  def pixel(cache, r, c):
    # ul = down_shift(conv (1, 3) of x) + right_shift(conv (2, 1) of x).
    above = conv(first_ul_down, C.window(cache['x'], r, c, 1, 3))
    left = conv(first_ul_right, C.window(cache['x'], r, c, 2, 1))
    ul = jnp.where(r > 0, above, 0.0) + jnp.where(c > 0, left, 0.0)
    levels, ul = ul_level(cache['levels'], 0, (r, c), ul)
    return dict(cache, levels=levels), dense(out_layer, jax.nn.elu(ul))

  return C.Plan(init, row, put_input, pixel)
