"""Decoder likelihoods, each on its own: the pmf bits-back coding reads agrees
with the log-likelihood the VAE trains on, and the factory is the one place
a config name becomes a class."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from coding import codecs
from common.errors import ConfigError
from vae import likelihoods


def _mixture_params(n, k, seed=0):
  """Raw decoder outputs [n, 1, 3k] that reach every branch of the bin mass:
  wide and very narrow components, means inside and beyond the edges."""
  rng = np.random.default_rng(seed)
  w = rng.normal(size=(n, 1, k))
  mu = rng.normal(scale=2.0, size=(n, 1, k))          # tanh -> (-1, 1).
  log_s = rng.uniform(-9.0, 3.0, size=(n, 1, k))      # -7 clamp; bins << s.
  return jnp.asarray(np.concatenate([w, mu, log_s], -1), jnp.float32)


def test_logistic_mixture_pmf_sums_to_one_and_matches_log_prob():
  params = _mixture_params(8, 3)                   # 8 examples of 1 sub-pixel.
  for levels in (2, 256):   # Edge bins only; interior bins too.
    lik = likelihoods.LogisticMixtureLikelihood(levels, num_mixtures=3)
    pmf = lik.pmf(params)
    assert pmf.shape == (8, 1, levels) and pmf.dtype == np.float64
    np.testing.assert_allclose(pmf.sum(-1), 1.0, atol=1e-5)
    # log_prob of every level at once: example i with value v is row v * 8 + i.
    values = jnp.repeat(jnp.arange(levels), 8)[:, None]
    log_p = jax.jit(lik.log_prob)(values, jnp.tile(params, (levels, 1, 1)))
    np.testing.assert_allclose(np.log(pmf[:, 0]), log_p.reshape(levels, 8).T,
                               rtol=1e-4, atol=1e-4)


def test_logistic_mixture_pmf_is_the_coder_table():
  # The coder quantizes exactly this table (one formula, in
  # common.distributions), and its frequencies follow the pmf.
  lik = likelihoods.LogisticMixtureLikelihood(256, num_mixtures=3)
  params = _mixture_params(8, 3, seed=1).reshape(2, 4, 1, 9)
  w, mu, log_s = (np.asarray(a).reshape(-1, 3) for a in lik.mixture_params(params))
  pmf = lik.pmf(params).reshape(-1, 256)
  freqs = codecs.quantize_pmf(pmf, 24)
  np.testing.assert_allclose(freqs / 2**24, pmf, atol=256 / 2**24)
  from coding import rans  # pylint: disable=g-import-not-at-top
  symbols = np.arange(8) * 30
  coded = codecs.DiscretizedLogisticMixture(w, mu, log_s, 256, 24).push(
      rans.random_message(8, 4), symbols)
  expected = codecs.Categorical(freqs, 24).push(rans.random_message(8, 4), symbols)
  assert rans.to_bytes(coded) == rans.to_bytes(expected)


def test_bernoulli_pmf_is_the_sigmoid_of_the_logits():
  lik = likelihoods.BernoulliLikelihood(2)
  logits = jnp.asarray(np.random.default_rng(0).normal(scale=20.0, size=(3, 2, 2, 1)),
                       jnp.float32)
  pmf = lik.pmf(logits)
  assert pmf.shape == (3, 2, 2, 2) and lik.coded_levels == 2
  p1 = special.expit(np.asarray(logits[..., 0], np.float64))
  np.testing.assert_array_equal(pmf[..., 1], p1)
  np.testing.assert_array_equal(pmf[..., 0], 1.0 - p1)
  ones = jnp.ones((3, 2, 2), jnp.float32)
  np.testing.assert_allclose(lik.log_prob(ones, logits),
                             np.log(pmf[..., 1]).sum((1, 2)), rtol=1e-5)


def test_gaussian_refuses_bits_back_coding():
  lik = likelihoods.GaussianLikelihood()
  with pytest.raises(ConfigError, match='continuous.*bits-back'):
    lik.pmf(jnp.zeros((1, 4, 2)))
  with pytest.raises(ConfigError, match='continuous.*bits-back'):
    lik.coded_levels  # pylint: disable=pointless-statement
  with pytest.raises(ConfigError, match='no picture'):
    lik.picture(jax.random.key(0), jnp.zeros((1, 4, 2)))


def test_gaussian_log_prob_uses_the_floored_scale():
  lik = likelihoods.GaussianLikelihood()
  x = jnp.asarray([[0.5, -1.0]])
  params = jnp.asarray([[[0.0, -100.0], [-1.0, 0.3]]])  # The first hits the floor.
  log_s = np.asarray(lik.log_scale(params))
  assert log_s[0, 0] == pytest.approx(-5.0) and log_s[0, 1] > 0.3
  expected = sum(-0.5 * np.log(2 * np.pi) - s - 0.5 * ((v - m) / np.exp(s))**2
                 for v, m, s in zip([0.5, -1.0], [0.0, -1.0], log_s[0]))
  np.testing.assert_allclose(lik.log_prob(x, params), [expected], rtol=1e-5)


def test_prepare_and_encoder_input():
  x = jnp.asarray(np.random.default_rng(0).integers(0, 17, (4, 3, 3, 1)), jnp.uint8)
  lm = likelihoods.LogisticMixtureLikelihood(17)
  x_in, target = lm.prepare(x, jax.random.key(0))
  np.testing.assert_array_equal(target, x)
  np.testing.assert_array_equal(x_in, lm.encoder_input(x))
  assert float(x_in.min()) >= -1.0 and float(x_in.max()) <= 1.0

  grey = likelihoods.BernoulliLikelihood(17)    # Dynamic binarization.
  a, t = grey.prepare(x, jax.random.key(0))
  b, _ = grey.prepare(x, jax.random.key(1))
  assert a is t and set(np.unique(a)) <= {0.0, 1.0} and not np.array_equal(a, b)
  # Without randomness the encoder sees the binarization's expectation.
  draws = np.mean([grey.prepare(x, jax.random.key(i))[0] for i in range(400)], 0)
  np.testing.assert_allclose(grey.encoder_input(x), draws, atol=0.1)
  np.testing.assert_array_equal(grey.encoder_input(x), np.asarray(x) / 16)
  binary = likelihoods.BernoulliLikelihood(2)
  xb = x % 2
  np.testing.assert_array_equal(binary.prepare(xb, jax.random.key(0))[0],
                                binary.encoder_input(xb))

  f = jnp.ones((2, 5))
  assert likelihoods.GaussianLikelihood().prepare(f, None) == (f, f)


def test_decoder_channels_and_pictures():
  bern = likelihoods.BernoulliLikelihood(256)
  lm = likelihoods.LogisticMixtureLikelihood(17, num_mixtures=4)
  assert (bern.params_per_dim, lm.params_per_dim,
          likelihoods.GaussianLikelihood().params_per_dim) == (1, 12, 2)
  assert (bern.picture_levels, lm.picture_levels) == (256, 17)
  assert (bern.reports_bpd, lm.reports_bpd,
          likelihoods.GaussianLikelihood.reports_bpd) == (False, True, False)
  mean = bern.picture(jax.random.key(0), jnp.zeros((2, 3, 3, 1)))
  assert mean.dtype == jnp.uint8 and np.all(np.asarray(mean) == 128)


def test_factory_builds_each_class_and_rejects_unknown_names():
  f = likelihoods.likelihood_from_config
  assert f('bernoulli', 256) == likelihoods.BernoulliLikelihood(256)
  assert f('logistic_mixture', 17, 3) == likelihoods.LogisticMixtureLikelihood(17, 3)
  assert f('gaussian', 0) == likelihoods.GaussianLikelihood()
  # Frozen and hashable: the VAE holds one as a Flax module attribute.
  assert hash(f('logistic_mixture', 17, 3)) == hash(f('logistic_mixture', 17, 3))
  with pytest.raises(ValueError, match="unknown likelihood 'poisson'; use "
                     'bernoulli, logistic_mixture or gaussian') as err:
    f('poisson', 256)
  assert isinstance(err.value, ConfigError) and '--config' not in str(err.value)
  for args in [('logistic_mixture', 0), ('gaussian', 256), ('bernoulli', 0),
               ('logistic_mixture', 256, 0)]:
    with pytest.raises(ConfigError):
      f(*args)
