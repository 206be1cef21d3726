"""Decoder likelihoods p(x|z): one class per distribution, one interface.

* `BernoulliLikelihood`: binary pixels (binarized MNIST, arXiv:1509.00519);
  grey-level data are binarized afresh at every step (dynamic binarization).
* `LogisticMixtureLikelihood`: the discretized logistic mixture of PixelCNN++
  (arXiv:1701.05517 Sec. 2.1) for integer data, one mixture per sub-pixel;
  its log-likelihood is exact, so it reports bits/dim.
* `GaussianLikelihood`: a diagonal Gaussian for continuous features (M2 on
  top of M1's latents, arXiv:1406.5298 Sec. 3.2); it has no pmf, so it
  cannot be used for bits-back coding.

Every class answers the same questions, so the VAE, its objective and the
bits-back coder (arXiv:1901.04866) never ask which distribution they hold:

  params_per_dim           decoder outputs per data dimension
  prepare(x, rng)          (encoder input, target) of a raw training batch
  encoder_input(x)         the deterministic encoder input of data as they are
  log_prob(target, params) log p(target | params) per example
  sample(rng, params)      draws of x
  picture(rng, params)     an integer image of `picture_levels` levels
  reports_bpd              whether log_prob converts to bits/dim of the data
  coded_levels, pmf(params) the per-sub-pixel pmf bits-back coding needs
  coding_cdf(params)       the same as continuous CDFs (compressed files from
                           format 3 on): a `coding.rans.QuantizedCDF` family

`likelihood_from_config` is the only place that reads the config's name.
The formulas live in common/distributions.py.
"""
import abc
import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from common import bpd
from common import distributions
from common.errors import ConfigError


class DecoderLikelihood(abc.ABC):
  """The interface of every decoder likelihood over data of `levels` values
  per dimension (0 for continuous data). Decoder outputs `params` have shape
  [N, *data_shape, params_per_dim]."""

  levels: int
  # Whether log_prob is the exact log-probability of the raw integer data,
  # so that it converts to bits/dim (`common.bpd.nats_to_bpd`).
  reports_bpd: ClassVar[bool] = False

  @property
  @abc.abstractmethod
  def params_per_dim(self):
    """Decoder output channels per data dimension."""

  @abc.abstractmethod
  def prepare(self, x, rng):
    """(encoder input, target) for a raw training or evaluation batch x."""

  @abc.abstractmethod
  def encoder_input(self, x):
    """The encoder input of data x taken as they are, without randomness:
    what bits-back coding and the ELBO of coded images feed the encoder."""

  @abc.abstractmethod
  def log_prob(self, target, params):
    """log p(target | params) summed per example: [N]."""

  @abc.abstractmethod
  def sample(self, rng, params):
    """Draws x ~ p(x | params): [N, *data_shape]."""

  def picture(self, rng, params):
    """An integer picture of the decoder's output, of `picture_levels` levels
    (a sample unless the class says otherwise)."""
    return self.sample(rng, params)

  @property
  def picture_levels(self):
    return self.levels

  @property
  @abc.abstractmethod
  def coded_levels(self):
    """Symbols per sub-pixel that bits-back coding codes."""

  @abc.abstractmethod
  def pmf(self, params):
    """P(x_d = 0..coded_levels-1 | params) per sub-pixel as float64 numpy,
    shape [N, *data_shape, coded_levels]; computed eagerly, so the encoder
    and the decoder of a coder get identical tables from identical params."""

  @abc.abstractmethod
  def coding_cdf(self, params):
    """(family, float64 parameters [N, *data_shape, P], edges [levels - 1]
    or None) of the per-sub-pixel CDFs that `coding.rans.QuantizedCDF`
    codes with: the family's name, its parameters per sub-pixel and the
    boundaries between consecutive levels. numpy, so encoder and decoder
    compute identical values from identical params."""


