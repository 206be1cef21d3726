"""The rANS inner loops, compiled with numba: many columns of symbols per call.

`rans.push` / `rans.pop` code one symbol per lane per numpy call, which is
exact and simple (they stay as the reference) but pays numpy's per-call cost
on every column: about 0.6 us a lane-vector, so 16 lanes reach 1 M symbols/s.
rANS is sequential within a lane, so a faster coder must run a loop over
columns, not an array expression. XLA's loops cost about 0.65 us per
iteration on this CPU (a `lax.scan` over 16-lane pushes: 24 M symbols/s,
measured), a per-step cost that only thousands of lanes would hide, and
every lane adds a 64-bit final state to the message. numba compiles the
plain loop to machine code, so a handful of lanes code at hundreds of
millions of symbols per second, and the message (overhead included) is
exactly the reference's.

The kernels follow `rans.push` / `rans.pop` operation for operation, in the
same order: words spilled by a push are appended lane by lane, and a pop
refills its lanes from the stack top in the same lane order, so the word
stack, the heads and the serialised bytes are identical to the reference's.
Inputs are checked by the callers in `rans.py` before any state changes;
the kernels return an error code (negative) instead of raising, and leave
the message as it was.
"""
import math

import numba
import numpy as np

_U64 = np.uint64
_WORD_MASK = _U64(0xFFFFFFFF)
_HEAD_MIN = _U64(1 << 32)

def _jit(fn):
  """numba's nopython compile, cached on disk where a cache directory can be
  written (a read-only install without a writable home has none, and
  numba's `cache=True` then fails at import)."""
  try:
    return numba.njit(cache=True, nogil=True)(fn)
  except RuntimeError:
    return numba.njit(nogil=True)(fn)


OK = 0
UNDERFLOW = -1      # A pop needed a word the stack does not have.
BAD_SLOT = -2       # A slot past the table's total: a wrong table or data.
BAD_SYMBOL = -3     # A symbol outside its table, or of frequency zero.
NO_SLOT = -4        # A quantized CDF gave a symbol no slot (see push_cdf).


@_jit
def valid_tables(cum, total):
  """Whether every row of cum [rows, K+1] starts at 0, never decreases and
  ends at most at `total`: one pass, no temporaries."""
  rows, k1 = cum.shape
  for r in range(rows):
    if cum[r, 0] != 0 or cum[r, k1 - 1] > total:
      return False
    for j in range(1, k1):
      if cum[r, j] < cum[r, j - 1]:
        return False
  return True


