"""ELBO and IWAE bounds against a model with an exact log p(x)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import distributions as d
from vae import bounds
from vae import likelihoods
from vae import model as model_lib
from vae import objective as objective_lib

# Linear-Gaussian model: z ~ N(0, I_2), x | z ~ N(W z + b, s^2 I_3), so
# log p(x) = log N(x; b, W W^T + s^2 I) exactly. q(z|x) is a deliberately
# mis-specified diagonal Gaussian.
W = np.array([[1.0, 0.5], [-0.3, 0.8], [0.7, -1.2]])
B = np.array([0.1, -0.2, 0.3])
S = 0.5
X = np.array([1.0, -0.5, 0.8])
Q_MEAN, Q_LOG_SCALE = np.array([0.3, -0.2]), np.array([-0.4, -0.6])


def _exact_log_px():
  cov = W @ W.T + S**2 * np.eye(3)
  diff = X - B
  _, logdet = np.linalg.slogdet(cov)
  return -0.5 * (3 * math.log(2 * math.pi) + logdet + diff @ np.linalg.solve(cov, diff))


def _log_w(rng, k, reps):
  """log w of shape [k, reps]: `reps` independent estimates of one x."""
  z = Q_MEAN + np.exp(Q_LOG_SCALE) * jax.random.normal(rng, (k * reps, 2))
  mean_x = z @ W.T + B
  log_p = (d.diagonal_normal_log_prob(jnp.broadcast_to(X, mean_x.shape), mean_x,
                                      jnp.full(mean_x.shape, math.log(S)))
           + d.standard_normal_log_prob(z))
  log_q = d.diagonal_normal_log_prob(z, jnp.broadcast_to(Q_MEAN, z.shape),
                                     jnp.broadcast_to(Q_LOG_SCALE, z.shape))
  return (log_p - log_q).reshape(k, reps)


def test_iwae_bound_grows_with_k_and_stays_below_log_px():
  jax.config.update('jax_enable_x64', True)
  try:
    exact = _exact_log_px()
    reps = 4000
    means, ses = [], []
    for i, k in enumerate([1, 2, 5, 20, 200]):
      lk = np.asarray(bounds.iwae_bound(_log_w(jax.random.key(i), k, reps)))
      means.append(lk.mean())
      ses.append(lk.std() / math.sqrt(reps))
    for a, b, sa, sb in zip(means, means[1:], ses, ses[1:]):
      assert b > a - 3 * math.hypot(sa, sb), means
    assert means[-1] - means[0] > 10 * ses[0], means  # Clearly tighter.
    assert all(m < exact + 3 * s for m, s in zip(means, ses)), (means, exact)
    assert exact - means[-1] < 0.02, (means[-1], exact)  # L_200 nearly exact.
  finally:
    jax.config.update('jax_enable_x64', False)


def test_k1_iwae_is_the_elbo_on_the_same_samples():
  lw = _log_w(jax.random.key(0), 1, 50)
  np.testing.assert_array_equal(bounds.iwae_bound(lw), bounds.elbo(lw))


def test_exact_posterior_gives_zero_variance_weights():
  # With q = p(z|x) every log w equals log p(x) (IWAE paper Sec. 3).
  s2, x = 0.3, 1.7  # z ~ N(0, 1), x | z ~ N(z, s2).
  post_var = s2 / (1 + s2)
  z = x / (1 + s2) + math.sqrt(post_var) * np.random.default_rng(0).normal(size=100)
  log_w = (-0.5 * np.log(2 * np.pi * s2) - (x - z)**2 / (2 * s2)
           - 0.5 * np.log(2 * np.pi) - z**2 / 2
           + 0.5 * np.log(2 * np.pi * post_var) + (z - x / (1 + s2))**2 / (2 * post_var))
  exact = -0.5 * np.log(2 * np.pi * (1 + s2)) - x**2 / (2 * (1 + s2))
  np.testing.assert_allclose(log_w, exact, atol=1e-9)
  assert float(bounds.iwae_bound(jnp.asarray(log_w)[:, None])[0]) == pytest.approx(exact, abs=1e-5)


def test_chunked_bound_equals_the_one_shot_bound():
  fn = lambda rng, c: _log_w(rng, c, 7)
  rng = jax.random.key(4)
  chunked = bounds.chunked_iwae_bound(fn, rng, 60, 15)
  all_w = jnp.concatenate([fn(jax.random.fold_in(rng, i), 15) for i in range(4)])
  np.testing.assert_allclose(chunked, bounds.iwae_bound(all_w), rtol=1e-6)
  with pytest.raises(ValueError, match='multiple'):
    bounds.chunked_iwae_bound(fn, rng, 50, 15)


def test_active_units():
  rng = np.random.default_rng(0)
  means = np.concatenate([rng.normal(size=(500, 3)),
                          1e-3 * rng.normal(size=(500, 2))], 1)
  assert bounds.active_units(means) == 3


def _vae(**kw):
  lik = likelihoods.BernoulliLikelihood(2)
  kw.setdefault('latents', (3,))
  kw.setdefault('hidden', ((16,),))
  return model_lib.VAE(data_shape=(4, 4, 1), likelihood=lik, **kw)


@pytest.mark.parametrize('kw', [
    {'iaf_steps': 1, 'iaf_hidden': (8,)},                # IAF posterior.
    {'latents': (3, 2), 'hidden': ((16,), (8,))},        # 2 stochastic layers.
])
def test_vae_iwae_k1_equals_monte_carlo_elbo_and_grows_with_k(kw):
  obj = objective_lib.VAEObjective(_vae(**kw), 'iwae', k=1)
  assert not obj.analytic_kl
  x = (np.random.default_rng(0).random((10, 4, 4, 1)) < 0.4).astype(np.uint8)
  variables = obj.init(jax.random.key(0), {'x': x})
  terms = obj.model.apply(variables, jnp.asarray(x, jnp.float32), x,
                          jax.random.key(1), 1)
  lw = bounds.log_weights(terms)
  np.testing.assert_array_equal(bounds.iwae_bound(lw), bounds.elbo(lw))
  # On a fixed model, mean L_k over many draws does not decrease with k.
  est = []
  for k in (1, 10, 100):
    terms = obj.model.apply(variables, jnp.asarray(x, jnp.float32), x,
                            jax.random.key(k), k)
    est.append(float(jnp.mean(bounds.iwae_bound(bounds.log_weights(terms)))))
  assert est[0] < est[1] < est[2], est


def test_analytic_kl_objective_matches_monte_carlo_in_expectation():
  obj = objective_lib.VAEObjective(_vae(), 'elbo', k=1)
  assert obj.analytic_kl
  x = (np.random.default_rng(1).random((4, 4, 4, 1)) < 0.5).astype(np.uint8)
  variables = obj.init(jax.random.key(0), {'x': x})
  terms = obj.model.apply(variables, jnp.asarray(x, jnp.float32), x,
                          jax.random.key(2), 20000)
  mc_kl = jnp.mean(terms['log_q_z'] - terms['log_p_z'], 0)
  exact = d.normal_kl_to_standard(terms['q_mean'], terms['q_log_scale'])
  np.testing.assert_allclose(mc_kl, exact, atol=0.03)
