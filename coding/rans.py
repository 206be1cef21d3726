"""Vectorised rANS (Duda 2013, arXiv:1311.2540) in numpy: one 64-bit state
per lane, 32-bit words, integer frequency tables of `precision` bits.

A message is (head, tail): `head` is a uint64 array with one state per
lane, each kept in [2^32, 2^64); `tail` is a stack of uint32 words that
renormalisation spills to and refills from. Pushing a symbol with start c
and frequency f (out of 2^precision) into state x gives
    x' = (x // f) << precision + (x % f) + c,
after spilling the low 32 bits of x if x >= f * 2^(64 - precision), which
keeps x' < 2^64; popping inverts it exactly. The spill test is computed as
x >> (64 - precision) >= f, which cannot overflow: a symbol of probability
one (f = 2^precision, c = 0) never spills and leaves x unchanged. Lanes code
independent symbols side by side; a codec uses n consecutive lanes from an
offset (its symbol arrays are flattened to length n), and every lane must
exist (offset + n <= lanes).

Intervals are checked before any state changes: starts and frequencies must
have an integer dtype (floats are never cast), 0 <= start, 1 <= freq and
start + freq <= 2^precision; anything else is a `CodingError`.

Popping more information than a message holds is an error here, not a
silent stream of made-up bits: bits-back coding starts from explicit
initial words (`random_message`).

`push_columns` / `pop_columns` code a whole [T, n] block of symbols (column
t on the n lanes, t = 0..T-1) in one compiled call (`coding/kernels.py`)
and give exactly the message that T calls of `push` / `pop` give; `push` and
`pop` stay as the reference they are tested against.

`to_bytes` / `from_bytes` serialise a message: magic, format version, lane
count, tail length, a CRC-32 of the payload, then the heads and the words.
"""
import dataclasses
import operator
import struct
import zlib

import numpy as np

from coding import kernels
from common.errors import UserError

WORD_BITS = 32
HEAD_MIN = np.uint64(1 << 32)          # Lower bound of every head.
_WORD_MASK = np.uint64(0xFFFFFFFF)
_MAGIC = b'RANSMSG'
_VERSION = 1
_HEADER = struct.Struct('<7sBQQI')     # magic, version, lanes, words, crc32


class CodingError(UserError):
  """A message cannot be decoded: underflow, corruption or a bad table."""


class Message:
  """rANS state: heads [lanes] uint64 and a growable uint32 word stack."""

  def __init__(self, head, tail=None):
    self.head = np.asarray(head, np.uint64).copy()
    tail = np.zeros(0, np.uint32) if tail is None else np.asarray(tail, np.uint32)
    self._buf = np.zeros(max(1024, 2 * len(tail)), np.uint32)
    self._buf[:len(tail)] = tail
    self._len = len(tail)

  @property
  def tail(self):
    return self._buf[:self._len]

  @property
  def num_lanes(self):
    return self.head.size

  def num_bits(self):
    """Length of the message once serialised, payload only (no header)."""
    return 64 * self.head.size + WORD_BITS * self._len

  def copy(self):
    return Message(self.head, self.tail)

  def _push_words(self, words):
    n = len(words)
    self._reserve(n)
    self._buf[self._len:self._len + n] = words
    self._len += n

  def _reserve(self, n):
    """Room for n more words (a compiled push writes them in place)."""
    if self._len + n > len(self._buf):
      grown = np.zeros(max(2 * len(self._buf), self._len + n), np.uint32)
      grown[:self._len] = self._buf[:self._len]
      self._buf = grown

  def _pop_words(self, n):
    if n > self._len:
      raise CodingError(
          f'message underflow: {n} words needed, {self._len} left (the '
          'data is corrupt, or bits-back coding ran out of initial bits)')
    self._len -= n
    return self._buf[self._len:self._len + n].copy()

  def __eq__(self, other):
    return (np.array_equal(self.head, other.head)
            and np.array_equal(self.tail, other.tail))


def empty_message(num_lanes):
  return Message(np.full(num_lanes, HEAD_MIN, np.uint64))


def random_message(num_lanes, num_words, seed=0):
  """A message of uniformly random bits: the 'clean' initial bits that
  bits-back coding pops from before anything is pushed."""
  rng = np.random.default_rng(seed)
  head = rng.integers(1 << 32, 1 << 63, num_lanes, dtype=np.uint64, endpoint=False)
  head |= np.uint64(1 << 63) * rng.integers(0, 2, num_lanes, dtype=np.uint64)
  return Message(head, rng.integers(0, 1 << 32, num_words, dtype=np.uint32))


