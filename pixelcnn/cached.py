"""Cached sampling for the PixelCNN family (Ramachandran et al. 2017, "Fast
Generation for Convolutional Autoregressive Models", arXiv:1704.06001).

The naive sampler recomputes every layer at every position for every
generated sub-pixel, although one new value changes only the few positions
that can see it. Following arXiv:1704.06001 (Sec. 3, Alg. 1), each layer here
keeps a cache of its input activations (zero-padded exactly as the
network pads them) and, at each generation step, computes only the outputs
that the new pixel makes computable, reading the rest of each layer's
receptive field from the caches:

* PixelCNN (`pixelcnn_plan`): every layer is a masked, same-size
  convolution, so the output at pixel (r, c) of every layer is computed at
  step (r, c) from cached inputs at (r, c) and earlier pixels. A k x k
  layer's cache holds only the k//2 + 1 rows its mask lets it read.
* Gated PixelCNN (`gated_plan`): the horizontal stack as above; the
  vertical stack sees the whole current row (it feeds the next row only,
  through the down-shifted link), so a row of it is computed once per
  image row, when that row is complete (the paper's per-row update).
* PixelCNN++ (pixelcnn/cached_pp.py): the same with strides.

Why it is exact. Every cached value is computed by the same operation as in
the network (`lax.conv_general_dilated` with the layer's own kernel, then the
bias, the masks and weight normalisation applied the same way), applied to a
window of inputs that holds the same values at every position with a
non-zero weight; positions not generated yet hold other values than the
naive sampler's, but only where the mask (or the shift) gives them weight
zero, which adds an exact zero. Noise is drawn up front (`head.noise`) and
`head.sample` is deterministic, so the sample equals `naive_sample`'s up
to the rounding below; the tests compare the two bit for bit on small
networks.

What it does not fix: the order in which a convolution sums its terms. XLA
picks it per shape, so a one-pixel window and the full image round
differently (raw outputs differ by ~1e-6). A sub-pixel whose sample lies
that close to a decision boundary (a logistic quantile at a bin edge, two
Gumbel-perturbed logits tied) can come out one level apart, and the images
differ from there on; `sampling.cached_sample` therefore checks (and
repairs) its image with full passes. Seen once so far: 3 of 12288 sub-pixels
(quantiles within 5e-4 bins of an edge) in one of two 4-image batches of
the untrained 256-level PixelCNN++ at 32x32x3
(bench/results/pixelcnn_sampling_pixelcnnpp_cifar.json); never with the
test networks (4 levels) or the 2-level MNIST ones.

A plan is (init, row, put_input, pixel): `init(batch)` makes the caches,
`row(cache, r)` does the work that becomes possible when row r - 1 is
complete, `put_input(cache, centres, r, c)` writes the network input at
pixel (r, c) into the caches that read it (before each step: the sub-pixels
sampled so far, the rest 0 as in the naive sampler; after the pixel's last
step: its final value), and `pixel(cache, r, c)` returns the raw output at
(r, c).
"""
import dataclasses
import itertools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from common import distributions
from pixelcnn import layers as L
from pixelcnn import masks


@dataclasses.dataclass(frozen=True)
class Plan:
  """The cached computation of one network (see the module docstring)."""
  init: Callable       # batch -> caches
  row: Callable        # (caches, r) -> caches: what row r - 1 completes
  put_input: Callable  # (caches, centres [B, 1, 1, C], r, c) -> caches
  pixel: Callable      # (caches, r, c) -> (caches, raw output [B, 1, 1, K])


# --- Caches: zero-padded activation maps [B, top + H + bottom, left + W + right, C]
# (or fewer rows: see `roll_rows`).


def new_buffer(batch, height, width, channels, pad):
  """A zero map with `pad` = ((top, bottom), (left, right)) border: the zeros
  of the network's own padding."""
  (t, b), (l, r) = pad
  return jnp.zeros((batch, t + height + b, l + width + r, channels), jnp.float32)


def put(buffer, value, row, col):
  """buffer[:, row, col] = value [B, 1, 1, C] (buffer coordinates)."""
  return jax.lax.dynamic_update_slice(
      buffer, value.astype(buffer.dtype), (0, row, col, 0))


