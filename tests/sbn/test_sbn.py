"""The discrete-latent family against enumeration: on SBNs small enough to
sum over every latent state, the mean of the objective's gradient over many
draws equals the exact gradient of the expected ELBO (every unbiased
estimator, one and two stochastic layers) or of the K-sample bound
(VIMCO); wake-sleep's wake and sleep gradients equal their exact
expectations; the categorical VAE's likewise."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from estimators import base
from sbn import helmholtz
from sbn import models
from sbn import objective as objective_lib

M = 20_000
X = np.array([[1, 0, 1], [0, 1, 1]], np.uint8).reshape(2, 3, 1, 1)


@pytest.fixture(autouse=True)
def _float64():
  with jax.enable_x64(True):
    yield


def _states(dims):
  return [jnp.array(list(itertools.product([0.0, 1.0], repeat=d))) for d in dims]


def _random_params(objective, seed, scale=0.7):
  """Random model parameters (and REBAR/RELAX at eta = 1, tau = 0.5, where
  a biased control would show)."""
  variables = objective.init(jax.random.key(seed), {'x': X})
  rng = np.random.default_rng(seed)
  model = jax.tree.map(
      lambda a: jnp.asarray(rng.normal(scale=scale, size=a.shape), a.dtype),
      variables['params']['model'])
  return {**variables, 'params': {**variables['params'], 'model': model}}


def _exact_elbo_grad(objective, variables):
  """-grad of the batch mean of E_q[ELBO], by enumerating every chain."""
  model = objective.model
  x = jnp.asarray(X.reshape(2, -1), jnp.float64)
  chains = list(itertools.product(*[range(len(s)) for s in _states(model.layers)]))
  states = _states(model.layers)

  def expected(params):
    total = 0.0
    for chain in chains:
      zs = [jnp.broadcast_to(states[l][i], (2, model.layers[l]))
            for l, i in enumerate(chain)]
      log_q = model.apply({'params': params}, x, zs, method=model.log_q)
      elbo = (model.apply({'params': params}, x, zs, method=model.log_joint)
              - log_q)
      total = total + jnp.exp(log_q) * elbo
    return jnp.mean(total)

  return jax.tree.map(jnp.negative,
                      jax.jit(jax.grad(expected))(variables['params']['model']))


def _mean_grads(objective, variables, key):
  grads = jax.jit(jax.vmap(lambda k: objective.grads(variables, {'x': X}, k)[0]))(
      jax.random.split(key, M))
  mean = jax.tree.map(lambda g: jnp.mean(g, 0), grads)
  se = jax.tree.map(lambda g: jnp.std(g, 0) / np.sqrt(M), grads)
  return mean, se


def _assert_close(mean, se, exact, z=6.0):
  for path, m in jax.tree_util.tree_flatten_with_path(mean)[0]:
    e = _get(exact, path)
    s = _get(se, path)
    bad = np.abs(np.asarray(m) - np.asarray(e)) > z * np.asarray(s) + 1e-9
    assert not bad.any(), (jax.tree_util.keystr(path), m, e, s)


def _get(tree, path):
  for k in path:
    tree = tree[k.key if hasattr(k, 'key') else k.idx]
  return tree


@pytest.mark.parametrize('estimator, layers', [
    *[(e, (2,)) for e in ('reinforce', 'nvil', 'muprop', 'rebar', 'relax',
                          'arm', 'disarm')],
    # Two layers: the layer-by-layer composition, with large weights so
    # that a control variate with jumps (layers above thresholded) would
    # show its bias.
    ('reinforce', (2, 2)), ('rebar', (2, 2)), ('relax', (2, 2))])
def test_sbn_gradients_are_unbiased(estimator, layers):
  model = models.SBN(data_dim=3, layers=layers, hidden=0)
  objective = objective_lib.SBNObjective(model, estimator, levels=2,
                                         eval_k=4, eval_chunk=2)
  variables = _random_params(objective, 0, scale=2.0 if len(layers) > 1 else 0.7)
  exact = _exact_elbo_grad(objective, variables)
  mean, se = _mean_grads(objective, variables, jax.random.key(1))
  _assert_close(mean['model'], se['model'], exact)


def test_vimco_gradient_is_that_of_the_k_sample_bound():
  model = models.SBN(data_dim=3, layers=(2,))
  k = 2
  objective = objective_lib.SBNObjective(model, 'vimco', levels=2,
                                         num_samples=k)
  variables = _random_params(objective, 3)
  x = jnp.asarray(X.reshape(2, -1), jnp.float64)
  states = _states((2,))[0]

  def bound(params):
    log_q = jnp.stack([model.apply({'params': params}, x,
                                   [jnp.broadcast_to(s, (2, 2))],
                                   method=model.log_q) for s in states])
    log_p = jnp.stack([model.apply({'params': params}, x,
                                   [jnp.broadcast_to(s, (2, 2))],
                                   method=model.log_joint) for s in states])
    total = 0.0
    for combo in itertools.product(range(4), repeat=k):
      idx = jnp.array(combo)
      total = total + jnp.exp(jnp.sum(log_q[idx], 0)) * (
          jax.nn.logsumexp(log_p[idx] - log_q[idx], 0) - jnp.log(k))
    return jnp.mean(total)

  exact = jax.tree.map(jnp.negative, jax.jit(jax.grad(bound))(variables['params']['model']))
  mean, se = _mean_grads(objective, variables, jax.random.key(2))
  _assert_close(mean['model'], se['model'], exact)


@pytest.mark.parametrize('estimator', ['reinforce', 'rebar'])
def test_categorical_vae_gradients_are_unbiased(estimator):
  model = models.CategoricalVAE(data_dim=3, num_variables=2, num_categories=3,
                                hidden=(4,))
  objective = objective_lib.SBNObjective(model, estimator, levels=2,
                                         eval_k=4, eval_chunk=2)
  variables = _random_params(objective, 5)
  x = jnp.asarray(X.reshape(2, -1), jnp.float64)
  eye = np.eye(3)
  states = [jnp.array(np.stack([eye[i], eye[j]])) for i in range(3) for j in range(3)]

  def expected(params):
    logits = model.apply({'params': params}, x, method=model.q_logits)
    total = 0.0
    for s in states:
      z = jnp.broadcast_to(s, (2, 2, 3))
      q = jnp.exp(base.Categorical.log_prob(logits, z))
      total = total + q * model.apply({'params': params}, x, z, method=model.log_px)
    return jnp.mean(total - model.apply({'params': params}, logits, method=model.kl))

  exact = jax.tree.map(jnp.negative, jax.jit(jax.grad(expected))(variables['params']['model']))
  mean, se = _mean_grads(objective, variables, jax.random.key(6))
  _assert_close(mean['model'], se['model'], exact)


def test_wake_and_sleep_gradients_match_enumeration():
  model = models.SBN(data_dim=3, layers=(2,))
  objective = helmholtz.HelmholtzObjective(model, levels=2, num_samples=1,
                                           q_update='sleep')
  variables = _random_params(objective, 7)
  params = variables['params']['model']
  x = jnp.asarray(X.reshape(2, -1), jnp.float64)
  hs = _states((2,))[0]
  xs = _states((3,))[0]

  def exact_loss(p):
    # Wake: E_q(h|x)[log p(x, h)] with q held fixed; sleep: sum over the
    # model's (h, x~) of p(h, x~) log q(h | x~), p held fixed.
    wake = 0.0
    for h in hs:
      hb = [jnp.broadcast_to(h, (2, 2))]
      q = jnp.exp(model.apply({'params': params}, x, hb, method=model.log_q))
      wake = wake + q * model.apply({'params': p}, x, hb, method=model.log_joint)
    sleep = 0.0
    for h in hs:
      for xt in xs:
        hb, xb = [h[None]], xt[None]
        joint = jnp.exp(model.apply({'params': params}, xb, hb,
                                    method=model.log_joint))
        sleep = sleep + joint * model.apply({'params': p}, xb, hb,
                                            method=model.log_q)
    return -jnp.mean(wake) - jnp.sum(sleep)

  exact = jax.jit(jax.grad(exact_loss))(params)
  grads = jax.jit(jax.vmap(lambda k: jax.grad(
      lambda p: objective.loss({'params': {'model': p}}, {'x': X}, k, True)[0])(
          params)))(jax.random.split(jax.random.key(8), M))
  mean = jax.tree.map(lambda g: jnp.mean(g, 0), grads)
  se = jax.tree.map(lambda g: jnp.std(g, 0) / np.sqrt(M), grads)
  _assert_close(mean, se, exact)


def test_unknown_estimator_and_mismatched_latents_are_errors():
  with pytest.raises(ValueError, match='unknown estimator'):
    objective_lib.SBNObjective(models.SBN(data_dim=3), 'magic', levels=2)
  with pytest.raises(ValueError, match='for Bernoulli latents'):
    objective_lib.SBNObjective(models.CategoricalVAE(data_dim=3), 'arm', levels=2)
  with pytest.raises(ValueError, match='wake-q update needs'):
    helmholtz.HelmholtzObjective(models.SBN(data_dim=3), levels=2, q_update='wake')