def _check_precision(precision):
  if isinstance(precision, bool):   # operator.index takes True as 1.
    raise CodingError(f'precision must be an integer, got {precision!r}')
  try:
    precision = operator.index(precision)
  except TypeError:
    raise CodingError(f'precision must be an integer, got {precision!r}') from None
  if not 1 <= precision <= 32:
    raise CodingError(f'precision must be in 1..32, got {precision}')
  return precision


def _check_lanes(msg, offset, n):
  """Lanes offset..offset+n-1 all exist in `msg`."""
  try:
    offset = operator.index(offset)
  except TypeError:
    raise CodingError(f'lane offset must be an integer, got {offset!r}') from None
  if offset < 0 or offset + n > msg.num_lanes:
    raise CodingError(f'lanes {offset}..{offset + n - 1} ({n} symbols from '
                      f'offset {offset}) are outside a {msg.num_lanes}-lane '
                      'message')
  return offset


def _table(starts, freqs, precision):
  """starts, freqs as uint64 [n] after checking the intervals [start,
  start + freq) are integer sub-intervals of [0, 2^precision)."""
  precision = _check_precision(precision)
  starts, freqs = np.asarray(starts), np.asarray(freqs)
  bad = ''
  if starts.dtype.kind not in 'iub' or freqs.dtype.kind not in 'iub':
    bad = f'starts of type {starts.dtype} and frequencies of type {freqs.dtype}'
  elif starts.size != freqs.size:
    bad = f'{starts.size} starts for {freqs.size} frequencies'
  else:
    total = 1 << precision
    # Checked in Python-int-safe steps: nothing may wrap around in uint64.
    if starts.size and (starts.min() < 0 or freqs.min() < 1
                        or starts.max() > total or freqs.max() > total):
      bad = 'a start below 0, or a frequency below 1 or above 2^precision'
    else:
      starts = starts.astype(np.uint64).ravel()
      freqs = freqs.astype(np.uint64).ravel()
      if np.any(starts + freqs > np.uint64(total)):
        bad = 'start + frequency above 2^precision'
  if bad:
    raise CodingError(
        f'invalid symbol interval ({bad}): every coded symbol needs integer '
        f'start >= 0 and frequency >= 1 with start + frequency <= '
        f'2^{precision}')
  return starts, freqs, precision


def push(msg, starts, freqs, precision, offset=0):
  """Encodes one symbol per lane (lanes offset..offset+n-1) given its
  [start, start + freq) out of 2^precision."""
  starts, freqs, precision = _table(starts, freqs, precision)
  offset = _check_lanes(msg, offset, starts.size)
  lanes = slice(offset, offset + starts.size)
  x = msg.head[lanes]
  # x >= freq * 2^(64 - precision), without forming the product (it is 2^64
  # for a symbol of probability one, which must never spill).
  spill = (x >> np.uint64(64 - precision)) >= freqs
  if np.any(spill):
    msg._push_words((x[spill] & _WORD_MASK).astype(np.uint32))
    x = np.where(spill, x >> np.uint64(WORD_BITS), x)
  q, r = np.divmod(x, freqs)
  msg.head[lanes] = (q << np.uint64(precision)) + r + starts
  return msg


def peek(msg, n, precision, offset=0):
  """The cumulative-frequency slots of n lanes: which symbols are next."""
  precision = _check_precision(precision)
  offset = _check_lanes(msg, offset, n)
  return msg.head[offset:offset + n] & np.uint64((1 << precision) - 1)


def pop(msg, starts, freqs, precision, offset=0):
  """Removes the symbols whose [start, start+freq) contain `peek`'s slots."""
  starts, freqs, precision = _table(starts, freqs, precision)
  n = starts.size
  offset = _check_lanes(msg, offset, n)
  slot = peek(msg, n, precision, offset)
  if np.any(slot < starts) or np.any(slot >= starts + freqs):
    raise CodingError('decoded slot outside its symbol: corrupt data or a '
                      'model that differs from the encoder\'s')
  # freq * (head >> precision) < 2^64 as freq <= 2^precision.
  x = freqs * (msg.head[offset:offset + n] >> np.uint64(precision)) + slot - starts
  refill = x < HEAD_MIN
  if np.any(refill):
    words = msg._pop_words(int(refill.sum())).astype(np.uint64)
    x[refill] = (x[refill] << np.uint64(WORD_BITS)) | words
  msg.head[offset:offset + n] = x
  return msg