def window(buffer, row, col, height, width):
  """buffer[:, row:row + height, col:col + width]."""
  return jax.lax.dynamic_slice(
      buffer, (0, row, col, 0), (buffer.shape[0], height, width, buffer.shape[3]))


def pixel_at(x, r, c):
  """x[:, r:r+1, c:c+1] for traced r, c."""
  return jax.lax.dynamic_slice(x, (0, r, c, 0), (x.shape[0], 1, 1, x.shape[3]))


def conv(x, kernel, strides=(1, 1)):
  """The network's convolution op on an already padded window ('VALID')."""
  return L._conv(x, kernel, strides)  # pylint: disable=protected-access


# --- PixelCNN (arXiv:1601.06759) and Gated PixelCNN (arXiv:1606.05328).


def masked_kernel(p, mask_type, groups, centre=None, out_groups=None):
  """kernel * mask of a `MaskedConv`'s params, with the module's own mask."""
  kh, kw, cin, cout = p['kernel'].shape
  in_groups = masks.group_ids(cin, groups)
  if out_groups is None:
    out_groups = masks.group_ids(cout, groups)
  mask = masks.conv_mask((kh, kw), in_groups, np.asarray(out_groups),
                         mask_type, centre)
  return p['kernel'] * mask


def roll_rows(buffer):
  """A row cache moved on by one image row: its oldest row is dropped and a
  zero row (the pixels not generated yet) becomes the current one."""
  return jnp.concatenate([buffer[:, 1:], jnp.zeros_like(buffer[:, :1])], 1)


def pixelcnn_plan(net, params, shape, levels, y):
  """Cached PixelCNN: all layers at pixel (r, c) at step (r, c).

  Only the k x k first layer and each block's 3 x 3 layer see other pixels.
  Under their causal masks they read rows r - k//2 .. r only (the rows
  below have weight zero), so their input caches hold just those rows
  (arXiv:1704.06001 Sec. 3: a layer's cache needs only as many rows as its
  kernel reaches up): `row` rolls them on by one row, and each kernel is
  cut to its upper k//2 + 1 rows. Keeping a few rows instead of the whole
  image keeps the per-step and per-row copies of the loop carries small.
  The 1 x 1 layers need only the current pixel.
  """
  del y, levels
  _, _, width, groups = shape
  k0, half = net.first_kernel, net.first_kernel // 2
  # MaskedConv_0, _1, ... in the order the network creates them.
  names = (f'MaskedConv_{i}' for i in itertools.count())
  first = params[next(names)]
  first_k = masked_kernel(first, 'A', groups)[:half + 1]
  blocks = []
  for _ in range(net.residual_blocks):
    ps = [params[next(names)] for _ in range(3)]
    ks = [masked_kernel(p, 'B', groups) for p in ps]
    ks[1] = ks[1][:2]  # The 3 x 3 layer's rows r - 1 and r.
    blocks.append([(k, p['bias']) for k, p in zip(ks, ps)])
  outs = [params[next(names)] for _ in range(net.output_layers)]
  outs = [(masked_kernel(p, 'B', groups), p['bias']) for p in outs]
  last = params[next(names)]
  last = (masked_kernel(last, 'B', groups, out_groups=net.head.out_groups()),
          last['bias'])

  def init(b):
    # Row caches, zero-padded on the left and right like the network's
    # 'SAME' padding; the current row is the last one.
    return {'x': new_buffer(b, half + 1, width, groups, ((0, 0), (half, half))),
            'mid': [new_buffer(b, 2, width, net.hidden, ((0, 0), (1, 1)))
                    for _ in blocks]}

  def row(cache, r):
    del r  # Before row 0 the rows above are the zero padding already.
    return {'x': roll_rows(cache['x']), 'mid': [roll_rows(m) for m in cache['mid']]}

  def put_input(cache, xin, r, c):
    del r
    return dict(cache, x=put(cache['x'], xin, half, c + half))

  def pixel(cache, r, c):
    del r
    h = conv(window(cache['x'], 0, c, half + 1, k0), first_k) + first['bias']
    mids = []
    for ((k1, b1), (k3, b3), (k2, b2)), buf in zip(blocks, cache['mid']):
      t = jax.nn.relu(conv(jax.nn.relu(h), k1) + b1)
      buf = put(buf, t, 1, c + 1)
      mids.append(buf)
      t = conv(window(buf, 0, c, 2, 3), k3) + b3
      h = h + (conv(jax.nn.relu(t), k2) + b2)
    for k, b in outs:
      h = conv(jax.nn.relu(h), k) + b
    raw = conv(jax.nn.relu(h), last[0]) + last[1]
    return dict(cache, mid=mids), raw

  return Plan(init, row, put_input, pixel)


