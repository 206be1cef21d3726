"""The quantized-CDF coder (`rans.push_cdf` / `pop_cdf`): the same bytes as
coding the whole tables (`rans.cdf_tables`) with the table coder, tables
that give every symbol a slot even at extreme parameters, intervals that
match the distributions' masses, and bad input that is one clear error and
leaves the message as it was."""
import dataclasses

import numpy as np
import pytest
from scipy import special

from coding import codecs
from coding import kernels
from coding import rans
from vae import likelihoods


def _gaussian(rng, t, n, bits, extreme=False):
  mean = rng.normal(size=(t, n)) * (4 if extreme else 1)
  scale = np.exp(rng.normal(size=(t, n)) * (6 if extreme else 1) - 1)
  return rans.QuantizedCDF('gaussian_buckets', np.stack([mean, scale], -1),
                            1 << bits, codecs.bucket_edges(bits)[1:-1])


def _bernoulli(rng, t, n, extreme=False):
  logits = rng.normal(size=(t, n, 1)) * (40 if extreme else 2)
  return rans.QuantizedCDF('bernoulli_logit', logits, 2)


def _mixture(rng, t, n, levels, k, extreme=False):
  lik = likelihoods.LogisticMixtureLikelihood(levels, k)
  raw = rng.normal(size=(t, n, 3 * k)) * (12 if extreme else 1)
  family, params, edges = lik.coding_cdf(raw)
  return rans.QuantizedCDF(family, params, levels, edges)


CASES = {
    'gaussian_1bit': lambda r, t, n, e: _gaussian(r, t, n, 1, e),
    'gaussian_8bit': lambda r, t, n, e: _gaussian(r, t, n, 8, e),
    'bernoulli': _bernoulli,
    'mixture_2_levels': lambda r, t, n, e: _mixture(r, t, n, 2, 1, e),
    'mixture_3_levels': lambda r, t, n, e: _mixture(r, t, n, 3, 2, e),
    'mixture_256_levels': lambda r, t, n, e: _mixture(r, t, n, 256, 5, e),
}


@pytest.mark.parametrize('case', sorted(CASES))
@pytest.mark.parametrize('t,n,precision,extreme', [(7, 5, 24, False),
                                                   (3, 1, 32, True),
                                                   (1, 4, 16, True)])
def test_same_bytes_as_the_whole_tables_and_exact_inverse(case, t, n,
                                                          precision, extreme):
  rng = np.random.default_rng(t * n + precision)
  cdf = CASES[case](rng, t, n, extreme)
  tables = rans.cdf_tables(cdf, precision)
  freqs = np.diff(tables.astype(np.int64), axis=-1)
  assert (tables[..., 0] == 0).all() and (tables[..., -1] == 1 << precision).all()
  assert freqs.min() >= 1          # Every symbol keeps a slot.
  symbols = rng.integers(0, cdf.levels, (t, n))
  init = rans.random_message(n, 40, seed=1)
  msg = rans.push_cdf(init.copy(), symbols, cdf, precision)
  oracle = rans.push_columns(init.copy(), symbols, tables, precision)
  assert rans.to_bytes(msg) == rans.to_bytes(oracle)
  msg, decoded = rans.pop_cdf(msg, cdf, precision)
  np.testing.assert_array_equal(decoded, symbols)
  assert msg == init
  # Popping clean bits (what bits-back does first) also matches the tables.
  a, from_cdf = rans.pop_cdf(init.copy(), cdf, precision)
  b, from_tables = rans.pop_columns(init.copy(), tables, precision)
  np.testing.assert_array_equal(from_cdf, from_tables)
  assert a == b


def _mixture_pmf(params, edges):
  """Bin masses of logistic mixtures (weights, means, inverse scales) [..., 3K]
  between edges, in float64 scipy: a reference apart from the kernels."""
  w, mu, inv_s = np.split(params, 3, -1)
  edges = np.concatenate([[-np.inf], edges, [np.inf]])
  cum = np.sum(w[..., None, :] * special.expit(
      (edges[:, None] - mu[..., None, :]) * inv_s[..., None, :]), -1)
  return np.diff(cum, axis=-1)


