"""BB-ANS on small random VAEs, with both ways of computing intervals
(whole tables from the pmf, and quantized CDFs in the compiled coder): exact
round trip through bytes, the initial bits come back, the rate matches the
negative ELBO, and the compiled coding gives the numpy reference's bytes."""
import jax
import numpy as np
import pytest

from coding import bitsback
from coding import codecs
from coding import rans
from common.errors import ConfigError
from vae import likelihoods
from vae import model as model_lib
from vae import objective as objective_lib


def _coder(kind, levels, shape=(4, 4, 1), latent=3, seed=0):
  lik = likelihoods.likelihood_from_config(kind, levels, num_mixtures=2)
  model = model_lib.VAE(data_shape=shape, likelihood=lik, latents=(latent,),
                        hidden=((16,),))
  obj = objective_lib.VAEObjective(model, eval_k=1)
  x = np.zeros((2, *shape), np.uint8)
  variables = obj.init(jax.random.key(seed), {'x': x})
  return obj, variables, bitsback.vae_coder_model(obj, variables)


@pytest.mark.parametrize('kind,levels,tables', [
    ('bernoulli', 2, 'cdf'), ('logistic_mixture', 256, 'cdf'),
    ('logistic_mixture', 256, 'pmf'), ('logistic_mixture', 3, 'cdf')])
def test_round_trip_through_bytes_restores_the_initial_bits(kind, levels,
                                                            tables):
  obj, variables, model = _coder(kind, levels)
  rng = np.random.default_rng(0)
  images = rng.integers(0, levels, (12, 4, 4, 1)).astype(np.uint8)
  coder = bitsback.BBANS(model, bucket_bits=6, precision=20, tables=tables)
  msg, init = bitsback.encode_dataset(coder, images, chains=4, initial_words=40)
  restored = rans.from_bytes(rans.to_bytes(msg))
  final, decoded = bitsback.decode_dataset(coder, restored, 12, 4)
  np.testing.assert_array_equal(decoded, images)
  assert final == init


@pytest.mark.parametrize('kind,levels', [('bernoulli', 2),
                                         ('logistic_mixture', 16)])
def test_rate_is_close_to_the_negative_elbo(kind, levels):
  obj, variables, model = _coder(kind, levels, shape=(6, 6, 1), latent=4)
  rng = np.random.default_rng(1)
  n, chains = 400, 20
  images = (rng.uniform(size=(n, 6, 6, 1)) * (0.3 + levels / 2)).astype(
      np.uint8).clip(0, levels - 1)
  out = obj.evaluate(variables, {'x': images}, jax.random.key(0))
  neg_elbo_bits = float(np.mean(out['neg_elbo_nats'])) / np.log(2)
  rates = {}
  for tables in bitsback.TABLES:
    coder = bitsback.BBANS(model, bucket_bits=10, precision=24, tables=tables)
    msg, init = bitsback.encode_dataset(coder, images, chains,
                                        initial_words=200)
    rates[tables] = (msg.num_bits() - init.num_bits()) / n
    # Discretising z costs a little; the per-chain flush is amortised.
    assert abs(rates[tables] - neg_elbo_bits) < 0.03 * neg_elbo_bits + 0.5, (
        tables, rates[tables], neg_elbo_bits)
    _, decoded = bitsback.decode_dataset(coder, msg, n, chains)
    np.testing.assert_array_equal(decoded, images)
  # The two schemes' intervals pop other latents, so the sizes differ by a
  # bits-back code's path noise (0.32 bits per image on the mean of 400 was
  # seen); tests/coding/test_cdf.py compares the quantizations' costs
  # without that noise, to 1e-5 bits per symbol.
  assert abs(rates['cdf'] - rates['pmf']) < 0.015 * rates['pmf'], rates


@pytest.mark.parametrize('tables', bitsback.TABLES)
def test_too_few_initial_bits_is_an_error(tables):
  _, _, model = _coder('bernoulli', 2)
  images = np.ones((2, 4, 4, 1), np.uint8)
  coder = bitsback.BBANS(model, bucket_bits=12, precision=24, tables=tables)
  with pytest.raises(rans.CodingError, match='underflow'):
    bitsback.encode_dataset(coder, images, chains=2, initial_words=0)