def gated_plan(net, params, shape, levels, y):
  """Cached Gated PixelCNN (arXiv:1606.05328 Fig. 2).

  The horizontal stack of pixel (r, c) reads row r up to c: computed at
  step (r, c) from its input caches. The vertical stack at row r sees row r
  up to k//2 columns to the right of each pixel per layer, so it is only
  complete with the whole row, and only row r + 1 reads it (down-shifted
  link): `row(cache, r)` computes row r - 1 of every vertical layer, and of
  its 1 x 1 link, for the whole width at once. Before row 0 the link reads
  the down shift's zero row. A vertical layer reads the k//2 + 1 rows
  ending at the row it computes, so its input cache holds just those rows
  and rolls on by one row per image row, as in `pixelcnn_plan`.
  """
  batch, height, width, groups = shape
  p = net.stack_channels
  gate_groups = np.concatenate([masks.group_ids(p, groups)] * 2)
  cond = 0.0
  if net.num_classes:
    cond = params['Embed_0']['embedding'][y][:, None, None, :]

  def gate(a):
    f, g = jnp.split(a + cond, 2, -1)
    return jnp.tanh(f) * jax.nn.sigmoid(g)

  layers = []
  for i in range(net.gated_layers):
    k = net.first_kernel if i == 0 else net.kernel
    hc = params[f'MaskedConv_{2 * i}']
    oc = params[f'MaskedConv_{2 * i + 1}']
    layers.append(dict(
        k=k, vert=params[f'Conv_{2 * i}'], link=params[f'Conv_{2 * i + 1}'],
        horiz=(masked_kernel(hc, 'A' if i == 0 else 'B', groups, (0, k // 2),
                             gate_groups), hc['bias']),
        out=(masked_kernel(oc, 'B', groups), oc['bias'])))
  n = 2 * net.gated_layers
  head1, head2 = params[f'MaskedConv_{n}'], params[f'MaskedConv_{n + 1}']
  head1 = (masked_kernel(head1, 'B', groups), head1['bias'])
  head2 = (masked_kernel(head2, 'B', groups, out_groups=net.head.out_groups()),
           head2['bias'])

  def link(lay, v_pre_row):
    return conv(v_pre_row, lay['link']['kernel']) + lay['link']['bias']

  def init(b):
    # Vertical inputs: the k//2 + 1 rows a layer reads (the zero rows above
    # the image to start with), padded by k//2 columns each side like
    # nn.Conv; the last row is the one being filled. Horizontal inputs: one
    # row, k//2 columns of padding on the left.
    v_in, h_in, links = [], [], []
    for i, lay in enumerate(layers):
      half, cin = lay['k'] // 2, groups if i == 0 else p
      v_in.append(new_buffer(b, half + 1, width, cin, ((0, 0), (half, half))))
      h_in.append(new_buffer(b, 1, width, cin, ((0, 0), (half, 0))))
      links.append(link(lay, jnp.zeros((b, 1, width, 2 * p), jnp.float32)))
    return {'v_in': v_in, 'h_in': h_in, 'link': links}

  def row(cache, r):
    """Row r - 1 of the vertical stack (all of it is known by now)."""
    def vertical(cache):
      v_in, links, v_pre = list(cache['v_in']), [], None
      for i, lay in enumerate(layers):
        if i:  # Row r - 1 of the layer below becomes this layer's last row.
          half = lay['k'] // 2
          v_in[i] = put(roll_rows(v_in[i]), gate(v_pre), half, half)
        # v_in[i] holds rows r - 1 - k//2 .. r - 1 (layer 0's last row got
        # the inputs of row r - 1 pixel by pixel).
        v_pre = conv(v_in[i], lay['vert']['kernel']) + lay['vert']['bias']
        links.append(link(lay, v_pre))
      v_in[0] = roll_rows(v_in[0])  # Its last row is row r's, to be filled.
      return dict(cache, v_in=v_in, link=links)
    # Before row 0 the link is init's (the down shift's zero row). The
    # horizontal caches hold one row; the row they held is done.
    return jax.lax.cond(r > 0, vertical, lambda cache: cache, cache)

  def put_input(cache, xin, r, c):
    del r
    half = layers[0]['k'] // 2
    v_in, h_in = list(cache['v_in']), list(cache['h_in'])
    v_in[0] = put(v_in[0], xin, half, c + half)
    h_in[0] = put(h_in[0], xin, 0, c + half)
    return dict(cache, v_in=v_in, h_in=h_in)

  def pixel(cache, r, c):
    h_in = list(cache['h_in'])
    h = None
    for i, lay in enumerate(layers):
      k = lay['k']
      h_pre = conv(window(h_in[i], 0, c, 1, k // 2 + 1), lay['horiz'][0]) + lay['horiz'][1]
      h_pre = h_pre + jax.lax.dynamic_slice_in_dim(cache['link'][i], c, 1, 2)
      out = conv(gate(h_pre), lay['out'][0]) + lay['out'][1]
      h = out if i == 0 else h + out
      if i + 1 < len(layers):
        h_in[i + 1] = put(h_in[i + 1], h, 0, c + layers[i + 1]['k'] // 2)
    h = conv(jax.nn.relu(h), head1[0]) + head1[1]
    raw = conv(jax.nn.relu(h), head2[0]) + head2[1]
    return dict(cache, h_in=h_in), raw

  return Plan(init, row, put_input, pixel)


# --- The sampler.


def _noise_at(noise, r, c):
  """Every noise array's [:, r:r+1, c:c+1] (a tuple for the mixture head)."""
  def at(a):
    start = (0, r, c) + (0,) * (a.ndim - 3)
    return jax.lax.dynamic_slice(a, start, (a.shape[0], 1, 1, *a.shape[3:]))
  return jax.tree_util.tree_map(at, noise)


def sample_with_plan(plan, head, noise, shape):
  """Ancestral sampling in raster order, one sub-pixel (softmax head) or one
  pixel (mixture head) per step, like `sampling.naive_sample`.

  Rows, pixels and sub-pixels are nested `fori_loop`s; at each step the plan
  computes the raw output of the current pixel only, and `head.sample` turns
  it, with that pixel's slice of the same noise, into the same values as the
  naive sampler's full pass would (`head.sample` is per pixel).
  """
  batch, height, width, channels = shape
  steps = head.steps_per_pixel

  def put_input(cache, x, r, c):
    centres = distributions.to_unit_interval_centres(pixel_at(x, r, c), head.levels)
    return plan.put_input(cache, centres, r, c)

  def sub_pixel(r, c):
    def body(s, carry):
      x, cache = carry
      cache, raw = plan.pixel(put_input(cache, x, r, c), r, c)
      values = head.sample(raw, _noise_at(noise, r, c))
      if steps > 1:  # Only sub-pixel s is set at this step.
        values = jnp.where(jnp.arange(channels) == s, values, pixel_at(x, r, c))
      return jax.lax.dynamic_update_slice(x, values, (0, r, c, 0)), cache
    return body

  def row(r, carry):
    x, cache = carry
    cache = plan.row(cache, r)
    def pixel(c, carry):
      x, cache = jax.lax.fori_loop(0, steps, sub_pixel(r, c), carry)
      return x, put_input(cache, x, r, c)  # Its final value, for later pixels.
    return jax.lax.fori_loop(0, width, pixel, (x, cache))

  x, _ = jax.lax.fori_loop(
      0, height, row, (jnp.zeros(shape, jnp.int32), plan.init(batch)))
  return x