def test_intervals_match_the_distributions_masses():
  # Each symbol's slots are its mass times the spare slots, give or take
  # the one every symbol gets and one from the floors, against float64
  # references written independently of the kernels.
  rng = np.random.default_rng(0)
  precision = 24
  spare = lambda levels: (1 << precision) - levels
  def check(cdf, pmf):
    freqs = np.diff(rans.cdf_tables(cdf, precision).astype(np.int64), axis=-1)
    err = np.abs(freqs - 1 - pmf * spare(cdf.levels))
    assert err.max() < 1 + 1e-6, err.max()
  cdf = _gaussian(rng, 4, 6, 8)
  m, s = cdf.params[..., 0], cdf.params[..., 1]
  check(cdf, codecs.gaussian_bucket_pmf(m, s, 8).reshape(4, 6, -1))
  cdf = _bernoulli(rng, 4, 6)
  p0 = special.expit(-cdf.params[..., 0])
  check(cdf, np.stack([p0, 1 - p0], -1))
  cdf = _mixture(rng, 4, 6, 256, 3)
  check(cdf, _mixture_pmf(cdf.params, cdf.edges))


def test_the_cdf_intervals_cost_what_the_pmf_tables_cost():
  # Expected code length, under the float64 distribution, of the quantized
  # CDF's intervals and of `codecs.quantize_pmf`'s tables (formats 3 and
  # 2): the two quantizations agree to within 1e-5 bits
  # per symbol (3.7e-7 measured), so format 3 costs no rate.
  rng = np.random.default_rng(4)
  precision = 24
  def cost(freqs, pmf):
    return -np.sum(pmf * np.log2(freqs / 2.0 ** precision), -1)
  gaussian, mixture = _gaussian(rng, 6, 50, 8), _mixture(rng, 6, 50, 256, 5)
  m, s = gaussian.params[..., 0], gaussian.params[..., 1]
  for cdf, pmf in [
      (gaussian, codecs.gaussian_bucket_pmf(m, s, 8).reshape(6, 50, -1)),
      (mixture, _mixture_pmf(mixture.params, mixture.edges))]:
    ours = np.diff(rans.cdf_tables(cdf, precision).astype(np.int64), axis=-1)
    old = codecs.quantize_pmf(pmf, precision)
    entropy = -np.sum(pmf * np.log2(np.maximum(pmf, 1e-300)), -1)
    assert np.abs(cost(ours, pmf) - cost(old, pmf)).max() < 1e-5
    assert (cost(ours, pmf) - entropy).max() < 1e-4   # Both near the entropy.


@pytest.mark.parametrize('levels,k', [(256, 5), (4, 2)])
def test_mixture_cdf_gives_the_training_losss_bin_masses(levels, k):
  # The likelihood's two descriptions agree: bin masses from differences of
  # its coding CDF match its pmf (the training loss's log-masses in float32).
  lik = likelihoods.LogisticMixtureLikelihood(levels, k)
  raw = np.random.default_rng(1).normal(size=(3, 7, 3 * k)).astype(np.float32)
  family, params, edges = lik.coding_cdf(raw)
  assert family == 'logistic_mixture' and edges.shape == (levels - 1,)
  np.testing.assert_allclose(_mixture_pmf(params, edges), lik.pmf(raw),
                             atol=2e-6)


