"""IAF (arXiv:1606.04934): log-det against autodiff, inversion, log q(z|x)."""
import jax
import numpy as np

from common import distributions as d
from vae import iaf as iaf_lib
from vae import likelihoods
from vae import model as model_lib


def _random_iaf(steps=3, latent=5, seed=0):
  iaf = iaf_lib.IAF(latent, steps, (16, 16))
  z = jax.random.normal(jax.random.key(seed), (4, latent))
  h = jax.random.normal(jax.random.key(seed + 1), (4, 7))
  params = iaf.init(jax.random.key(2), z, h)
  # Leave the near-identity initialisation so the test has teeth.
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(3), len(leaves))
  params = jax.tree.unflatten(tree, [a + 0.5 * jax.random.normal(k, a.shape)
                                     for a, k in zip(leaves, keys)])
  return iaf, params, z, h


def test_log_det_matches_autodiff_jacobian():
  iaf, params, z, h = _random_iaf()
  _, log_sigma_sum = iaf.apply(params, z, h)
  jacs = jax.jit(jax.vmap(jax.jacfwd(
      lambda v, c: iaf.apply(params, v[None], c[None])[0][0])))(z, h)
  _, logdet = np.linalg.slogdet(np.asarray(jacs, np.float64))
  np.testing.assert_allclose(logdet, log_sigma_sum, rtol=1e-4, atol=1e-4)
  assert np.abs(np.asarray(log_sigma_sum)).min() > 0.1  # Not the identity.


def test_sample_then_score_round_trips():
  iaf, params, z0, h = _random_iaf(seed=5)
  z_t, log_sigma_sum = iaf.apply(params, z0, h)
  z0_back, log_sigma_back = iaf.apply(params, z_t, h, method=iaf.inverse)
  np.testing.assert_allclose(z0_back, z0, atol=1e-4)
  np.testing.assert_allclose(log_sigma_back, log_sigma_sum, atol=1e-4)


def test_vae_log_q_is_the_flow_density():
  lik = likelihoods.BernoulliLikelihood(2)
  vae = model_lib.VAE(data_shape=(3, 3, 1), likelihood=lik, latents=(4,),
                      hidden=((8,),), iaf_steps=2, iaf_hidden=(8,))
  x = (np.random.default_rng(0).random((2, 3, 3, 1)) < 0.5).astype(np.float32)
  variables = vae.init(jax.random.key(0), x, x, jax.random.key(1), 1)
  rng = jax.random.key(7)
  terms = vae.apply(variables, x, x, rng, 1)
  # Recompute: the same z0, pushed through the flow, scored by the change of
  # variables with the autodiff Jacobian.
  mean, log_scale, h = vae.apply(variables, x, method=vae.encode)
  z0 = d.diagonal_normal_sample(jax.random.split(rng, 1)[0], mean, log_scale)
  log_q0 = d.diagonal_normal_log_prob(z0, mean, log_scale)
  flow = lambda z, hh: vae.apply(variables, z[None], hh[None],
                                 method=lambda m, a, b: m.iaf(a, b)[0])[0]
  jacs = jax.jit(jax.vmap(jax.jacfwd(flow)))(z0, h)
  _, logdet = np.linalg.slogdet(np.asarray(jacs, np.float64))
  np.testing.assert_allclose(terms['log_q_z'][0], log_q0 - logdet,
                             rtol=1e-4, atol=1e-4)
