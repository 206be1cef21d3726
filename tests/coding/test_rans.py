"""rANS and codecs: exact round trips (property tests), rates against the
exact information content, serialisation and corruption."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from coding import codecs
from coding import rans

SETTINGS = settings(max_examples=25, deadline=None)


def _info_bits(freqs, symbols, precision):
  f = np.take_along_axis(freqs, symbols[:, None], -1)[:, 0]
  return float(np.sum(precision - np.log2(f)))


@SETTINGS
@given(seed=st.integers(0, 2**31), lanes=st.integers(1, 40),
       steps=st.integers(1, 30), k=st.integers(2, 300),
       precision=st.sampled_from([12, 16, 24, 32]))
def test_categorical_round_trip(seed, lanes, steps, k, precision):
  rng = np.random.default_rng(seed)
  if k > 2**precision:
    k = 2**precision
  msg = rans.empty_message(lanes)
  tables, symbols = [], []
  for _ in range(steps):
    probs = rng.dirichlet(np.full(k, 0.3), size=lanes)
    freqs = codecs.quantize_pmf(probs, precision)
    assert np.all(freqs >= 1) and np.all(freqs.sum(-1) == 2**precision)
    s = np.array([rng.choice(k, p=p) for p in probs])
    msg = codecs.Categorical(freqs, precision).push(msg, s)
    tables.append(freqs)
    symbols.append(s)
  decoded = rans.from_bytes(rans.to_bytes(msg))
  for freqs, s in zip(tables[::-1], symbols[::-1]):
    decoded, got = codecs.Categorical(freqs, precision).pop(decoded)
    np.testing.assert_array_equal(got, s)
  assert decoded == rans.empty_message(lanes)  # Back to the initial state.


# A few sizes only: every new shape compiles the mixture's pmf (eager JAX)
# again, which dominated this test's time.
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.sampled_from([1, 5, 30]),
       bits=st.integers(1, 16), levels=st.sampled_from([2, 17, 256]))
def test_every_codec_round_trips_in_serial_and_parallel(seed, n, bits, levels):
  rng = np.random.default_rng(seed)
  p = rng.uniform(0, 1, n)
  k = 3
  w, mu = rng.normal(size=(n, k)), rng.uniform(-1, 1, (n, k))
  log_s = rng.uniform(-6, 0, (n, k))
  mean, scale = rng.normal(size=n), np.exp(rng.uniform(-4, 1, n))
  parts = [
      (codecs.Uniform(bits, n), rng.integers(0, 2**bits, n)),
      (codecs.Bernoulli(p, 16), (rng.uniform(size=n) < p).astype(int)),
      (codecs.DiscretizedLogisticMixture(w, mu, log_s, levels, 16),
       rng.integers(0, levels, n)),
      (codecs.DiscretizedGaussianBuckets(mean, scale, min(bits, 10), 16),
       rng.integers(0, 2**min(bits, 10), n)),
  ]
  chain = codecs.serial([c for c, _ in parts])
  symbols = [s for _, s in parts]
  msg = chain.push(rans.random_message(n, 4, seed), symbols)
  _, got = chain.pop(msg)
  for a, b in zip(got, symbols):
    np.testing.assert_array_equal(a, b)
  side = codecs.parallel([c for c, _ in parts], [n] * len(parts))
  msg = side.push(rans.random_message(4 * n, 4, seed), symbols)
  _, got = side.pop(msg)
  for a, b in zip(got, symbols):
    np.testing.assert_array_equal(a, b)


def test_rate_is_the_information_content_plus_a_constant():
  # 10^5 symbols in 100 lanes: the message grows by the exact information
  # content (in bits of the quantised table), within the flush overhead of
  # a few words per lane.
  rng = np.random.default_rng(0)
  precision, lanes, steps = 24, 100, 1000
  probs = rng.dirichlet(np.full(50, 0.5))
  freqs = np.tile(codecs.quantize_pmf(probs, precision), (lanes, 1))
  codec = codecs.Categorical(freqs, precision)
  msg = rans.empty_message(lanes)
  start_bits, info = msg.num_bits(), 0.0
  for _ in range(steps):
    s = rng.choice(50, size=lanes, p=probs)
    info += _info_bits(freqs, s, precision)
    msg = codec.push(msg, s)
  overhead = msg.num_bits() - start_bits - info
  assert -64 * lanes <= overhead <= 64 * lanes, overhead
  assert overhead / info < 0.01


def test_quantized_tables_are_close_to_the_model():
  probs = np.array([[0.5, 0.25, 0.125, 0.125 - 1e-12, 1e-12]])
  freqs = codecs.quantize_pmf(probs, 16)
  assert freqs.sum() == 2**16 and freqs.min() == 1
  np.testing.assert_allclose(freqs[0, :3] / 2**16, probs[0, :3], atol=1e-4)
  # Deterministic: the same input gives the same table.
  np.testing.assert_array_equal(freqs, codecs.quantize_pmf(probs, 16))


def test_corrupt_and_truncated_messages_are_rejected():
  msg = codecs.Uniform(8, 5).push(rans.random_message(5, 3), np.arange(5))
  data = rans.to_bytes(msg)
  with pytest.raises(rans.CodingError, match='truncated'):
    rans.from_bytes(data[:-3])
  with pytest.raises(rans.CodingError, match='truncated'):
    rans.from_bytes(data[:10])
  flipped = bytearray(data)
  flipped[-1] ^= 0x10
  with pytest.raises(rans.CodingError, match='checksum'):
    rans.from_bytes(bytes(flipped))
  with pytest.raises(rans.CodingError, match='magic'):
    rans.from_bytes(b'X' + data[1:])
  # Popping past the initial bits is an error, not made-up data.
  empty = rans.empty_message(3)
  with pytest.raises(rans.CodingError, match='underflow'):
    codecs.DiscretizedGaussianBuckets(np.zeros(3), np.full(3, 0.01), 8, 16).pop(empty)


@pytest.mark.parametrize('precision', [1, 8, 16, 24, 31, 32])
def test_probability_one_symbols_round_trip(precision):
  # A symbol of frequency 2^precision (certain) costs nothing and must leave
  # the state intact, side by side with ordinary symbols on other lanes and
  # from heads anywhere in [2^32, 2^64).
  rng = np.random.default_rng(precision)
  lanes, steps, total = 64, 60, 2**precision
  init = rans.random_message(lanes, 8, seed=precision)
  msg = init.copy()
  pushed = []
  for _ in range(steps):
    certain = rng.uniform(size=lanes) < 0.5
    freqs = rng.integers(1, total, lanes, endpoint=True, dtype=np.uint64)
    starts = (rng.integers(0, 2**63, lanes, dtype=np.uint64)
              % (np.uint64(total) - freqs + np.uint64(1)))
    freqs[certain], starts[certain] = total, 0
    msg = rans.push(msg, starts, freqs, precision)
    pushed.append((starts, freqs))
  assert np.all(msg.head >= rans.HEAD_MIN)
  decoded = rans.from_bytes(rans.to_bytes(msg))
  assert decoded == msg
  for starts, freqs in pushed[::-1]:
    slot = rans.peek(decoded, lanes, precision)
    assert np.all((slot >= starts) & (slot < starts + freqs))
    decoded = rans.pop(decoded, starts, freqs, precision)
  assert decoded == init
  # The same through a one-symbol Categorical table.
  codec = codecs.Categorical(np.full((lanes, 1), total), precision)
  msg = codec.push(init.copy(), np.zeros(lanes, int))
  assert msg == init
  msg, got = codec.pop(rans.from_bytes(rans.to_bytes(msg)))
  assert msg == init and not got.any()


@pytest.mark.parametrize('starts,freqs', [
    ([1.5], [2]),                          # Non-integer start.
    ([0], [2.0]),                          # Non-integer frequency.
    ([-1], [2]),                           # Negative start (was cast to 2^64-1).
    ([2**64 - 1], [2]),                    # Start + freq wraps in uint64.
    ([np.uint64(2**64 - 1)], [np.uint64(2**64 - 1)]),  # Both wrap.
])
def test_bad_intervals_are_rejected(starts, freqs):
  msg = rans.random_message(1, 2)
  with pytest.raises(rans.CodingError, match='interval'):
    rans.push(msg, starts, freqs, 8)
  with pytest.raises(rans.CodingError, match='interval'):
    rans.pop(msg, starts, freqs, 8)


def test_out_of_range_frequencies_are_rejected_with_one_message():
  msg = rans.random_message(1, 2)
  for starts, freqs in [([0], [0]), ([0], [-1]), ([0], [257]), ([200], [57]),
                        ([300], [1])]:
    with pytest.raises(rans.CodingError, match='interval'):
      rans.push(msg, starts, freqs, 8)
  with pytest.raises(rans.CodingError, match='interval'):
    rans.push(msg, [0], [1.0], 8)   # A float 1.0 is still not an integer.
  for precision in (True, 8.0, '8', 0, 33):   # True is not 1 bit.
    with pytest.raises(rans.CodingError, match='precision'):
      rans.push(msg, [0], [1], precision)


@pytest.mark.parametrize('codec', [
    codecs.Categorical(np.full((3, 4), 4), 4),
    codecs.Uniform(4, 3),
    codecs.Bernoulli(np.full(3, 0.5), 8),
])
def test_non_integer_symbols_are_rejected(codec):
  msg = rans.random_message(3, 2)
  with pytest.raises(rans.CodingError, match='integer'):
    codec.push(msg, np.array([1.5, 0.0, 1.0]))
  # Integer-valued symbols of any integer (or bool) type are fine.
  codec.push(msg, np.array([1, 0, 1], np.uint8))
  codec.push(msg, np.array([True, False, True]))


@pytest.mark.parametrize('offset,n', [(2, 2), (3, 1), (5, 1), (-1, 1)])
def test_lanes_past_the_message_are_rejected(offset, n):
  msg = rans.random_message(3, 4)
  starts, freqs = np.zeros(n, int), np.full(n, 16)
  with pytest.raises(rans.CodingError, match='lanes'):
    rans.pop(msg, starts, freqs, 8, offset)
  with pytest.raises(rans.CodingError, match='lanes'):
    rans.peek(msg, n, 8, offset)
  with pytest.raises(rans.CodingError, match='lanes'):
    rans.push(msg, starts, freqs, 8, offset)
  with pytest.raises(rans.CodingError, match='lanes'):
    codecs.Uniform(4, n).pop(msg, offset)
  with pytest.raises(rans.CodingError, match='lanes'):
    codecs.Categorical(np.full((n, 2), 128), 8).pop(msg, offset)
  assert msg == rans.random_message(3, 4)   # Nothing was changed.
