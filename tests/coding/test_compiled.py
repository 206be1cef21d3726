"""The compiled coder (`rans.push_columns` / `pop_columns`) against the
numpy reference (`rans.push` / `rans.pop`): identical messages byte for
byte, on per-symbol and shared tables; and the vectorised `quantize_pmf`
against the argsort rule it replaced."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from coding import codecs
from coding import rans

SETTINGS = settings(max_examples=30, deadline=None)


def _random_tables(rng, shape, k, precision, zero_fraction):
  """Valid frequency tables [*shape, K] summing to at most 2^precision, some
  entries zero (symbols a model rules out)."""
  freqs = codecs.quantize_pmf(rng.dirichlet(np.full(k, 0.3), size=shape),
                              precision)
  zero = rng.uniform(size=freqs.shape) < zero_fraction
  zero[..., 0] = False                        # Keep one codable symbol.
  return np.where(zero, 0, freqs)


def _draw(rng, freqs):
  """A symbol per table, never one of frequency zero."""
  p = freqs / freqs.sum(-1, keepdims=True)
  u = rng.uniform(size=p.shape[:-1] + (1,))
  return np.minimum((np.cumsum(p, -1) < u).sum(-1), p.shape[-1] - 1)


@SETTINGS
@given(seed=st.integers(0, 2**31), steps=st.integers(1, 25),
       lanes=st.integers(1, 20), k=st.integers(2, 300),
       precision=st.sampled_from([2, 9, 12, 16, 24, 32]),
       shared=st.booleans(), offset=st.integers(0, 3))
def test_compiled_coder_gives_the_reference_bytes(seed, steps, lanes, k,
                                                  precision, shared, offset):
  rng = np.random.default_rng(seed)
  k = min(k, 2**precision)
  shape = (1,) if shared else (steps, lanes)
  freqs = _random_tables(rng, shape, k, precision, 0.2)
  if shared:
    freqs = np.broadcast_to(freqs[0], (steps, lanes, k))
  symbols = _draw(rng, freqs)
  cum = rans.cumulative(freqs)
  starts = np.take_along_axis(cum, symbols[..., None], -1)[..., 0]
  sizes = np.take_along_axis(cum, symbols[..., None] + 1, -1)[..., 0] - starts
  init = rans.random_message(lanes + 4, 3, seed)
  reference, compiled = init.copy(), init.copy()
  for t in range(steps):
    rans.push(reference, starts[t], sizes[t], precision, offset)
  tables = cum[0, 0] if shared else cum
  rans.push_columns(compiled, symbols, tables, precision, offset)
  assert rans.to_bytes(compiled) == rans.to_bytes(reference)
  popped, got = rans.pop_columns(compiled, tables, precision, offset,
                                 shape=(steps, lanes) if shared else None)
  np.testing.assert_array_equal(got, symbols)
  assert popped == init
  for t in reversed(range(steps)):   # The reference decodes it the same way.
    rans.pop(reference, starts[t], sizes[t], precision, offset)
  assert reference == init


def test_errors_leave_the_message_unchanged():
  rng = np.random.default_rng(0)
  cum = rans.cumulative(_random_tables(rng, (3, 4), 5, 12, 0.0))
  msg = rans.random_message(4, 2, seed=1)
  before = msg.copy()
  symbols = np.zeros((3, 4), np.int64)
  symbols[2, 3] = 5                                  # Outside its table.
  with pytest.raises(rans.CodingError, match='outside its table'):
    rans.push_columns(msg, symbols, cum, 12)
  zero = cum.copy()
  zero[2, 3, 2:] = zero[2, 3, 1]                     # Symbol 1 impossible.
  symbols[2, 3] = 1
  with pytest.raises(rans.CodingError, match='probability zero'):
    rans.push_columns(msg, symbols, zero, 12)
  broken = cum.copy()
  broken[1, 1, 2] = broken[1, 1, 1] - 1              # Decreasing.
  with pytest.raises(rans.CodingError, match='invalid cumulative'):
    rans.push_columns(msg, symbols * 0, broken, 12)
  with pytest.raises(rans.CodingError, match='invalid cumulative'):
    rans.push_columns(msg, symbols * 0, cum, 11)     # Total above 2^11.
  with pytest.raises(rans.CodingError, match='uint64'):
    rans.pop_columns(msg, cum.astype(np.int64), 12)
  assert msg == before
  # More pops than the message holds: an underflow, and nothing popped.
  with pytest.raises(rans.CodingError, match='underflow'):
    rans.pop_columns(msg, rans.cumulative(np.ones(2**12, np.int64)), 12,
                     shape=(40, 4))
  assert msg == before
  # Shapes that do not say (columns, lanes) are refused in one line.
  shared = rans.cumulative(np.ones(2**12, np.int64))
  for shape in (None, (-1, 4), (1, 2, 3)):
    with pytest.raises(rans.CodingError, match='shape'):
      rans.pop_columns(msg, shared, 12, shape=shape)
  # A table whose total is short of 2^precision meets slots past it.
  short = rans.cumulative(np.ones(2, np.int64))
  with pytest.raises(rans.CodingError, match='outside every symbol'):
    rans.pop_columns(msg, short, 12, shape=(1, 4))
  assert msg == before


def _argsort_rule(probs, precision):
  """The rule as first written (two stable argsorts per row): the oracle."""
  p = np.asarray(probs, np.float64)
  k = p.shape[-1]
  p = np.where(np.isfinite(p) & (p > 0), p, 0.0)
  sums = p.sum(-1, keepdims=True)
  p = np.where(sums > 0, p / np.where(sums > 0, sums, 1), 1.0 / k)
  spare = 2**precision - k
  freqs = np.floor(p * spare).astype(np.int64)
  short = spare - freqs.sum(-1)
  order = np.argsort(-(p * spare - freqs), axis=-1, kind='stable')
  rank = np.argsort(order, axis=-1, kind='stable')
  return freqs + (rank < short[..., None]) + 1


@pytest.mark.parametrize('k', [2, 3, 17, 256])
@pytest.mark.parametrize('precision', [8, 12, 24, 32])
def test_quantize_pmf_follows_the_argsort_rule(k, precision):
  rng = np.random.default_rng(k * precision)
  cases = [rng.dirichlet(np.full(k, 0.3), size=300),
           np.full((5, k), 1.0 / k),                       # All tied.
           rng.integers(0, 3, (60, k)).astype(float),      # Many ties, zeros.
           rng.uniform(size=(40, k)) ** 8,
           rng.uniform(size=(3, 7, k)),                    # Leading dims.
           rng.uniform(size=(7, 3, k)).transpose(1, 0, 2), # Not C order.
           np.array([[np.nan, np.inf, -1.0] + [0.0] * (k - 3)])[:, :k]]
  for probs in cases:
    if probs.shape[-1] < k:
      continue
    got = codecs.quantize_pmf(probs, precision)
    np.testing.assert_array_equal(got, _argsort_rule(probs, precision))
    assert got.min() >= 1 and np.all(got.sum(-1) == 2**precision)
