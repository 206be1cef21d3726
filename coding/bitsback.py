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
compiled call over all its columns (`rans.push_cdf` / `pop_cdf` with
quantized CDFs, or `rans.push_columns` / `pop_columns` with whole tables).
The first pop of each chain needs clean bits: `initial_words` random words
start the message, and decoding ends by returning exactly them.

The model's evaluation is one jitted function per batch shape, run on the
same inputs by encoder and decoder, and its outputs become symbol intervals
in float64, so both sides code with identical intervals. Two schemes
(`TABLES`) compute them: 'cdf' (file format 3, the default) evaluates each
symbol's quantized CDF inside the compiled coder, twice per push and about
log2(K) times per pop (`rans.push_cdf`); 'pmf' (formats 1 and 2) builds
every symbol's whole table from the model's pmf (`codecs.quantize_pmf`),
K + 1 evaluations of the CDF or pmf for K symbols.
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
  cdf: callable         # raw output -> (family, params [B, D, P'], edges)
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

  return VAECoderModel(posterior, decoder, pmf, lik.coding_cdf,
                       model.latents[0], levels, tuple(model.data_shape))


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


class _Part(NamedTuple):
  """One part of an image's code (its posterior or its likelihood) for B
  images of D symbols each, coded a column (one symbol of every image) at
  a time on the B lanes."""
  push: callable   # (msg, symbols [B, D]) -> msg
  pop: callable    # msg -> (msg, symbols [B, D])


def _table_part(cum, precision):
  """A part coded with whole cumulative tables cum [D, B, K+1]."""
  def pop(msg):
    msg, symbols = rans.pop_columns(msg, cum, precision)
    return msg, symbols.T
  return _Part(lambda msg, s: rans.push_columns(msg, s.T, cum, precision), pop)


def _cdf_part(family, params, levels, edges, precision):
  """A part coded with quantized CDFs, params [B, D, P] per symbol."""
  cdf = rans.QuantizedCDF(family, np.swapaxes(params, 0, 1), levels, edges)
  def pop(msg):
    msg, symbols = rans.pop_cdf(msg, cdf, precision)
    return msg, symbols.T
  return _Part(lambda msg, s: rans.push_cdf(msg, s.T, cdf, precision), pop)


@functools.lru_cache(maxsize=8)
def _centres(bits):
  return codecs.bucket_centres(bits).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _interior_edges(bits):
  return codecs.bucket_edges(bits)[1:-1]


# How the parts' intervals are computed (see the module docstring); their
# intervals differ, so a file is decoded with the scheme it was written with.
TABLES = ('pmf', 'cdf')


class BBANS:
  """Bits-back codec for batches of B images [B, *data_shape] on B lanes."""

  def __init__(self, model: VAECoderModel, bucket_bits=8, precision=24,
               tables='cdf'):
    if not 1 <= bucket_bits <= 16 or not bucket_bits < precision <= 32:
      raise ConfigError('need 1 <= bucket_bits <= 16 and bucket_bits < '
                        'precision <= 32')
    if tables not in TABLES:
      raise ConfigError(f'tables must be one of {TABLES}, got {tables!r}')
    self.model = model
    self.bits = bucket_bits
    self.precision = precision
    self.tables = tables

  def _posterior(self, x):
    """q(z|x) on the buckets, one symbol per latent dimension."""
    mean, scale = self.model.posterior(x)
    if self.tables == 'cdf':
      return _cdf_part('gaussian_buckets', np.stack([mean, scale], -1),
                       1 << self.bits, _interior_edges(self.bits),
                       self.precision)
    pmf = lambda m, s: codecs.gaussian_bucket_pmf(m, s, self.bits).reshape(
        *m.shape, -1)
    return _table_part(_tables(pmf, (mean, scale), self.precision),
                       self.precision)

  def _likelihood(self, buckets):
    """p(x|z) at the buckets' centres, one symbol per sub-pixel."""
    raw = self.model.decoder(_centres(self.bits)[buckets])
    if self.tables == 'cdf':
      family, params, edges = self.model.cdf(raw)
      return _cdf_part(family, params, self.model.levels, edges,
                       self.precision)
    return _table_part(_tables(lambda p: p, (self.model.pmf(raw),),
                               self.precision), self.precision)

  def _prior_tables(self):
    """The prior is uniform on the buckets: one table for every symbol."""
    return rans.cumulative(np.ones(1 << self.bits, np.int64))

  def push(self, msg, x):
    """Encodes images x [B, ...] (one per lane)."""
    b = x.shape[0]
    flat = x.reshape(b, -1).astype(np.int64)
    msg, buckets = self._posterior(x).pop(msg)                # Bits back.
    msg = self._likelihood(buckets).push(msg, flat)
    return rans.push_columns(msg, buckets.T, self._prior_tables(), self.bits)

  def pop(self, msg, b):
    """Decodes B images; the exact inverse of `push`."""
    msg, buckets = rans.pop_columns(msg, self._prior_tables(), self.bits,
                                    shape=(self.model.latent_dim, b))
    buckets = buckets.T
    msg, flat = self._likelihood(buckets).pop(msg)
    x = flat.reshape(b, *self.model.data_shape).astype(np.uint8)
    return self._posterior(x).push(msg, buckets), x           # Bits returned.


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
