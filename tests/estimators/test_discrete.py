"""Every unbiased discrete estimator against the exact gradient by
enumeration (Bernoulli^3 with a smooth f, a categorical pair with K = 4, a
two-layer chain, VIMCO's K-sample bound); VIMCO's leave-one-out baselines
by hand; REBAR/RELAX's control-variate gradient against finite differences
of the variance. A z-test on the mean of many single-sample estimates, in
float64, Bonferroni-corrected over coordinates."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from estimators import base
from estimators import discrete

M = 100_000  # Single-sample estimates per check.


@pytest.fixture(autouse=True)
def _float64():
  with jax.enable_x64(True):
    yield


def _assert_unbiased(grads, exact, z=5.0):
  """Mean of per-sample estimates [M, ...] within z SE (Bonferroni) of exact."""
  g = np.asarray(grads, np.float64).reshape(grads.shape[0], -1)
  mean, se = g.mean(0), g.std(0) / np.sqrt(g.shape[0])
  exact = np.asarray(exact, np.float64).ravel()
  bonferroni = z + np.log(len(exact))
  assert np.all(np.abs(mean - exact) < bonferroni * se + 1e-12), (mean, exact, se)
  return g.var(0).sum()


def _per_sample(estimator, logits, key):
  """[M, ...] single-sample estimates: the gradient of the surrogate wrt
  logits tiled over M independent examples."""
  tiled = jnp.broadcast_to(logits, (M, *logits.shape))
  return jax.jit(jax.grad(lambda l: estimator(key, l).surrogate))(tiled)


# ----------------------------------------------------------------------------
# Bernoulli^3 with f(z) = sin(w.z) + (a.z)^2 (smooth, so relaxations apply).

THETA = np.array([0.2, -0.5, 1.0])
W = np.array([1.3, -0.7, 2.1])
A = np.array([0.5, 1.5, -1.0])


def f_bernoulli(z):
  return jnp.sin(z @ W) + jnp.square(z @ A)


def _exact_bernoulli(f, theta):
  states = jnp.array(list(itertools.product([0.0, 1.0], repeat=len(theta))))

  def expectation(logits):
    log_p = base.Bernoulli.log_prob(jnp.broadcast_to(logits, states.shape), states)
    return jnp.sum(jnp.exp(log_p) * f(states))

  return jax.grad(expectation)(jnp.asarray(theta))


def _control_mlp(seed, width=8):
  rng = np.random.default_rng(seed)
  w1, w2 = rng.normal(size=(3, width)), rng.normal(size=(width,)) / width

  def control(cv, zeta):
    h = jnp.tanh(zeta @ (cv['scale'] * w1))
    return h @ w2 + cv['bias']

  return control, {'scale': jnp.asarray(1.0), 'bias': jnp.asarray(0.3)}


def _bernoulli_estimators():
  state = {'mean': jnp.asarray(1.7), 'num': jnp.array([0.5, 2.0, 1.0]),
           'den': jnp.array([0.2, 0.25, 0.3])}
  control, cv = _control_mlp(0)
  rng = np.random.default_rng(1)
  baseline = jnp.asarray(rng.normal(size=M))
  out = {
      'reinforce': lambda k, l: discrete.reinforce(k, l, f_bernoulli),
      'reinforce_moving_average': lambda k, l: discrete.reinforce(
          k, l, f_bernoulli, baseline='moving_average', state=state),
      'reinforce_optimal': lambda k, l: discrete.reinforce(
          k, l, f_bernoulli, baseline='optimal', state=state),
      'reinforce_optimal_per_variable': lambda k, l: discrete.reinforce(
          k, l, f_bernoulli, baseline='optimal_per_variable', state=state),
      'reinforce_loo': lambda k, l: discrete.reinforce_loo(
          k, l, f_bernoulli, num_samples=3),
      'nvil': lambda k, l: discrete.nvil(
          k, l, f_bernoulli, baseline_fn=lambda c: c, cv_params=baseline,
          state={'c': jnp.asarray(0.4), 'v': jnp.asarray(4.0)}, normalise=False),
      'muprop': lambda k, l: discrete.muprop(k, l, f_bernoulli),
      'relax': lambda k, l: discrete.relax(k, l, f_bernoulli, control=control,
                                           cv_params=cv),
      'arm': lambda k, l: discrete.arm(k, l, f_bernoulli),
      'disarm': lambda k, l: discrete.disarm(k, l, f_bernoulli),
  }
  for eta, tau in ((0.0, 0.5), (1.0, 0.5), (0.6, 2.0)):
    cv_rebar = discrete.rebar_params(eta, tau, jnp.float64)
    out[f'rebar_eta{eta}_tau{tau}'] = (
        lambda k, l, c=cv_rebar: discrete.rebar(k, l, f_bernoulli, cv_params=c))
  return out


@pytest.mark.parametrize('name', sorted(_bernoulli_estimators()))
def test_bernoulli_estimators_are_unbiased(name):
  estimator = _bernoulli_estimators()[name]
  exact = _exact_bernoulli(f_bernoulli, THETA)
  grads = _per_sample(estimator, jnp.asarray(THETA), jax.random.key(7))
  _assert_unbiased(grads, exact)


def test_baselines_lower_the_variance_and_the_estimate_value_is_f():
  exact = _exact_bernoulli(f_bernoulli, THETA)
  key = jax.random.key(3)
  sf = _assert_unbiased(_per_sample(_bernoulli_estimators()['reinforce'],
                                    jnp.asarray(THETA), key), exact)
  # The optimal constant from long-run statistics (estimated here on the
  # exact distribution) beats no baseline (digest: 5.70 vs 9.51).
  states = jnp.array(list(itertools.product([0.0, 1.0], repeat=3)))
  p = jnp.exp(base.Bernoulli.log_prob(jnp.broadcast_to(jnp.asarray(THETA), states.shape), states))
  s2 = jnp.square(states - jax.nn.sigmoid(jnp.asarray(THETA)))
  state = {'mean': jnp.sum(p * f_bernoulli(states)),
           'num': jnp.sum((p * f_bernoulli(states))[:, None] * s2, 0),
           'den': jnp.sum(p[:, None] * s2, 0)}
  optimal = _assert_unbiased(_per_sample(
      lambda k, l: discrete.reinforce(k, l, f_bernoulli, baseline='optimal',
                                      state=state), jnp.asarray(THETA), key), exact)
  assert optimal < 0.75 * sf, (optimal, sf)
  est = discrete.reinforce(key, jnp.broadcast_to(jnp.asarray(THETA), (5, 3)),
                           f_bernoulli)
  assert float(est.surrogate) == pytest.approx(float(jnp.sum(est.value)))


def test_muprop_is_exact_for_an_affine_f():
  affine = lambda z: z @ W + 0.3
  exact = _exact_bernoulli(affine, THETA)
  grads = _per_sample(lambda k, l: discrete.muprop(k, l, affine),
                      jnp.asarray(THETA), jax.random.key(0))
  np.testing.assert_allclose(grads[:100], np.broadcast_to(exact, (100, 3)),
                             atol=1e-12)


# ----------------------------------------------------------------------------
# Two independent categoricals with K = 4.

CAT_LOGITS = np.array([[0.3, -1.0, 0.5, 0.0], [1.2, 0.1, -0.4, -2.0]])
V1 = np.array([[0.5, -1.0, 2.0, 0.3], [1.0, 0.2, -0.7, 1.5]])
V2 = np.array([[1.0, 0.0, -0.5, 0.8], [-0.3, 0.6, 0.9, -1.1]])


def f_categorical(z):  # z [B, 2, 4]
  return (jnp.sin(jnp.sum(z * V1, (-1, -2)))
          + jnp.square(jnp.sum(z * V2, (-1, -2))))


def _exact_categorical():
  states = jnp.array([np.stack([np.eye(4)[i], np.eye(4)[j]])
                      for i in range(4) for j in range(4)])

  def expectation(logits):
    log_p = base.Categorical.log_prob(jnp.broadcast_to(logits, states.shape), states)
    return jnp.sum(jnp.exp(log_p) * f_categorical(states))

  return jax.grad(expectation)(jnp.asarray(CAT_LOGITS))


def _categorical_control(cv, zeta):
  return jnp.tanh(jnp.sum(zeta * cv['w'], (-1, -2))) + cv['b']


@pytest.mark.parametrize('name', ['reinforce', 'reinforce_loo', 'nvil', 'muprop',
                                  'relax', 'rebar'])
def test_categorical_estimators_are_unbiased(name):
  kw = {'kind': 'categorical'}
  estimators = {
      'reinforce': lambda k, l: discrete.reinforce(k, l, f_categorical, **kw),
      'reinforce_loo': lambda k, l: discrete.reinforce_loo(
          k, l, f_categorical, num_samples=3, **kw),
      'nvil': lambda k, l: discrete.nvil(
          k, l, f_categorical, baseline_fn=lambda c: c * jnp.ones(l.shape[0]),
          cv_params=jnp.asarray(0.7), state=discrete.nvil_state(jnp.float64),
          normalise=False, **kw),
      'muprop': lambda k, l: discrete.muprop(k, l, f_categorical, **kw),
      'relax': lambda k, l: discrete.relax(
          k, l, f_categorical, control=_categorical_control,
          cv_params={'w': jnp.asarray(V2[::-1]), 'b': jnp.asarray(0.2)}, **kw),
      'rebar': lambda k, l: discrete.rebar(
          k, l, f_categorical, cv_params=discrete.rebar_params(0.8, 0.7, jnp.float64),
          **kw),
  }
  grads = _per_sample(estimators[name], jnp.asarray(CAT_LOGITS), jax.random.key(11))
  _assert_unbiased(grads, _exact_categorical())


def test_conditional_gumbel_is_consistent_with_the_sample():
  logits = jnp.broadcast_to(jnp.asarray(CAT_LOGITS), (50_000, 2, 4))
  zeta, b, zeta_tilde = discrete._categorical_relaxation(jax.random.key(0), logits)
  # argmax of the conditional relaxation is the sample, always; and with b
  # drawn from p, zeta~ has the law of zeta (means agree).
  assert bool(jnp.all(jnp.argmax(zeta_tilde, -1) == jnp.argmax(b, -1)))
  np.testing.assert_allclose(jnp.mean(zeta_tilde, 0), jnp.mean(zeta, 0), atol=0.03)
  zeta, b, zeta_tilde = discrete._binary_relaxation(
      jax.random.key(1), jnp.broadcast_to(jnp.asarray(THETA), (50_000, 3)))
  assert bool(jnp.all((zeta_tilde > 0) == (b > 0)))
  np.testing.assert_allclose(jnp.mean(zeta_tilde, 0), jnp.mean(zeta, 0), atol=0.05)


# ----------------------------------------------------------------------------
# A two-layer chain: z1 ~ Bern(sigmoid(theta)), z2 ~ Bern(sigmoid(U z1 + c)),
# f = table(z1, z2). The layer-1 estimators see f1(z1) = f(z1, z2(z1, eps)),
# a single draw of layer 2 with noise independent of z1.

U = np.array([[1.5, -2.0], [0.7, 1.1]])
C2 = np.array([-0.3, 0.4])
TABLE = np.random.default_rng(5).normal(size=(2, 2, 2, 2))


def _f_chain(eps, tau=None):
  """f(z1) with layer 2 drawn by the noise eps: 1[eps < sigmoid(a)]; with
  `tau`, relaxed to sigmoid((a - logit(eps)) / tau) (smooth in z1)."""
  def f(z1):
    a = z1 @ U + C2
    if tau is None:
      z2 = (eps < jax.nn.sigmoid(a)).astype(z1.dtype)
    else:
      z2 = jax.nn.sigmoid((a - jnp.log(eps) + jnp.log1p(-eps)) / tau)
    # Multilinear extension of the table (exact on {0,1}).
    w1 = jnp.stack([1 - z1, z1], -1)
    w2 = jnp.stack([1 - z2, z2], -1)
    return jnp.einsum('bi,bj,bk,bl,ijkl->b', w1[:, 0], w1[:, 1], w2[:, 0],
                      w2[:, 1], TABLE)
  return f


def _exact_chain(theta):
  states = list(itertools.product([0.0, 1.0], repeat=2))

  def expectation(logits):
    total = 0.0
    for z1 in states:
      p1 = jnp.prod(jnp.where(jnp.array(z1) > 0, jax.nn.sigmoid(logits),
                              jax.nn.sigmoid(-logits)))
      q2 = jax.nn.sigmoid(jnp.array(z1) @ U + C2)
      for z2 in states:
        p2 = np.prod([float(q2[i]) if z2[i] else 1 - float(q2[i]) for i in range(2)])
        total = total + p1 * p2 * TABLE[int(z1[0]), int(z1[1]), int(z2[0]), int(z2[1])]
    return total

  return jax.grad(expectation)(jnp.asarray(theta))


@pytest.mark.parametrize('name', ['reinforce', 'nvil', 'relax', 'rebar'])
def test_two_layer_chain_first_layer_gradient_is_unbiased(name):
  theta = jnp.array([0.4, -0.8])
  eps = jax.random.uniform(jax.random.key(2), (M, 2), jnp.float64)
  f = _f_chain(eps)
  control = lambda cv, zeta: cv * jnp.sum(jnp.tanh(zeta), -1)
  estimators = {
      # REBAR's control must be smooth: f with layer 2 relaxed (same noise).
      'rebar': lambda k, l: discrete.rebar(
          k, l, f, cv_params=discrete.rebar_params(1.0, 0.5, jnp.float64),
          control_f=_f_chain(eps, tau=0.5)),
      'reinforce': lambda k, l: discrete.reinforce(k, l, f),
      'nvil': lambda k, l: discrete.nvil(
          k, l, f, baseline_fn=lambda c: c * jnp.ones(l.shape[0]),
          cv_params=jnp.asarray(0.5), state=discrete.nvil_state(jnp.float64),
          normalise=False),
      'relax': lambda k, l: discrete.relax(k, l, f, control=control,
                                           cv_params=jnp.asarray(0.8)),
  }
  grads = _per_sample(estimators[name], theta, jax.random.key(4))
  _assert_unbiased(grads, _exact_chain(theta))


# ----------------------------------------------------------------------------
# VIMCO.

VIMCO_THETA = np.array([0.3, -0.6])
LOG_P = np.log(np.array([0.1, 0.4, 0.2, 0.3])) - 1.0   # log p(x, z), z in {0,1}^2.


def _vimco_log_weight(logits):
  def log_weight(z):
    index = (2 * z[:, 0] + z[:, 1]).astype(jnp.int32)
    return jnp.asarray(LOG_P)[index] - base.Bernoulli.log_prob(logits, z)
  return log_weight


def test_a_control_with_jumps_biases_rebar():
  # The pitfall the smooth control avoids: f itself as REBAR's control, with
  # layer 2 thresholded, is discontinuous in zeta.
  theta = jnp.array([0.4, -0.8])
  eps = jax.random.uniform(jax.random.key(2), (M, 2), jnp.float64)
  grads = _per_sample(lambda k, l: discrete.rebar(
      k, l, _f_chain(eps), cv_params=discrete.rebar_params(1.0, 0.5, jnp.float64)),
      theta, jax.random.key(4))
  with pytest.raises(AssertionError):
    _assert_unbiased(grads, _exact_chain(theta))


def test_vimco_is_unbiased_and_lower_variance_than_the_score_function():
  k = 3
  states = jnp.array(list(itertools.product([0.0, 1.0], repeat=2)))

  def exact_bound(logits):
    log_q = base.Bernoulli.log_prob(jnp.broadcast_to(logits, states.shape), states)
    log_w = jnp.asarray(LOG_P) - log_q
    total = 0.0
    for combo in itertools.product(range(4), repeat=k):
      idx = jnp.array(combo)
      total = total + jnp.exp(jnp.sum(log_q[idx])) * (
          jax.nn.logsumexp(log_w[idx]) - jnp.log(k))
    return total

  exact = jax.jit(jax.grad(exact_bound))(jnp.asarray(VIMCO_THETA))
  grads = _per_sample(
      lambda key, l: discrete.vimco(key, l, _vimco_log_weight(l), num_samples=k),
      jnp.asarray(VIMCO_THETA), jax.random.key(9))
  var_vimco = _assert_unbiased(grads, exact)

  def naive(key, logits):  # The same bound, one learning signal for all.
    z = base.sg(jax.vmap(lambda kk: base.Bernoulli.sample(kk, logits))(
        jax.random.split(key, k)))
    log_w = jax.vmap(_vimco_log_weight(logits))(z)
    bound = jax.nn.logsumexp(log_w, 0) - jnp.log(k)
    log_q = jax.vmap(lambda zz: base.Bernoulli.log_prob(logits, zz))(z)
    return base.Estimate(jnp.sum(bound) + base.score_term(bound[None], log_q), bound)

  var_naive = _assert_unbiased(_per_sample(naive, jnp.asarray(VIMCO_THETA),
                                           jax.random.key(9)), exact)
  assert var_vimco < 0.3 * var_naive, (var_vimco, var_naive)  # Digest: ~10x.


def test_vimco_leave_one_out_baselines_by_hand():
  log_w = np.array([-1.0, -2.5, 0.5])
  k = len(log_w)
  bound = np.log(np.mean(np.exp(log_w)))
  for j in range(k):
    others = np.delete(log_w, j)
    replaced = log_w.copy()
    replaced[j] = others.mean()
    expected = bound - np.log(np.mean(np.exp(replaced)))
    # The estimator's coefficient for sample j: L - L_{-j}.
    lw = jnp.asarray(log_w)[:, None]
    others_mean = (jnp.sum(lw, 0, keepdims=True) - lw) / (k - 1)
    eye = jnp.eye(k)[:, :, None]
    loo = jax.nn.logsumexp(lw[None] * (1 - eye) + others_mean[:, None] * eye, 1) - np.log(k)
    assert float(bound - loo[j, 0]) == pytest.approx(expected, abs=1e-12)


# ----------------------------------------------------------------------------
# Control-variate tuning: the gradient of E||g||^2.


def test_rebar_cv_gradient_is_the_gradient_of_the_variance():
  logits = jnp.broadcast_to(jnp.asarray(THETA), (4_000, 3))
  key = jax.random.key(5)
  estimate_fn = lambda l, cv: discrete.rebar(key, l, f_bernoulli, cv_params=cv)
  cv = discrete.rebar_params(0.7, 0.6, jnp.float64)
  _, cv_grads, _ = base.estimate_and_cv_grads(estimate_fn, logits, cv,
                                              tune_variance=True)
  variance = jax.jit(lambda c: base.variance_loss(estimate_fn, logits, c))
  for name in ('eta', 'log_tau'):
    h = 1e-5
    up = dict(cv, **{name: cv[name] + h})
    down = dict(cv, **{name: cv[name] - h})
    fd = (variance(up) - variance(down)) / (2 * h)
    assert float(cv_grads[name]) == pytest.approx(float(fd), rel=1e-5)
  # A few steps down that gradient lower the variance.
  before = float(variance(cv))
  step = jax.jit(lambda c: base.estimate_and_cv_grads(
      estimate_fn, logits, c, tune_variance=True)[1])
  for _ in range(10):
    g = step(cv)
    cv = jax.tree.map(lambda p, d: p - 1e-4 * d / logits.shape[0], cv, g)
  assert float(variance(cv)) < before


def test_nvil_baseline_is_trained_by_squared_error():
  logits = jnp.broadcast_to(jnp.asarray(THETA), (1000, 3))
  state = discrete.nvil_state(jnp.float64)
  estimate_fn = lambda l, c: discrete.nvil(
      jax.random.key(0), l, f_bernoulli, baseline_fn=lambda cv: cv * jnp.ones(1000),
      cv_params=c, state=state)
  _, g, est = base.estimate_and_cv_grads(estimate_fn, logits, jnp.asarray(0.0),
                                         tune_variance=False)
  # d/dc mean((f - c_run - c)^2) at c = 0.
  assert float(g) == pytest.approx(-2 * float(jnp.mean(est.value)), rel=1e-9)
  assert float(est.state['c']) == pytest.approx(0.2 * float(jnp.mean(est.value)))


def test_the_harness_rejects_a_biased_estimator():
  # A baseline computed from the sample it baselines: (f - f/2) grad log p.
  def biased(key, logits):
    z = base.sg(base.Bernoulli.sample(key, logits))
    fz = f_bernoulli(z)
    return base.Estimate(jnp.sum(fz) + base.score_term(
        fz - 0.5 * fz, base.Bernoulli.log_prob(logits, z)), fz)

  grads = _per_sample(biased, jnp.asarray(THETA), jax.random.key(7))
  with pytest.raises(AssertionError):
    _assert_unbiased(grads, _exact_bernoulli(f_bernoulli, THETA))


def test_bad_arguments_are_value_errors():
  logits = jnp.zeros((2, 3))
  with pytest.raises(ValueError, match='unknown baseline'):
    discrete.reinforce(jax.random.key(0), logits, f_bernoulli, baseline='best')
  with pytest.raises(ValueError, match='needs a state'):
    discrete.reinforce(jax.random.key(0), logits, f_bernoulli, baseline='optimal')
  with pytest.raises(ValueError, match='unknown discrete family'):
    discrete.reinforce(jax.random.key(0), logits, f_bernoulli, kind='poisson')
  with pytest.raises(ValueError, match='num_samples >= 2'):
    discrete.vimco(jax.random.key(0), logits, lambda z: z.sum(-1), num_samples=1)