def cumulative(freqs):
  """Cumulative tables [..., K+1] (0 first) of integer frequencies [..., K],
  as uint64: the tables `push_columns` and `pop_columns` code with."""
  freqs = np.asarray(freqs)
  if freqs.dtype.kind not in 'iub':
    raise CodingError(f'frequency tables must be integers, got {freqs.dtype}')
  if freqs.size and freqs.min() < 0:
    raise CodingError('a frequency table has a negative entry')
  cum = np.zeros((*freqs.shape[:-1], freqs.shape[-1] + 1), np.uint64)
  np.cumsum(freqs, -1, dtype=np.uint64, out=cum[..., 1:])
  return cum


def _columns_tables(cum, shape, precision):
  """(tables [T * n or 1, K+1], shared) for the kernels from cum [T, n, K+1]
  or one table [K+1] for every symbol of `shape`, after checking the
  tables are valid intervals."""
  cum = np.asarray(cum)
  if cum.dtype != np.uint64 or cum.ndim not in (1, 3) or cum.shape[-1] < 2:
    raise CodingError('columns need uint64 cumulative tables (from '
                      'rans.cumulative) [columns, lanes, K+1] or one [K+1], '
                      f'got {cum.dtype} {cum.shape}')
  if cum.ndim == 3 and cum.shape[:2] != tuple(shape):
    raise CodingError(f'tables for {cum.shape[:2]} symbols, not {tuple(shape)}')
  tables = np.ascontiguousarray(cum.reshape(-1, cum.shape[-1]))
  if not kernels.valid_tables(tables, np.uint64(1 << precision)):
    raise CodingError(f'invalid cumulative tables: each must start at 0, never '
                      f'decrease and end at most at 2^{precision}')
  return tables, cum.ndim == 1


def push_columns(msg, symbols, cum, precision, offset=0):
  """Pushes integer symbols [T, n] under cumulative tables cum [T, n, K+1]
  (`cumulative`; or one table [K+1] for all): column t on lanes
  offset..offset+n-1, in the order t = 0..T-1. The same message as T calls
  of `push` with the symbols' intervals, compiled; a symbol outside its
  table or of frequency zero is a CodingError and changes nothing."""
  precision = _check_precision(precision)
  symbols = np.asarray(symbols)
  if symbols.ndim != 2 or symbols.dtype.kind not in 'iu':
    raise CodingError(f'push_columns needs integer symbols [columns, lanes], '
                      f'got {symbols.dtype} {symbols.shape}')
  tables, shared = _columns_tables(cum, symbols.shape, precision)
  offset = _check_lanes(msg, offset, symbols.shape[1])
  msg._reserve(symbols.size)
  length = kernels.push_columns(msg.head, msg._buf, msg._len,
                                np.ascontiguousarray(symbols, np.int64),
                                tables, shared, precision, offset)
  if length == kernels.BAD_SYMBOL:
    raise CodingError('symbol outside its table, or of probability zero')
  msg._len = length
  return msg


def pop_columns(msg, cum, precision, offset=0, shape=None):
  """Pops a [T, n] block pushed by `push_columns` (columns t = T-1..0) under
  the same tables, returning the symbols [T, n] as int64. The same message
  as T calls of `pop`, compiled; on an error the message is unchanged. One
  table [K+1] for every symbol needs `shape=(T, n)`."""
  precision = _check_precision(precision)
  if shape is None:
    if np.ndim(cum) != 3:
      raise CodingError('pop_columns with one shared table [K+1] needs '
                        'shape=(columns, lanes)')
    shape = np.shape(cum)[:2]
  if (len(shape) != 2 or not all(isinstance(d, (int, np.integer)) and d >= 0
                                 for d in shape)):
    raise CodingError(f'shape must be (columns, lanes), two sizes >= 0, got '
                      f'{shape!r}')
  tables, shared = _columns_tables(cum, shape, precision)
  steps, n = shape
  offset = _check_lanes(msg, offset, n)
  out = np.empty((steps, n), np.int64)
  length = kernels.pop_columns(msg.head, msg._buf, msg._len, tables, shared,
                               precision, offset, out)
  if length == kernels.UNDERFLOW:
    raise CodingError('message underflow: the block needs more words than '
                      f'the {msg._len} left (the data is corrupt, or '
                      'bits-back coding ran out of initial bits)')
  if length == kernels.BAD_SLOT:
    raise CodingError('decoded slot outside every symbol: corrupt data or a '
                      'model that differs from the encoder\'s')
  msg._len = length
  return msg, out