@_jit
def push_columns(head, buf, length, symbols, tables, shared, precision, offset):
  """Pushes symbols [T, n], column t = 0..T-1, onto lanes
  offset..offset+n-1 under cumulative tables [T * n, K+1] (row t * n + i
  for lane i of column t), or one table [1, K+1] for all if `shared`.
  Returns the new stack length, or BAD_SYMBOL with the heads left
  untouched. `buf` must have room for length + T * n words (a push spills
  at most one)."""
  steps, n = symbols.shape
  k = tables.shape[1] - 1
  shift = _U64(64 - precision)
  prec = _U64(precision)
  saved = head[offset:offset + n].copy()
  for t in range(steps):
    for i in range(n):
      row = 0 if shared else t * n + i
      s = symbols[t, i]
      if s < 0 or s >= k or tables[row, s + 1] <= tables[row, s]:
        head[offset:offset + n] = saved
        return BAD_SYMBOL
      c = tables[row, s]
      f = tables[row, s + 1] - c
      x = head[offset + i]
      if (x >> shift) >= f:        # As rans.push: never forms f * 2^(64-p).
        buf[length] = np.uint32(x & _WORD_MASK)
        length += 1
        x = x >> _U64(32)
      head[offset + i] = ((x // f) << prec) + (x % f) + c
  return length


@numba.njit(inline='always')
def _find(tables, row, slot):
  """The symbol s with cum[s] <= slot < cum[s + 1] in table `row` (the last
  such s when zero-width symbols share a boundary); -1 if slot is past the
  table's total. A branch-free binary search: the comparison picks the
  half by arithmetic, so nothing mispredicts on random data."""
  k = tables.shape[1] - 1
  if slot >= tables[row, k]:
    return -1
  base, size = 0, k               # cum[base] <= slot holds throughout.
  while size > 1:
    half = size >> 1
    base += half * (tables[row, base + half] <= slot)
    size -= half
  return base


@numba.njit(inline='always')
def _refill(buf, length, x):
  """The end of a pop column: lanes whose new state x fell below 2^32
  refill from the top of the stack in lane order (rans.pop takes the last
  r words for its r refilled lanes, the first lane the lowest). Returns the
  new stack length, or UNDERFLOW (x then partly refilled: the caller
  restores the heads)."""
  for i in range(x.shape[0] - 1, -1, -1):
    if x[i] < _HEAD_MIN:
      if length == 0:
        return UNDERFLOW
      length -= 1
      x[i] = (x[i] << _U64(32)) | _U64(buf[length])
  return length


_LUT_BITS = 12


@numba.njit(inline='always')
def _lookup(cum, precision):
  """(shift, lut): lut[b] is the symbol holding slot b << shift, for the
  first _LUT_BITS bits of a slot; a shared table's search starts there."""
  bits = min(precision, _LUT_BITS)
  shift = _U64(precision - bits)
  lut = np.empty(1 << bits, np.int64)
  k = cum.shape[0] - 1
  s = 0
  for b in range(1 << bits):
    first = _U64(b) << shift
    while s < k - 1 and cum[s + 1] <= first:
      s += 1
    lut[b] = s
  return shift, lut


@numba.njit(inline='always')
def _find_from(cum, s, slot):
  """`_find` on one table, from a symbol s with cum[s] <= slot."""
  k = cum.shape[0] - 1
  if slot >= cum[k]:
    return -1
  while cum[s + 1] <= slot:
    s += 1
  return s


@_jit
def pop_columns(head, buf, length, tables, shared, precision, offset, out):
  """Pops columns t = T-1..0 of lanes offset..offset+n-1 under the tables
  of `push_columns`, writing the symbols to out [T, n]. Returns the new
  stack length, or an error code with the heads and the stack untouched."""
  steps, n = out.shape
  prec = _U64(precision)
  mask = _U64((1 << precision) - 1)
  saved = head[offset:offset + n].copy()
  x = np.empty(n, np.uint64)
  if shared:
    lut_shift, lut = _lookup(tables[0], precision)
  for t in range(steps - 1, -1, -1):
    for i in range(n):
      row = 0 if shared else t * n + i
      h = head[offset + i]
      slot = h & mask
      if shared:
        s = _find_from(tables[0], lut[slot >> lut_shift], slot)
      else:
        s = _find(tables, row, slot)
      if s < 0:
        head[offset:offset + n] = saved
        return BAD_SLOT
      c = tables[row, s]
      x[i] = (tables[row, s + 1] - c) * (h >> prec) + slot - c
      out[t, i] = s
    length = _refill(buf, length, x)
    if length == UNDERFLOW:
      head[offset:offset + n] = saved
      return UNDERFLOW
    head[offset:offset + n] = x
  return length


@_jit
def add_remainders(freqs, frac, short, threshold):
  """Adds one to the short[r] largest frac[r] of each row r (ties to the
  lower index), in place, given each row's short[r]-th largest fractional
  part `threshold[r]` (numpy's vectorised sort finds those fastest): the
  last step of `codecs.quantize_pmf`, one pass instead of two argsorts."""
  rows, k = frac.shape
  for r in range(rows):
    need = short[r]
    if need <= 0:
      continue
    for j in range(k):
      if frac[r, j] > threshold[r]:
        freqs[r, j] += 1
        need -= 1
    for j in range(k):
      if need == 0:
        break
      if frac[r, j] == threshold[r]:
        freqs[r, j] += 1
        need -= 1


# Quantized CDFs evaluated where they are needed (the coding of compressed
# files from format 3 on). A symbol's interval is [C(s), C(s + 1)) with
#   C(0) = 0,  C(k) = floor(F(k) * (2^precision - L)) + k,  C(L) = 2^precision
# for the continuous CDF F at the boundary between symbols k - 1 and k.
# Encoder and decoder evaluate the same float64 expression on the same
# inputs, so on the same platform (libm, numba) they agree bit for bit. F
# does not decrease, up to libm's rounding: erfc and exp are not exactly
# monotone (a one-ulp rise of glibc's erfc was found near 1.7587), so C(k)
# can at worst equal C(k + 1), never pass it (the + k); such a symbol has no
# slot and `push_cdf` refuses it (NO_SLOT) rather than code it wrongly, and
# intervals never overlap. A push evaluates C twice; a pop bisects on C, about
# log2(L) evaluations, instead of the L + 1 a whole table costs.
GAUSSIAN_BUCKETS = 0   # params (mean, scale); edges: the interior bucket edges.
BERNOULLI_LOGIT = 1    # params (logit,); two symbols, P(0) = sigmoid(-logit).
LOGISTIC_MIXTURE = 2   # params (weights, means, inverse scales), K each;
                       # edges: the interior bin edges.
_INV_SQRT2 = 0.7071067811865476


@numba.njit(inline='always')
def _cdf(family, p, edge):
  """F at one boundary for one symbol's parameters p."""
  if family == GAUSSIAN_BUCKETS:
    return 0.5 * math.erfc((p[0] - edge) / p[1] * _INV_SQRT2)
  if family == BERNOULLI_LOGIT:
    return 1.0 / (1.0 + math.exp(p[0]))
  k = p.shape[0] // 3
  f = 0.0
  for j in range(k):
    f += p[j] / (1.0 + math.exp((p[k + j] - edge) * p[2 * k + j]))
  return f


@numba.njit(inline='always')
def _quantized_cdf(family, p, edges, k, levels, spare):
  """C(k) for k = 0..levels (see above); spare = 2^precision - levels."""
  if k <= 0:
    return 0
  if k >= levels:
    return spare + levels
  f = _cdf(family, p, edges[k - 1])
  f = min(max(f, 0.0), 1.0)    # Mixture weights may sum past 1 by rounding.
  return np.int64(f * spare) + k


@_jit
def quantized_cdf_tables(params, family, levels, edges, precision, out):
  """Every C(k), k = 0..levels, of params [rows, P] into out [rows,
  levels + 1]: the whole tables the CDF coder never builds (tests code
  with them through `push_columns` as the oracle)."""
  spare = (1 << precision) - levels
  for r in range(params.shape[0]):
    for k in range(levels + 1):
      out[r, k] = _quantized_cdf(family, params[r], edges, k, levels, spare)


@_jit
def push_cdf(head, buf, length, symbols, params, family, levels, edges,
             precision, offset):
  """`push_columns` with each symbol's interval from its quantized CDF:
  symbols [T, n] under params [T, n, P]. Returns the new stack length, or
  BAD_SYMBOL (outside 0..levels-1) or NO_SLOT with the heads as they
  were."""
  steps, n = symbols.shape
  spare = (1 << precision) - levels
  shift = _U64(64 - precision)
  prec = _U64(precision)
  saved = head[offset:offset + n].copy()
  for t in range(steps):
    for i in range(n):
      s = symbols[t, i]
      if s < 0 or s >= levels:
        head[offset:offset + n] = saved
        return BAD_SYMBOL
      lo = _quantized_cdf(family, params[t, i], edges, s, levels, spare)
      hi = _quantized_cdf(family, params[t, i], edges, s + 1, levels, spare)
      if hi <= lo:
        head[offset:offset + n] = saved
        return NO_SLOT
      c, f = _U64(lo), _U64(hi - lo)
      x = head[offset + i]
      if (x >> shift) >= f:
        buf[length] = np.uint32(x & _WORD_MASK)
        length += 1
        x = x >> _U64(32)
      head[offset + i] = ((x // f) << prec) + (x % f) + c
  return length


@_jit
def pop_cdf(head, buf, length, params, family, levels, edges, precision,
            offset, out):
  """Pops what `push_cdf` pushed under the same params [T, n, P] (columns
  t = T-1..0), each symbol by bisection on its quantized CDF, into out
  [T, n]. Returns the new stack length, or UNDERFLOW with the heads and
  the stack untouched."""
  steps, n = out.shape
  spare = (1 << precision) - levels
  total = np.int64(1) << precision
  prec = _U64(precision)
  mask = _U64((1 << precision) - 1)
  saved = head[offset:offset + n].copy()
  x = np.empty(n, np.uint64)
  for t in range(steps - 1, -1, -1):
    for i in range(n):
      h = head[offset + i]
      slot = np.int64(h & mask)
      lo, hi, c_lo, c_hi = 0, levels, np.int64(0), total
      while hi - lo > 1:            # C(lo) <= slot < C(hi) throughout.
        mid = (lo + hi) >> 1
        c = _quantized_cdf(family, params[t, i], edges, mid, levels, spare)
        if c <= slot:
          lo, c_lo = mid, c
        else:
          hi, c_hi = mid, c
      x[i] = _U64(c_hi - c_lo) * (h >> prec) + _U64(slot - c_lo)
      out[t, i] = lo
    length = _refill(buf, length, x)
    if length == UNDERFLOW:
      head[offset:offset + n] = saved
      return UNDERFLOW
    head[offset:offset + n] = x
  return length
