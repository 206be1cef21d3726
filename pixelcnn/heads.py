"""Output distributions of the PixelCNN family: from the network's raw
feature map to per-sub-pixel log-likelihoods and to samples.

* `SoftmaxHead`: a `levels`-way softmax per sub-pixel (PixelCNN and Gated
  PixelCNN, arXiv:1601.06759 Sec. 5.2); the network's colour groups make
  channel c's logits depend on channels < c of the same pixel, so sampling
  takes one pass per sub-pixel.
* `LogisticMixtureHead`: PixelCNN++'s per-pixel discretized logistic mixture
  with linear channel coupling (arXiv:1701.05517 Sec. 2.1-2.2); the network
  conditions on whole earlier pixels and the coupling on the earlier colours,
  so sampling takes one pass per pixel.

Sampling draws all its noise up front (`noise`) and turns parameters into
values with a deterministic `sample`, so a sub-pixel's value is a fixed
function of its parameters: this is what lets the fast sampler reproduce the
naive one exactly (pixelcnn/sampling.py).
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from common import distributions
from common.errors import ConfigError
from pixelcnn import masks


def _gumbel(rng, shape):
  return jax.random.gumbel(rng, shape)


@dataclasses.dataclass(frozen=True)
class SoftmaxHead:
  levels: int
  channels: int

  steps_per_pixel = property(lambda self: self.channels)

  @property
  def num_outputs(self):
    return self.channels * self.levels

  def out_groups(self):
    """Colour group of each raw output channel: logits of colour c are a block."""
    return masks.group_ids(self.num_outputs, self.channels)

  def _logits(self, raw):
    return raw.reshape(*raw.shape[:-1], self.channels, self.levels)

  def log_prob_terms(self, raw, x, x_in=None):
    """log P(x_ijc | context) per sub-pixel: [B, H, W, C]."""
    del x_in  # The softmax reads no values of x itself.
    log_p = jax.nn.log_softmax(self._logits(raw))
    return jnp.take_along_axis(log_p, x[..., None].astype(jnp.int32), -1)[..., 0]

  def noise(self, rng, shape):
    """Gumbel noise per sub-pixel and level: the Gumbel-max trick."""
    return _gumbel(rng, (*shape, self.levels))

  def sample(self, raw, noise):
    return jnp.argmax(self._logits(raw) + noise, -1).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class LogisticMixtureHead:
  levels: int
  channels: int
  num_mixtures: int

  steps_per_pixel = 1

  @property
  def num_coeffs(self):
    return self.channels * (self.channels - 1) // 2

  @property
  def num_outputs(self):
    return self.num_mixtures * (1 + 2 * self.channels + self.num_coeffs)

  def params(self, raw):
    """Splits raw [..., K(1 + 2C + C(C-1)/2)] into the mixture's parameters."""
    k, c = self.num_mixtures, self.channels
    logit_w = raw[..., :k]
    rest = raw[..., k:].reshape(*raw.shape[:-1], 2 * c + self.num_coeffs, k)
    means, log_scales = rest[..., :c, :], rest[..., c:2 * c, :]
    # tanh keeps the coupling coefficients in (-1, 1) (PixelCNN++ code).
    coeffs = jnp.tanh(rest[..., 2 * c:, :])
    return logit_w, means, log_scales, coeffs

  def log_prob_terms(self, raw, x, x_in=None):
    """log P(x_ijc | context, x_ij<c) per sub-pixel: [B, H, W, C]."""
    logit_w, means, log_scales, coeffs = self.params(raw)
    return distributions.coupled_logistic_mixture_log_prob_terms(
        x, logit_w, means, log_scales, coeffs, self.levels, x_in)

  def noise(self, rng, shape):
    """Gumbel noise for the component of each pixel and a uniform per sub-pixel."""
    k_rng, u_rng = jax.random.split(rng)
    return (_gumbel(k_rng, (*shape[:-1], self.num_mixtures)),
            jax.random.uniform(u_rng, shape, minval=1e-5, maxval=1.0 - 1e-5))

  def sample(self, raw, noise):
    """Whole pixels: pick a component, then the colours in order, each mean
    coupled to the already sampled (quantised) earlier colours."""
    gumbel, u = noise
    logit_w, means, log_scales, coeffs = self.params(raw)
    k = jnp.argmax(logit_w + gumbel, -1)
    pick = lambda a: jnp.take_along_axis(a, k[..., None, None], -1)[..., 0]
    means, log_scales, coeffs = pick(means), pick(log_scales), pick(coeffs)
    log_scales = jnp.maximum(log_scales, -7.0)  # As in the likelihood.
    values, i = [], 0
    for ch in range(self.channels):
      mean = means[..., ch]
      for prev in range(ch):
        centre = distributions.to_unit_interval_centres(values[prev], self.levels)
        mean = mean + coeffs[..., i] * centre
        i += 1
      values.append(distributions.discretized_logistic_quantile(
          u[..., ch], mean, log_scales[..., ch], self.levels))
    return jnp.stack(values, -1)


NUM_MIXTURES = 10  # PixelCNN++'s components per pixel (arXiv:1701.05517).


def make_head(kind, levels, channels, num_mixtures=NUM_MIXTURES):
  """The head `model.head` names, for images of `channels` channels."""
  if kind == 'softmax':
    return SoftmaxHead(levels, channels)
  if kind == 'logistic_mixture':
    return LogisticMixtureHead(levels, channels, num_mixtures)
  raise ConfigError(f'unknown model.head {kind!r}; use softmax or '
                    'logistic_mixture')


def step_index(shape, steps_per_pixel):
  """Generation step of each sub-pixel [H, W, C] in raster-then-colour order.

  With one step per pixel (PixelCNN++) all colours of a pixel share a step.
  """
  h, w, c = shape
  pixel = np.arange(h * w).reshape(h, w, 1)
  if steps_per_pixel == 1:
    return np.broadcast_to(pixel, (h, w, c)).copy()
  return pixel * c + np.arange(c).reshape(1, 1, c)
