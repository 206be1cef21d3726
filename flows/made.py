"""MADE: Masked Autoencoder for Distribution Estimation (Germain et al. 2015,
arXiv:1502.03509).

A masked MLP whose output i depends only on the inputs that come before i in
an ordering, so that its outputs parameterise p(x_i | x_<i). Each unit gets a
degree: inputs the position of their dimension in the ordering (1..D), hidden
units an integer drawn uniformly in [min degree of the layer below, D - 1]
(never D: no output may see the last input). A hidden unit sees the units
below whose degree is <= its own; an output of degree d sees units whose
degree is < d (paper Eqs. 12-13). Direct input-to-output connections (Sec.
3.2) use the output rule.

Order- and connectivity-agnostic training (Sec. 3.3): the model holds
`num_masks` mask sets, each with its own hidden degrees (and, with
`ordering='random'`, its own input ordering), all drawn once from
`mask_seed` and cycled over minibatches; at test time the predictions of all
sets are averaged. The same network, with a context added to the first
hidden layer, is the autoregressive step of IAF (vae/iaf.py).
"""
import functools
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np


class MadeMasks(NamedTuple):
  """Stacked masks of every mask set; the leading axis is the set index."""
  orderings: np.ndarray      # [M, D]: the degree (1..D) of each input dimension.
  hidden: tuple              # Per hidden layer: [M, fan_in, fan_out].
  output: np.ndarray         # [M, H_last, P * D]
  direct: np.ndarray         # [M, D, P * D]


@functools.lru_cache(maxsize=32)
def made_masks(num_inputs, hidden, params_per_dim, num_masks, ordering,
               mask_seed):
  """Degrees and masks of `num_masks` MADE connectivities (numpy, cached)."""
  d = num_inputs
  if d < 2:
    raise ValueError('MADE needs at least 2 input dimensions')
  if ordering not in ('natural', 'reversed', 'random'):
    raise ValueError(f"unknown MADE ordering {ordering!r}; use natural, "
                     "reversed or random")
  orderings, hidden_masks, output_masks, direct_masks = [], [], [], []
  for k in range(num_masks):
    rng = np.random.default_rng([mask_seed, k])
    if ordering == 'natural':
      m0 = np.arange(1, d + 1)
    elif ordering == 'reversed':
      m0 = np.arange(d, 0, -1)
    else:
      m0 = rng.permutation(d) + 1
    degrees = [m0]
    for width in hidden:
      low = min(int(degrees[-1].min()), d - 1)
      degrees.append(rng.integers(low, d, size=width))  # In [low, D - 1].
    hidden_masks.append([(degrees[l][:, None] <= degrees[l + 1][None, :])
                         for l in range(len(hidden))])
    # Outputs are laid out [P, D]: output (p, i) has the degree of input i.
    out_deg = np.tile(m0, params_per_dim)
    output_masks.append(degrees[-1][:, None] < out_deg[None, :])
    direct_masks.append(m0[:, None] < out_deg[None, :])
    orderings.append(m0)
  f32 = lambda a: np.asarray(a, np.float32)
  return MadeMasks(
      orderings=np.stack(orderings).astype(np.int32),
      hidden=tuple(f32([m[l] for m in hidden_masks]) for l in range(len(hidden))),
      output=f32(output_masks), direct=f32(direct_masks))


class MaskedDense(nn.Module):
  """y = x (W * M) + b, with the mask M given at call time."""
  features: int
  use_bias: bool = True
  kernel_init: Callable = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x, mask):
    kernel = self.param('kernel', self.kernel_init, (x.shape[-1], self.features))
    y = x @ (kernel * mask)
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros, (self.features,))
    return y


class MADE(nn.Module):
  """Masked MLP: x [B, D] (and an optional context [B, C]) -> [B, P, D].

  Attributes:
    num_inputs: D.
    hidden: widths of the hidden layers.
    params_per_dim: P outputs per dimension (1 for Bernoulli logits; 2 for
      IAF's m and s).
    num_masks: mask sets for order/connectivity-agnostic training.
    ordering: 'natural', 'reversed' or 'random' (one per mask set).
    direct: direct input-to-output connections (paper Sec. 3.2).
    mask_seed: the numpy seed the degrees are drawn from (fixed per model, so
      a checkpoint always meets the masks it was trained with).
    zero_init_output: start with every output at its bias (IAF starts near
      the identity).
  """
  num_inputs: int
  hidden: Sequence[int]
  params_per_dim: int = 1
  num_masks: int = 1
  ordering: str = 'natural'
  direct: bool = True
  mask_seed: int = 0
  activation: Callable = nn.relu
  zero_init_output: bool = False

  def masks(self):
    return made_masks(self.num_inputs, tuple(self.hidden), self.params_per_dim,
                      self.num_masks, self.ordering, self.mask_seed)

  @nn.compact
  def __call__(self, x, mask_index=0, context=None):
    masks = self.masks()
    pick = lambda stack: jnp.asarray(stack)[mask_index]  # Traced index is fine.
    h = x
    for l, width in enumerate(self.hidden):
      h = MaskedDense(width, name=f'hidden_{l}')(h, pick(masks.hidden[l]))
      if l == 0 and context is not None:
        # The context does not depend on x, so it may reach every unit.
        h = h + nn.Dense(width, use_bias=False, name='context')(context)
      h = self.activation(h)
    out_init = (nn.initializers.zeros if self.zero_init_output
                else nn.initializers.lecun_normal())
    out = MaskedDense(self.params_per_dim * self.num_inputs, kernel_init=out_init,
                      name='output')(h, pick(masks.output))
    if self.direct:
      out = out + MaskedDense(self.params_per_dim * self.num_inputs,
                              use_bias=False, kernel_init=out_init,
                              name='direct')(x, pick(masks.direct))
    return out.reshape(x.shape[0], self.params_per_dim, self.num_inputs)

  def sampling_order(self, mask_index=0):
    """Input dimensions in the order they are generated (numpy, static)."""
    return np.argsort(self.masks().orderings[mask_index])
