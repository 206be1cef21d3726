"""Bits-back coding with a VAE: BB-ANS (Townsend, Bird, Barber 2019,
arXiv:1901.04866).

Each image costs -log p(x|z) - log p(z) + log q(z|x) bits, the negative ELBO,
because the encoder first *pops* z from q(z|x), taking back bits already on
the stack, then pushes x with p(x|z) and z with p(z):

  encode x:  z <- pop q(z|x);  push x ~ p(x|z);  push z ~ p(z)
  decode:    z <- pop p(z);    x <- pop p(x|z);  push z ~ q(z|x)

The latent is discretised on the 2^bucket_bits equal-mass buckets of the
N(0, 1) prior, so the prior is uniform over buckets and q(z|x) is the mass
of N(mu, sigma^2) on each bucket (Sec. 3.2); a bucket stands for its median.

Chains run in parallel: with B chains the message has B lanes and image i
goes to chain i mod B; the images of a chain are coded one after another,
each popping the bits its predecessor pushed. Sub-pixels and latent
dimensions are coded one column at a time on those B lanes, so the per-lane
flush overhead (64 bits per lane) is paid once per chain, not per pixel.
The first pop of each chain needs clean bits: `initial_words` random words
start the message, and decoding ends by returning exactly them.

The model's evaluation is one jitted function per batch shape, run on the
same inputs by encoder and decoder, and its outputs become integer tables
in float64 numpy; so both sides build identical tables.
"""
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from coding import codecs
from coding import rans
from common.errors import ConfigError


class VAECoderModel(NamedTuple):
  """What bits-back needs from a trained one-layer VAE (jitted functions)."""
  posterior: callable   # x [B, ...] ints -> (mean, scale) [B, Z] float64
  decoder_pmf: callable  # z [B, Z] -> pmf [B, D, L] float64
  latent_dim: int
  levels: int           # Values per sub-pixel of the coded data.
  data_shape: tuple


def vae_coder_model(objective, variables):
  """Wraps a `vae.objective.VAEObjective` and its variables.

  The decoder likelihood supplies what coding needs: the encoder input of
  the coded integer images (`encoder_input`), the symbols per sub-pixel
  (`coded_levels`: 2 for a Bernoulli decoder, which codes binary images, or
  the levels a logistic mixture was trained on) and the per-sub-pixel
  `pmf`. A continuous (Gaussian) decoder refuses with a ConfigError.
  """
  model = objective.model
  lik = model.likelihood
  if len(model.latents) != 1 or model.iaf_steps:
    raise ConfigError('bits-back coding here needs a VAE with one Gaussian '
                      'stochastic layer (no IAF, no second layer)')
  levels = lik.coded_levels  # A ConfigError for a continuous likelihood.

  @jax.jit
  def _posterior(x):
    mean, log_scale, _ = model.apply(variables, lik.encoder_input(x),
                                     method=model.encode)
    return mean, jnp.exp(log_scale)

  @jax.jit
  def _decoder(z):
    return model.apply(variables, z, method=lambda m, z: m.decoder(z))

  def posterior(x):
    mean, scale = _posterior(jnp.asarray(x))
    return np.asarray(mean, np.float64), np.asarray(scale, np.float64)

  def decoder_pmf(z):
    pmf = lik.pmf(_decoder(jnp.asarray(z, jnp.float32)))
    return pmf.reshape(z.shape[0], -1, levels)

  return VAECoderModel(posterior, decoder_pmf, model.latents[0], levels,
                       tuple(model.data_shape))


def _columns(cols):
  """A codec for symbols [B, D] coded column by column on B lanes, column d
  with codec cols[d] (popped in reverse)."""
  def push(msg, symbols):
    for d, codec in enumerate(cols):
      msg = codec.push(msg, symbols[:, d])
    return msg

  def pop(msg):
    out = [None] * len(cols)
    for d in reversed(range(len(cols))):
      msg, out[d] = cols[d].pop(msg)
    return msg, np.stack(out, 1)

  return codecs.Codec(push, pop)


def _categorical_columns(freqs, precision):
  """Columns with their own tables freqs[:, d] ([B, D, K])."""
  return _columns([codecs.Categorical(freqs[:, d], precision)
                   for d in range(freqs.shape[1])])


def _uniform_columns(bits, b, d):
  return _columns([codecs.Uniform(bits, b)] * d)


@functools.lru_cache(maxsize=8)
def _centres(bits):
  return codecs.bucket_centres(bits).astype(np.float32)


class BBANS:
  """Bits-back codec for batches of B images [B, *data_shape] on B lanes."""

  def __init__(self, model: VAECoderModel, bucket_bits=8, precision=24):
    if not 1 <= bucket_bits <= 16 or not bucket_bits < precision <= 32:
      raise ConfigError('need 1 <= bucket_bits <= 16 and bucket_bits < '
                        'precision <= 32')
    self.model = model
    self.bits = bucket_bits
    self.precision = precision

  def _posterior_codec(self, x):
    mean, scale = self.model.posterior(x)
    pmf = codecs.gaussian_bucket_pmf(mean, scale, self.bits)
    b, z = mean.shape
    return _categorical_columns(
        codecs.quantize_pmf(pmf, self.precision).reshape(b, z, -1),
        self.precision)

  def _likelihood_codec(self, buckets):
    pmf = self.model.decoder_pmf(_centres(self.bits)[buckets])
    return _categorical_columns(codecs.quantize_pmf(pmf, self.precision),
                                self.precision)

  def push(self, msg, x):
    """Encodes images x [B, ...] (one per lane)."""
    b = x.shape[0]
    flat = x.reshape(b, -1).astype(np.int64)
    msg, buckets = self._posterior_codec(x).pop(msg)          # Bits back.
    msg = self._likelihood_codec(buckets).push(msg, flat)
    return _uniform_columns(self.bits, b, self.model.latent_dim).push(msg, buckets)

  def pop(self, msg, b):
    """Decodes B images; the exact inverse of `push`."""
    msg, buckets = _uniform_columns(self.bits, b, self.model.latent_dim).pop(msg)
    msg, flat = self._likelihood_codec(buckets).pop(msg)
    x = flat.reshape(b, *self.model.data_shape).astype(np.uint8)
    msg = self._posterior_codec(x).push(msg, buckets)         # Bits returned.
    return msg, x


def encode_dataset(coder, images, chains, initial_words, seed=0, progress=None):
  """Chains BB-ANS over images [N, ...]: returns (message, initial message).

  Image i is coded by chain i mod `chains`; batches go in order, so the
  decoder pops them in reverse.
  """
  n = len(images)
  if n % chains:
    raise ConfigError(f'{n} images do not split into {chains} chains evenly')
  init = rans.random_message(chains, initial_words, seed)
  msg = init.copy()
  for i, start in enumerate(range(0, n, chains)):
    msg = coder.push(msg, images[start:start + chains])
    if progress:
      progress(i + 1, n // chains)
  return msg, init


def decode_dataset(coder, msg, num_images, chains, progress=None):
  batches = []
  steps = num_images // chains
  for i in range(steps):
    msg, x = coder.pop(msg, chains)
    batches.append(x)
    if progress:
      progress(i + 1, steps)
  return msg, np.concatenate(batches[::-1])
