"""Composable codecs over an rANS message: push(msg, symbols) -> msg and
pop(msg) -> (msg, symbols), exact inverses of each other.

Distributions become exact integer frequency tables (`quantize_pmf`) in
which every symbol the model allows gets at least one slot out of
2^precision, so nothing the model can emit is uncodable, and the tables are
built deterministically so encoder and decoder agree bit for bit. Symbols
of shape S occupy prod(S) consecutive lanes from an `offset`. Symbols must
have an integer (or bool) dtype: anything else is a `rans.CodingError`,
never a silent cast.

* `Uniform(bits)`, `Categorical(freqs)` (a table per lane), `Bernoulli(p)`;
* `DiscretizedLogisticMixture(...)`: 8-bit (or L-level) data under a
  per-sub-pixel mixture, its pmf from `common.distributions`;
* `DiscretizedGaussianBuckets(mean, scale, bits)`: a Gaussian's mass on the
  2^bits equal-mass buckets of the standard normal (BB-ANS's latent
  discretisation, arXiv:1901.04866 Sec. 3.2);
* `serial([c1, c2, ...])` and `parallel([...], [slices])` compose codecs.
"""
from typing import Callable, NamedTuple

import numpy as np
from scipy import special

from coding import kernels
from coding import rans


class Codec(NamedTuple):
  push: Callable
  pop: Callable


def quantize_pmf(probs, precision):
  """Integer frequencies [..., K] >= 1 summing to exactly 2^precision.

  Deterministic: floor of p * (2^precision - K), plus one slot each, then
  the remainder to the largest fractional parts (ties to the lower index).
  Needs K <= 2^precision. Works on float64 probabilities; rows are
  renormalised first.

  The remainder r of a row (< K) goes to the fractional parts above the
  row's r-th largest and to the first of those equal to it: one sort of
  the values for the threshold and one compiled pass
  (`kernels.add_remainders`) instead of ranking every entry with two
  argsorts; the same tables, several times faster.
  """
  p = np.asarray(probs, np.float64)
  k = p.shape[-1]
  total = 1 << precision
  if k > total:
    raise rans.CodingError(f'{k} symbols do not fit in {precision}-bit tables')
  p = np.where(np.isfinite(p) & (p > 0), p, 0.0)
  sums = p.sum(-1, keepdims=True)
  p = np.where(sums > 0, p / np.where(sums > 0, sums, 1), 1.0 / k)
  spare = total - k
  scaled = p * spare
  floor = np.floor(scaled)
  # C order, so the kernel's [rows, K] view below is of freqs itself.
  freqs = np.ascontiguousarray(floor, np.int64)
  short = spare - freqs.sum(-1)                   # In 0..K-1 per row.
  frac = (scaled - floor).reshape(-1, k)
  short = short.reshape(-1)
  threshold = np.take_along_axis(np.sort(frac, -1),
                                 k - np.maximum(short, 1)[:, None], -1)[:, 0]
  kernels.add_remainders(freqs.reshape(-1, k), frac, short, threshold)
  return freqs + 1


def _integer_symbols(symbols, what='symbols'):
  """Symbols as int64, refusing non-integer dtypes (1.5 is never cast)."""
  s = np.asarray(symbols)
  if s.dtype.kind not in 'iub':
    raise rans.CodingError(f'{what} must be integers, got an array of {s.dtype}')
  if s.dtype.kind == 'u' and s.size and s.max() > np.iinfo(np.int64).max:
    raise rans.CodingError(f'{what} out of range')
  return s.astype(np.int64)


