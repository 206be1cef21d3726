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
flush overhead (64 bits per lane) is paid once per chain, not per pixel;
each of the three parts of an image (posterior, likelihood, prior) is one
compiled call over all its columns (`rans.push_columns` / `pop_columns`).
The first pop of each chain needs clean bits: `initial_words` random words
start the message, and decoding ends by returning exactly them.

The model's evaluation is one jitted function per batch shape, run on the
same inputs by encoder and decoder, and its outputs become integer tables
in float64 numpy; so both sides build identical tables.
"""
import concurrent.futures
import functools
import os
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
  decoder: callable     # z [B, Z] -> raw decoder output [B, D, P]
  pmf: callable         # raw output [B, D, P] -> pmf [B, D, L] float64
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

  def decoder(z):
    out = np.asarray(_decoder(jnp.asarray(z, jnp.float32)))
    return out.reshape(z.shape[0], -1, lik.params_per_dim)

  def pmf(params):
    return lik.pmf(params).reshape(*params.shape[:2], levels)

  return VAECoderModel(posterior, decoder, pmf, model.latents[0], levels,
                       tuple(model.data_shape))


# Table building runs on chunks of images in threads (numpy, scipy's ndtr
# and the compiled kernels release the GIL). Only elementwise and per-row
# numpy work is chunked, whose values cannot depend on the chunking: XLA's
# results can depend on array shapes (the logistic mixture's pmf differs in
# the last bits between batch sizes), so anything from JAX is computed on
# the whole batch, as the encoder and the decoder always did, and a file
# decodes the same on a machine with any number of cores.
_WORKERS = max(1, min(8, len(os.sched_getaffinity(0))))
_POOL = concurrent.futures.ThreadPoolExecutor(_WORKERS)


def _tables(pmf_fn, args, precision):
  """Cumulative tables [D, B, K+1] of pmf_fn(*args) [B, D, K] for symbols
  [B, D] coded column by column on B lanes; args [B, ...] are split into
  image chunks that build their tables in parallel, so pmf_fn must be
  numpy computed image by image (no JAX: see above)."""
  n = len(args[0])
  chunks = min(_WORKERS, n)
  edges = np.linspace(0, n, chunks + 1).astype(int)
  def chunk(lo, hi):
    freqs = codecs.quantize_pmf(pmf_fn(*(a[lo:hi] for a in args)), precision)
    return rans.cumulative(np.swapaxes(freqs, 0, 1))
  if chunks == 1:
    return chunk(0, n)
  return np.concatenate(list(_POOL.map(chunk, edges[:-1], edges[1:])), 1)


def _push(msg, cum, symbols, precision):
  """Pushes symbols [B, D] (column d under cum[d], d = 0..D-1)."""
  return rans.push_columns(msg, symbols.T, cum, precision)


def _pop(msg, cum, precision):
  """Pops what `_push` pushed: symbols [B, D]."""
  msg, symbols = rans.pop_columns(msg, cum, precision)
  return msg, symbols.T


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

  def _posterior_tables(self, x):
    """q(z|x)'s tables on the buckets: [Z, B, 2^bits + 1]."""
    mean, scale = self.model.posterior(x)
    pmf = lambda m, s: codecs.gaussian_bucket_pmf(m, s, self.bits).reshape(
        *m.shape, -1)
    return _tables(pmf, (mean, scale), self.precision)

  def _likelihood_tables(self, buckets):
    """p(x|z)'s tables at the buckets' centres: [D, B, levels + 1]."""
    pmf = self.model.pmf(self.model.decoder(_centres(self.bits)[buckets]))
    return _tables(lambda p: p, (pmf,), self.precision)

  def _prior_tables(self):
    """The prior is uniform on the buckets: one table for every symbol."""
    return rans.cumulative(np.ones(1 << self.bits, np.int64))

  def push(self, msg, x):
    """Encodes images x [B, ...] (one per lane)."""
    b = x.shape[0]
    flat = x.reshape(b, -1).astype(np.int64)
    msg, buckets = _pop(msg, self._posterior_tables(x), self.precision)  # Bits back.
    msg = _push(msg, self._likelihood_tables(buckets), flat, self.precision)
    return rans.push_columns(msg, buckets.T, self._prior_tables(), self.bits)

  def pop(self, msg, b):
    """Decodes B images; the exact inverse of `push`."""
    msg, buckets = rans.pop_columns(msg, self._prior_tables(), self.bits,
                                    shape=(self.model.latent_dim, b))
    buckets = buckets.T
    msg, flat = _pop(msg, self._likelihood_tables(buckets), self.precision)
    x = flat.reshape(b, *self.model.data_shape).astype(np.uint8)
    msg = _push(msg, self._posterior_tables(x), buckets, self.precision)  # Bits returned.
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
