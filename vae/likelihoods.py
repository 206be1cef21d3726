"""Decoder likelihoods p(x|z): how decoder outputs score and generate data.

`bernoulli` is for binary data (binarized MNIST, arXiv:1509.00519);
`logistic_mixture` is the discretized logistic mixture of PixelCNN++
(arXiv:1701.05517) for 8-bit data, one mixture per sub-pixel; `gaussian` is a
diagonal Gaussian for continuous features (M2 on top of M1's latents,
arXiv:1406.5298 Sec. 3.2). The formulas live in common/distributions.py.
"""
import dataclasses

import jax
import jax.numpy as jnp

from common import bpd
from common import distributions
from common.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Likelihood:
  """A decoder likelihood over data of shape `data_shape`.

  Attributes:
    kind: 'bernoulli', 'logistic_mixture' or 'gaussian'.
    levels: discrete values per dimension of the data (0 for continuous).
    num_mixtures: components per sub-pixel for 'logistic_mixture'.
  """
  kind: str
  levels: int
  num_mixtures: int = 5

  def __post_init__(self):
    if self.kind not in ('bernoulli', 'logistic_mixture', 'gaussian'):
      raise ConfigError(f'unknown likelihood {self.kind!r}; use bernoulli, '
                        'logistic_mixture or gaussian')
    if self.kind == 'logistic_mixture' and self.levels < 2:
      raise ConfigError('logistic_mixture needs integer data (levels >= 2)')
    if self.kind == 'gaussian' and self.levels != 0:
      raise ConfigError('the gaussian likelihood is for continuous features')

  @property
  def params_per_dim(self):
    return {'bernoulli': 1, 'gaussian': 2,
            'logistic_mixture': 3 * self.num_mixtures}[self.kind]

  def prepare(self, x, rng):
    """(encoder input, target) for a raw batch x.

    Bernoulli: both are the binarized data (dynamic binarization of 8-bit
    data, a fresh draw per call). Logistic mixture: the encoder sees bin
    centres in [-1, 1], the target is the integer data. Gaussian: features.
    """
    if self.kind == 'bernoulli':
      x_bin = bpd.binarize(rng, x, self.levels)
      return x_bin, x_bin
    if self.kind == 'logistic_mixture':
      return distributions.to_unit_interval_centres(x, self.levels), x
    return x, x

  def log_prob(self, target, params):
    """log p(target | params) per example, params [N, *data_shape, P]."""
    if self.kind == 'bernoulli':
      return distributions.bernoulli_log_prob(target, params[..., 0])
    if self.kind == 'gaussian':
      return distributions.diagonal_normal_log_prob(
          target, params[..., 0], self._gaussian_log_scale(params))
    return distributions.discretized_logistic_mixture_log_prob(
        target, *self.mixture_params(params), self.levels)

  @staticmethod
  def mixture_params(params):
    """(logit weights, means in (-1, 1), log scales) of a logistic mixture
    decoder's raw output [..., 3K]; the coders read the same parameters."""
    w, mu, log_s = jnp.split(params, 3, axis=-1)
    return w, jnp.tanh(mu), log_s

  @staticmethod
  def _gaussian_log_scale(params, floor=-5.0):
    # A soft floor on log sigma: a continuous likelihood is unbounded as
    # sigma -> 0, and M2 on M1's 50 latents (a 50-d latent for 50-d data) can
    # chase it; unfloored, the M1+M2 loss reached 1e10 within 500 steps.
    return floor + jax.nn.softplus(params[..., 1] - floor)

  def mean_image(self, params):
    """A uint8 picture of the decoder's output (its mean for Bernoulli)."""
    if self.kind == 'bernoulli':
      return jnp.round(255 * jax.nn.sigmoid(params[..., 0])).astype(jnp.uint8)
    raise ValueError('mean_image is for the Bernoulli likelihood')

  def sample(self, rng, params):
    if self.kind == 'bernoulli':
      return jax.random.bernoulli(rng, jax.nn.sigmoid(params[..., 0])).astype(jnp.int32)
    if self.kind == 'gaussian':
      return distributions.diagonal_normal_sample(
          rng, params[..., 0], self._gaussian_log_scale(params))
    return distributions.discretized_logistic_mixture_sample(
        rng, *self.mixture_params(params), self.levels)
