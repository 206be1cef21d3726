"""M2 (arXiv:1406.5298): the unlabelled bound is the explicit sum over classes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import distributions as d
from common.errors import ConfigError
from vae import likelihoods
from vae import ssvae


def _m2():
  model = ssvae.M2(data_shape=(4, 4, 1), likelihood=likelihoods.BernoulliLikelihood(2),
                   num_classes=3, latent=2, hidden=(8,))
  x = (np.random.default_rng(0).random((5, 4, 4, 1)) < 0.5).astype(np.float32)
  variables = model.init(jax.random.key(0), x, x, jnp.zeros(5, jnp.int32),
                         jax.random.key(1))
  return model, variables, x


def test_unlabelled_loss_is_the_explicit_sum_over_classes():
  model, variables, x = _m2()
  rng = jax.random.key(3)
  u = model.apply(variables, x, x, rng, method=model.unlabelled_loss)
  logits = model.apply(variables, x, method=model.classify)
  q = np.asarray(jax.nn.softmax(logits), np.float64)
  explicit = np.zeros(5)
  for y in range(3):
    l_y = model.apply(variables, x, x, jnp.full(5, y), jax.random.fold_in(rng, y),
                      method=model.neg_elbo)
    explicit += q[:, y] * np.asarray(l_y, np.float64)
  explicit += np.sum(q * np.log(q), -1)  # Minus the entropy H(q(y|x)).
  np.testing.assert_allclose(u, explicit, rtol=1e-5)


def test_labelled_loss_is_negative_elbo_with_log_prior():
  model, variables, x = _m2()
  y = jnp.array([0, 1, 2, 0, 1])
  # Without the KL and reconstruction parts, L(x, y) holds -log p(y) = log 3;
  # check the pieces add up by recomputing them with the same noise.
  rng = jax.random.key(9)
  l = model.apply(variables, x, x, y, rng, method=model.neg_elbo)
  eps = jax.random.normal(rng, (5, 2))

  def pieces(m):
    onehot = jax.nn.one_hot(y, 3)
    mean, log_s, _ = m.encoder(jnp.concatenate([x.reshape(5, -1), onehot], -1))
    params = m.decoder(jnp.concatenate([mean + jnp.exp(log_s) * eps, onehot], -1))
    return (m.likelihood.log_prob(x, params),
            d.normal_kl_to_standard(mean, log_s))

  log_px, kl = model.apply(variables, method=pieces)
  np.testing.assert_allclose(l, -(log_px - np.log(3) - kl), rtol=1e-5)


def test_stratified_subset():
  labels = np.repeat(np.arange(10), 50)[np.random.default_rng(0).permutation(500)]
  idx = ssvae.stratified_subset(labels, 100, 10, seed=1)
  assert len(set(idx)) == 100
  np.testing.assert_array_equal(np.bincount(labels[idx]), np.full(10, 10))
  np.testing.assert_array_equal(idx, ssvae.stratified_subset(labels, 100, 10, 1))
  with pytest.raises(ConfigError, match='evenly'):
    ssvae.stratified_subset(labels, 105, 10, 0)