@dataclasses.dataclass(frozen=True)
class BernoulliLikelihood(DecoderLikelihood):
  """Independent Bernoulli pixels with logits from the decoder.

  Attributes:
    levels: grey levels of the raw data; 2 means binary data, anything more
      is binarized afresh at every call of `prepare` (arXiv:1509.00519 Sec. 5).
  """
  levels: int

  def __post_init__(self):
    if self.levels < 2:
      raise ConfigError('the bernoulli likelihood needs integer data '
                        '(levels >= 2)')

  params_per_dim = property(lambda self: 1)

  def prepare(self, x, rng):
    """Both are the binarized data: a fresh draw per call for grey levels."""
    x_bin = bpd.binarize(rng, x, self.levels)
    return x_bin, x_bin

  def encoder_input(self, x):
    """Grey levels in [0, 1], x / (levels - 1): the expectation of the
    binarized images the encoder was trained on (binary images as they are,
    which is what bits-back coding feeds it)."""
    return x.astype(jnp.float32) / (self.levels - 1)

  def log_prob(self, target, params):
    return distributions.bernoulli_log_prob(target, params[..., 0])

  def sample(self, rng, params):
    return jax.random.bernoulli(
        rng, jax.nn.sigmoid(params[..., 0])).astype(jnp.int32)

  def mean_image(self, params):
    """The decoder's mean as a uint8 picture of 256 levels."""
    return jnp.round(255 * jax.nn.sigmoid(params[..., 0])).astype(jnp.uint8)

  def picture(self, rng, params):
    """The mean image: binary samples say little about a Bernoulli decoder."""
    del rng
    return self.mean_image(params)

  picture_levels = property(lambda self: 256)
  coded_levels = property(lambda self: 2)

  def pmf(self, params):
    # float64 from the float32 logits: tails stay resolved.
    p1 = special.expit(np.asarray(params[..., 0], np.float64))
    return np.stack([1.0 - p1, p1], -1)

  def coding_cdf(self, params):
    return 'bernoulli_logit', np.asarray(params[..., :1], np.float64), None


@dataclasses.dataclass(frozen=True)
class LogisticMixtureLikelihood(DecoderLikelihood):
  """A discretized logistic mixture per sub-pixel (arXiv:1701.05517 Sec. 2.1).

  The decoder's 3K outputs per sub-pixel are the logit weights, the means
  (through tanh, in (-1, 1)) and the log scales of K components.

  Attributes:
    levels: values per sub-pixel of the integer data (>= 2).
    num_mixtures: K, components per sub-pixel.
  """
  levels: int
  num_mixtures: int = 5
  reports_bpd: ClassVar[bool] = True

  def __post_init__(self):
    if self.levels < 2:
      raise ConfigError('logistic_mixture needs integer data (levels >= 2)')
    if self.num_mixtures < 1:
      raise ConfigError('logistic_mixture needs num_mixtures >= 1')

  params_per_dim = property(lambda self: 3 * self.num_mixtures)

  def prepare(self, x, rng):
    """The encoder sees bin centres in [-1, 1]; the target is the integer data."""
    del rng
    return self.encoder_input(x), x

  def encoder_input(self, x):
    return distributions.to_unit_interval_centres(x, self.levels)

  @staticmethod
  def mixture_params(params):
    """(logit weights, means in (-1, 1), log scales), each [..., K], of the
    raw decoder output [..., 3K]."""
    w, mu, log_s = jnp.split(params, 3, axis=-1)
    return w, jnp.tanh(mu), log_s

  def log_prob(self, target, params):
    return distributions.discretized_logistic_mixture_log_prob(
        target, *self.mixture_params(params), self.levels)

  def sample(self, rng, params):
    return distributions.discretized_logistic_mixture_sample(
        rng, *self.mixture_params(params), self.levels)

  coded_levels = property(lambda self: self.levels)

  def pmf(self, params):
    """The bin masses the training loss uses, mixed over the components."""
    w, mu, log_s = self.mixture_params(jnp.asarray(params))
    flat = lambda a: a.reshape(-1, self.num_mixtures)
    pmf = distributions.discretized_logistic_mixture_pmf(
        flat(w), flat(mu), flat(log_s), self.levels)
    return pmf.reshape(*params.shape[:-1], self.levels)

  def coding_cdf(self, params):
    """The mixture's CDF sum_k pi_k sigmoid((e - mu_k) / s_k) at the bin
    edges e, with the training loss's scale clamp: float64 weights pi
    (softmax), means (tanh) and inverse scales 1 / s."""
    raw = np.asarray(params, np.float64)
    logits, mu, log_s = np.split(raw, 3, axis=-1)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    inv_s = np.exp(-np.maximum(log_s, distributions.MIN_LOG_SCALE))
    return ('logistic_mixture', np.concatenate([w, np.tanh(mu), inv_s], -1),
            distributions.bin_edges(self.levels))