def test_bad_tables_is_refused():
  _, _, model = _coder('bernoulli', 2)
  with pytest.raises(ConfigError, match='tables'):
    bitsback.BBANS(model, tables='cdf2')


def test_a_continuous_decoder_is_refused():
  model = model_lib.VAE(data_shape=(6,), likelihood=likelihoods.GaussianLikelihood(),
                        latents=(2,), hidden=((8,),))
  obj = objective_lib.VAEObjective(model, eval_k=1)
  with pytest.raises(ConfigError, match='continuous.*bits-back'):
    bitsback.vae_coder_model(obj, variables=None)  # Refused before any use.


def _cdf_freqs(family, params, levels, edges, precision):
  """The integer tables [B, D, levels] of quantized CDFs, params [B, D, P]."""
  cdf = rans.QuantizedCDF(family, params, levels, edges)
  return np.diff(rans.cdf_tables(cdf, precision).astype(np.int64), axis=-1)


def _reference_push(coder, msg, x):
  """BB-ANS's encoder written with the numpy reference codecs, one column
  (one latent dimension or sub-pixel of every image) per call, on the
  whole tables of the coder's scheme."""
  m = coder.model
  b = x.shape[0]
  mean, scale = m.posterior(x)
  if coder.tables == 'cdf':
    post = _cdf_freqs('gaussian_buckets', np.stack([mean, scale], -1),
                      1 << coder.bits, codecs.bucket_edges(coder.bits)[1:-1],
                      coder.precision)
  else:
    post = codecs.quantize_pmf(
        codecs.gaussian_bucket_pmf(mean, scale, coder.bits),
        coder.precision).reshape(b, m.latent_dim, -1)
  buckets = np.zeros((b, m.latent_dim), np.int64)
  for d in reversed(range(m.latent_dim)):
    msg, buckets[:, d] = codecs.Categorical(post[:, d], coder.precision).pop(msg)
  centres = codecs.bucket_centres(coder.bits).astype(np.float32)[buckets]
  raw = m.decoder(centres)
  if coder.tables == 'cdf':
    family, params, edges = m.cdf(raw)
    lik = _cdf_freqs(family, params, m.levels, edges, coder.precision)
  else:
    lik = codecs.quantize_pmf(m.pmf(raw), coder.precision)
  flat = x.reshape(b, -1)
  for d in range(flat.shape[1]):
    msg = codecs.Categorical(lik[:, d], coder.precision).push(msg, flat[:, d])
  for d in range(m.latent_dim):
    msg = codecs.Uniform(coder.bits, b).push(msg, buckets[:, d])
  return msg


@pytest.mark.parametrize('kind,levels,chains,workers,tables', [
    ('bernoulli', 2, 5, 3, 'pmf'), ('logistic_mixture', 17, 3, 2, 'pmf'),
    ('logistic_mixture', 17, 3, 1, 'pmf'), ('bernoulli', 2, 5, 1, 'cdf'),
    ('logistic_mixture', 17, 3, 1, 'cdf')])
def test_compiled_coding_gives_the_reference_bytes(kind, levels, chains,
                                                   workers, tables,
                                                   monkeypatch):
  # The compiled columns, the CDFs evaluated in the coder and threaded table
  # building change nothing, with any number of threads: every batch's
  # message equals the one the per-column numpy codecs give on the whole
  # tables.
  monkeypatch.setattr(bitsback, '_WORKERS', workers)
  _, _, model = _coder(kind, levels, shape=(3, 5, 1), latent=4)
  rng = np.random.default_rng(2)
  coder = bitsback.BBANS(model, bucket_bits=7, precision=22, tables=tables)
  msg = reference = rans.random_message(chains, 30, seed=3)
  for _ in range(3):
    x = rng.integers(0, levels, (chains, 3, 5, 1)).astype(np.uint8)
    msg = coder.push(msg.copy(), x)
    reference = _reference_push(coder, reference, x)
    assert rans.to_bytes(msg) == rans.to_bytes(reference)