def to_bytes(msg):
  payload = msg.head.astype('<u8').tobytes() + msg.tail.astype('<u4').tobytes()
  header = _HEADER.pack(_MAGIC, _VERSION, msg.head.size, len(msg.tail),
                        zlib.crc32(payload))
  return header + payload


def from_bytes(data):
  if len(data) < _HEADER.size:
    raise CodingError(f'truncated message: {len(data)} bytes, the header alone '
                      f'is {_HEADER.size}')
  magic, version, lanes, words, crc = _HEADER.unpack_from(data)
  if magic != _MAGIC:
    raise CodingError('not an rANS message (bad magic bytes)')
  if version != _VERSION:
    raise CodingError(f'message format version {version}; this code reads '
                      f'version {_VERSION}')
  payload = data[_HEADER.size:]
  if len(payload) != 8 * lanes + 4 * words:
    raise CodingError(f'truncated or padded message: {len(payload)} payload '
                      f'bytes, the header says {8 * lanes + 4 * words}')
  if zlib.crc32(payload) != crc:
    raise CodingError('message checksum mismatch: the data is corrupt')
  head = np.frombuffer(payload[:8 * lanes], '<u8').astype(np.uint64)
  tail = np.frombuffer(payload[8 * lanes:], '<u4').astype(np.uint32)
  if np.any(head < HEAD_MIN):
    raise CodingError('corrupt message: a lane state is below 2^32')
  return Message(head, tail)


_FAMILIES = {'gaussian_buckets': kernels.GAUSSIAN_BUCKETS,
             'bernoulli_logit': kernels.BERNOULLI_LOGIT,
             'logistic_mixture': kernels.LOGISTIC_MIXTURE}
_WIDTHS = {'gaussian_buckets': 2, 'bernoulli_logit': 1}   # Mixtures: 3K.


def _check_params(family, params):
  """Everything the kernels' F relies on: finite values, positive scales,
  mixture weights >= 0 summing to one (else C could decrease, and symbols
  overlap)."""
  width = _WIDTHS.get(family)
  if params.ndim != 3 or params.shape[-1] == 0:
    bad = True
  elif width:
    bad = params.shape[-1] != width
  else:
    bad = params.shape[-1] % 3 != 0
  if bad:
    raise CodingError(f'{family} parameters must be [columns, lanes, '
                      f'{width or "3K"}], got {params.shape}')
  if not np.all(np.isfinite(params)):
    raise CodingError('the model gave NaN or infinite parameters: these '
                      'symbols cannot be coded')
  if not params.size:
    return
  if family == 'gaussian_buckets' and params[..., 1].min() <= 0:
    raise CodingError('a Gaussian scale is zero or negative')
  if family == 'logistic_mixture':
    w, _, inv_s = np.split(params, 3, axis=-1)
    if (w.min() < 0 or np.abs(w.sum(-1) - 1).max() > 1e-6
        or inv_s.min() <= 0):
      raise CodingError('logistic mixture parameters need weights >= 0 that '
                        'sum to one and inverse scales > 0')


@dataclasses.dataclass(frozen=True)
class QuantizedCDF:
  """Symbols 0..levels-1, each with its own continuous CDF, whose intervals
  the compiled coder computes where it needs them (`kernels.push_cdf`):
  C(k) = floor(F(k) * (2^precision - levels)) + k.

  `family` is a key of _FAMILIES; `params` [T, n, P] per symbol (column t,
  lane i; gaussian_buckets: mean, scale > 0; bernoulli_logit: the logit;
  logistic_mixture: K weights >= 0 summing to one, K means and K inverse
  scales > 0); `edges` [levels - 1] the boundaries between consecutive
  symbols (Bernoulli: none). Checked once, when built (also by
  `dataclasses.replace`): anything else, NaNs included, is a CodingError.
  params and edges are kept as C-order float64, what the kernels read.
  """
  family: str
  params: np.ndarray
  levels: int
  edges: np.ndarray = None

  def __post_init__(self):
    family, levels, edges = self.family, self.levels, self.edges
    if family not in _FAMILIES:
      raise CodingError(f'unknown CDF family {family!r}; known: '
                        f'{", ".join(_FAMILIES)}')
    if (not isinstance(levels, (int, np.integer)) or isinstance(levels, bool)
        or levels < 2):
      raise CodingError(f'levels must be an integer >= 2, got {levels!r}')
    if family == 'bernoulli_logit':
      if levels != 2:
        raise CodingError(f'a Bernoulli has 2 symbols, not {levels}')
      edges = np.zeros(1) if edges is None else edges
    params = np.ascontiguousarray(self.params, np.float64)
    _check_params(family, params)
    edges = np.ascontiguousarray(np.zeros(0) if edges is None else edges,
                                 np.float64)
    if (edges.shape != (levels - 1,) or not np.all(np.isfinite(edges))
        or np.any(np.diff(edges) < 0)):
      raise CodingError(f'{levels} levels need {levels - 1} finite increasing '
                        f'edges, got edges of shape {edges.shape}')
    for name, value in (('params', params), ('levels', int(levels)),
                        ('edges', edges)):
      object.__setattr__(self, name, value)