@dataclasses.dataclass(frozen=True)
class GaussianLikelihood(DecoderLikelihood):
  """A diagonal Gaussian over continuous features (arXiv:1406.5298 Sec. 3.2).

  The decoder's two outputs per dimension are the mean and a raw log scale
  that a soft floor keeps above `log_scale_floor`.

  Attributes:
    levels: must be 0 (continuous data).
  """
  levels: int = 0

  # A continuous likelihood is unbounded as sigma -> 0, and M2 on M1's 50
  # latents (a 50-d latent for 50-d data) can chase it; unfloored, the M1+M2
  # loss reached 1e10 within 500 steps.
  log_scale_floor: ClassVar[float] = -5.0

  def __post_init__(self):
    if self.levels != 0:
      raise ConfigError('the gaussian likelihood is for continuous features')

  params_per_dim = property(lambda self: 2)

  def prepare(self, x, rng):
    del rng
    return x, x

  def encoder_input(self, x):
    return x

  def log_scale(self, params):
    floor = self.log_scale_floor
    return floor + jax.nn.softplus(params[..., 1] - floor)

  def log_prob(self, target, params):
    return distributions.diagonal_normal_log_prob(
        target, params[..., 0], self.log_scale(params))

  def sample(self, rng, params):
    return distributions.diagonal_normal_sample(
        rng, params[..., 0], self.log_scale(params))

  _NO_PICTURE = ('the gaussian likelihood models continuous features, not '
                 'images: it has no picture')

  def picture(self, rng, params):
    raise ConfigError(self._NO_PICTURE)

  @property
  def picture_levels(self):
    raise ConfigError(self._NO_PICTURE)

  def _not_codable(self):
    return ConfigError('the gaussian likelihood is continuous: bits-back '
                       'coding needs a pmf over discrete levels (use a '
                       'bernoulli or logistic_mixture decoder)')

  @property
  def coded_levels(self):
    raise self._not_codable()

  def pmf(self, params):
    raise self._not_codable()

  def coding_cdf(self, params):
    raise self._not_codable()


def likelihood_from_config(name, levels, num_mixtures=5):
  """The decoder likelihood a config names, for data of `levels` values.

  Args:
    name: 'bernoulli', 'logistic_mixture' or 'gaussian'.
    levels: values per dimension of the data (0 for continuous features).
    num_mixtures: components per sub-pixel of 'logistic_mixture'.

  Raises:
    ConfigError (a ValueError) for an unknown name or data it cannot model.
  """
  if name == 'bernoulli':
    return BernoulliLikelihood(levels)
  if name == 'logistic_mixture':
    return LogisticMixtureLikelihood(levels, num_mixtures)
  if name == 'gaussian':
    return GaussianLikelihood(levels)
  raise ConfigError(f'unknown likelihood {name!r}; use bernoulli, '
                    'logistic_mixture or gaussian')