def Categorical(freqs, precision):
  """Symbols in 0..K-1 per lane under integer tables freqs [n, K]."""
  freqs = _integer_symbols(freqs, 'frequency tables')
  cum = np.cumsum(freqs, -1)
  starts = cum - freqs

  def push(msg, symbols, offset=0):
    s = _integer_symbols(symbols).reshape(-1, 1)
    if s.shape[0] != freqs.shape[0]:
      raise rans.CodingError(f'{s.shape[0]} symbols for {freqs.shape[0]} tables')
    if np.any(s < 0) or np.any(s >= freqs.shape[-1]):
      raise rans.CodingError('symbol outside the table')
    f = np.take_along_axis(freqs, s, -1)[:, 0]
    c = np.take_along_axis(starts, s, -1)[:, 0]
    return rans.push(msg, c, f, precision, offset)

  def pop(msg, offset=0):
    slot = rans.peek(msg, freqs.shape[0], precision, offset).astype(np.int64)
    s = np.sum(cum <= slot[:, None], -1)          # First cum > slot.
    s = np.minimum(s, freqs.shape[-1] - 1)
    f = np.take_along_axis(freqs, s[:, None], -1)[:, 0]
    c = np.take_along_axis(starts, s[:, None], -1)[:, 0]
    return rans.pop(msg, c, f, precision, offset), s

  return Codec(push, pop)


def Uniform(bits, n):
  """n symbols uniform on 0..2^bits - 1."""
  def push(msg, symbols, offset=0):
    s = _integer_symbols(symbols).ravel()
    if s.size != n or np.any(s < 0) or np.any(s >= 1 << bits):
      raise rans.CodingError(f'uniform codec needs {n} symbols in [0, 2^{bits})')
    return rans.push(msg, s, np.ones(n, np.int64), bits, offset)

  def pop(msg, offset=0):
    s = rans.peek(msg, n, bits, offset).astype(np.int64)
    return rans.pop(msg, s, np.ones(n, np.int64), bits, offset), s

  return Codec(push, pop)


def Bernoulli(probs, precision):
  """Binary symbols with P(1) = probs [n]."""
  p = np.asarray(probs, np.float64).ravel()
  return Categorical(quantize_pmf(np.stack([1 - p, p], -1), precision),
                     precision)


def DiscretizedLogisticMixture(logit_weights, means, log_scales, levels,
                               precision):
  from common import distributions  # pylint: disable=g-import-not-at-top
  return Categorical(quantize_pmf(distributions.discretized_logistic_mixture_pmf(
      logit_weights, means, log_scales, levels), precision), precision)


def bucket_edges(bits):
  """Edges of the 2^bits equal-mass buckets of N(0, 1) (+-inf at the ends)."""
  return special.ndtri(np.linspace(0.0, 1.0, (1 << bits) + 1))


def bucket_centres(bits):
  """The value each bucket stands for: its median under N(0, 1)."""
  n = 1 << bits
  return special.ndtri((np.arange(n) + 0.5) / n)


def gaussian_bucket_pmf(mean, scale, bits):
  """Mass of N(mean, scale^2) on each prior bucket: [n, 2^bits]."""
  edges = bucket_edges(bits)
  m = np.asarray(mean, np.float64).ravel()[:, None]
  s = np.asarray(scale, np.float64).ravel()[:, None]
  cdf = special.ndtr((edges[None, :] - m) / s)
  return np.diff(cdf, axis=-1)


def DiscretizedGaussianBuckets(mean, scale, bits, precision):
  """Bucket indices under N(mean, scale^2) discretised on the prior's
  equal-mass buckets (so the prior itself is `Uniform(bits)`)."""
  return Categorical(quantize_pmf(gaussian_bucket_pmf(mean, scale, bits),
                                  precision), precision)


def parallel(codecs, sizes):
  """Codecs side by side on consecutive lane ranges of sizes [n1, n2, ...];
  their symbols are a list of arrays. (They share the word stack, so pops
  run in reverse order.)"""
  offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)

  def push(msg, symbols, offset=0):
    for codec, part, off in zip(codecs, symbols, offsets):
      msg = codec.push(msg, part, offset + off)
    return msg

  def pop(msg, offset=0):
    out = []
    for codec, off in zip(codecs[::-1], offsets[::-1]):
      msg, part = codec.pop(msg, offset + off)
      out.append(part)
    return msg, out[::-1]

  return Codec(push, pop)


def serial(codecs):
  """Pushes the parts in order; pops them in reverse (a stack)."""
  def push(msg, symbols, offset=0):
    for codec, part in zip(codecs, symbols):
      msg = codec.push(msg, part, offset)
    return msg

  def pop(msg, offset=0):
    out = []
    for codec in reversed(codecs):
      msg, part = codec.pop(msg, offset)
      out.append(part)
    return msg, out[::-1]

  return Codec(push, pop)