def _check_cdf(cdf, precision):
  """(precision, kernel family id) for coding `cdf` at `precision`."""
  precision = _check_precision(precision)
  if not isinstance(cdf, QuantizedCDF):
    raise CodingError('expected a rans.QuantizedCDF')
  if cdf.levels > 1 << precision:
    raise CodingError(f'{cdf.levels} symbols do not fit in {precision}-bit '
                      'tables')
  return precision, _FAMILIES[cdf.family]


def cdf_tables(cdf, precision):
  """The whole cumulative tables [T, n, levels + 1] (uint64) of a
  QuantizedCDF: what `push_cdf` and `pop_cdf` code with, without building
  them. Coding with these through `push_columns` gives the same bytes."""
  precision, family = _check_cdf(cdf, precision)
  t, n, p = cdf.params.shape
  out = np.empty((t * n, cdf.levels + 1), np.int64)
  kernels.quantized_cdf_tables(cdf.params.reshape(t * n, p), family,
                               cdf.levels, cdf.edges, precision, out)
  return out.astype(np.uint64).reshape(t, n, -1)


def push_cdf(msg, symbols, cdf, precision, offset=0):
  """Pushes integer symbols [T, n] (column t on lanes offset..offset+n-1,
  t = 0..T-1) under their quantized CDFs, compiled; a symbol outside
  0..levels-1, or without a slot, is a CodingError and changes nothing."""
  precision, family = _check_cdf(cdf, precision)
  symbols = np.asarray(symbols)
  if symbols.ndim != 2 or symbols.dtype.kind not in 'iu':
    raise CodingError(f'push_cdf needs integer symbols [columns, lanes], got '
                      f'{symbols.dtype} {symbols.shape}')
  if symbols.shape != cdf.params.shape[:2]:
    raise CodingError(f'{symbols.shape} symbols for parameters of '
                      f'{cdf.params.shape[:2]}')
  offset = _check_lanes(msg, offset, symbols.shape[1])
  msg._reserve(symbols.size)
  length = kernels.push_cdf(msg.head, msg._buf, msg._len,
                            np.ascontiguousarray(symbols, np.int64),
                            cdf.params, family, cdf.levels, cdf.edges,
                            precision, offset)
  if length == kernels.BAD_SYMBOL:
    raise CodingError(f'symbol outside 0..{cdf.levels - 1}')
  if length == kernels.NO_SLOT:
    # F may fall by one ulp where libm's erfc / exp is not monotone; a
    # symbol squeezed to no slot there cannot be coded (never seen; the
    # whole-table scheme of format 2 has no such case).
    raise CodingError('a symbol got no slot: its CDF decreased by rounding at '
                      'a boundary; write this file as format 2 (`python -m coding '
                      'compress --format=2`, or `compress(..., version=2)`)')
  msg._len = length
  return msg


def pop_cdf(msg, cdf, precision, offset=0):
  """Pops the [T, n] symbols `push_cdf` pushed under the same CDFs; on an
  error the message is unchanged."""
  precision, family = _check_cdf(cdf, precision)
  steps, n = cdf.params.shape[:2]
  offset = _check_lanes(msg, offset, n)
  out = np.empty((steps, n), np.int64)
  length = kernels.pop_cdf(msg.head, msg._buf, msg._len, cdf.params,
                           family, cdf.levels, cdf.edges, precision,
                           offset, out)
  if length == kernels.UNDERFLOW:
    raise CodingError('message underflow: the block needs more words than '
                      f'the {msg._len} left (the data is corrupt, or '
                      'bits-back coding ran out of initial bits)')
  msg._len = length
  return msg, out
