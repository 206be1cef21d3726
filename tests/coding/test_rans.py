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


@SETTINGS
@given(seed=st.integers(0, 2**31), n=st.integers(1, 30),
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