def test_bad_input_is_one_clear_error_and_changes_nothing():
  rng = np.random.default_rng(2)
  cdf = _mixture(rng, 2, 3, 16, 2)
  init = rans.random_message(3, 4, seed=0)
  msg = init.copy()
  bad = np.array([[0, 1, 2], [3, 16, 4]])
  with pytest.raises(rans.CodingError, match='outside'):
    rans.push_cdf(msg, bad, cdf, 24)
  assert msg == init
  with pytest.raises(rans.CodingError, match=r'\(2, 3\)'):
    rans.push_cdf(msg, np.zeros((3, 3), int), cdf, 24)
  with pytest.raises(rans.CodingError, match='integer'):
    rans.push_cdf(msg, np.zeros((2, 3)), cdf, 24)
  with pytest.raises(rans.CodingError, match='lanes'):
    rans.push_cdf(rans.random_message(2, 4), np.zeros((2, 3), int), cdf, 24)
  empty = rans.random_message(3, 0, seed=0)
  with pytest.raises(rans.CodingError, match='underflow'):
    for _ in range(40):       # Pops until the stack runs dry.
      empty, _ = rans.pop_cdf(empty, cdf, 24)
  before = empty.copy()
  with pytest.raises(rans.CodingError, match='underflow'):
    rans.pop_cdf(empty, cdf, 24)
  assert empty == before
  assert msg == init
  p = cdf.params
  for args, match in [
      (('student_t', p, 16, cdf.edges), 'unknown CDF family'),
      (('logistic_mixture', np.where(p == p[0, 0, 0], np.nan, p), 16,
        cdf.edges), 'NaN'),
      (('logistic_mixture', p[..., :5], 16, cdf.edges), '3K'),
      (('logistic_mixture', p, 16, cdf.edges[:-1]), 'edges'),
      (('logistic_mixture', p, 16, cdf.edges[::-1]), 'increasing'),
      (('gaussian_buckets', np.zeros((1, 2, 2)), 4, np.zeros(3)), 'scale'),
      (('bernoulli_logit', np.zeros((1, 2, 1)), 3), '2 symbols'),
      (('logistic_mixture', p, '16', cdf.edges), 'integer'),
      (('logistic_mixture', p * [-1, 1, 1, 1, 1, 1], 16, cdf.edges),
       'weights'),
      (('logistic_mixture', p * [2, 2, 1, 1, 1, 1], 16, cdf.edges),
       'sum to one'),
      (('logistic_mixture', p * [1, 1, 1, 1, -1, 1], 16, cdf.edges),
       'inverse scales')]:
    with pytest.raises(rans.CodingError, match=match):
      rans.QuantizedCDF(*args)
  with pytest.raises(rans.CodingError, match='do not fit'):
    rans.push_cdf(msg, np.zeros((2, 3), int), cdf, 3)
  with pytest.raises(rans.CodingError, match='QuantizedCDF'):
    rans.pop_cdf(msg, cdf.params, 24)
  # A changed copy is checked as a new one is.
  with pytest.raises(rans.CodingError, match='inverse scales'):
    rans.pop_cdf(msg, dataclasses.replace(cdf, params=-cdf.params), 24)
  assert msg == init


def test_a_symbol_without_a_slot_is_refused_not_miscoded():
  # The kernels' last guard: a CDF that decreases (here a mixture with a
  # negative inverse scale, which `QuantizedCDF` refuses; libm rounding can
  # do it by one ulp) gives C = [0, 65532, 32768, 3, 65536] for 4 symbols at
  # 16 bits; symbol 1 has no slot and the push stops with the heads as
  # they were.
  msg = rans.random_message(1, 2)
  head = msg.head.copy()
  params = np.array([[[1.0, 0.0, -50.0]]])
  edges = np.array([-0.5, 0.0, 0.5])
  out = np.empty((1, 5), np.int64)
  kernels.quantized_cdf_tables(params[0], kernels.LOGISTIC_MIXTURE, 4, edges,
                               16, out)
  np.testing.assert_array_equal(out, [[0, 65532, 32768, 3, 65536]])
  length = kernels.push_cdf(msg.head, msg._buf, msg._len, np.array([[1]]),
                            params, kernels.LOGISTIC_MIXTURE, 4, edges, 16, 0)
  assert length == kernels.NO_SLOT
  np.testing.assert_array_equal(msg.head, head)


def test_empty_blocks_change_nothing():
  cdf = _gaussian(np.random.default_rng(3), 0, 2, 4)
  init = rans.random_message(2, 3)
  msg = rans.push_cdf(init.copy(), np.zeros((0, 2), int), cdf, 16)
  msg, out = rans.pop_cdf(msg, cdf, 16)
  assert out.shape == (0, 2) and msg == init
