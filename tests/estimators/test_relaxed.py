"""Relaxation estimators (estimators/relaxed.py): samplers, the logit-space
binary Concrete density, the bias and variance of the Concrete gradient,
straight-through forward values and backward Jacobians, the temperature
schedule.

Statistical tests use fixed keys and float64 (inside `jax.enable_x64`, so
other tests keep float32); thresholds are 4-5 standard errors. Each test
compiles one or two programs (temperatures and probabilities are traced
arguments, fixed inputs come from numpy): on CPU the compiles, not the
draws, are what takes the time.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from estimators import base
from estimators import relaxed


def x64(fn):
  """Run the test with 64-bit floats on, and off again afterwards."""
  @functools.wraps(fn)
  def wrapper(*args, **kwargs):
    with jax.enable_x64(True):
      return fn(*args, **kwargs)
  return wrapper


def logit(p):
  p = np.asarray(p, np.float64)
  return np.log(p) - np.log1p(-p)


def np_sigmoid(x):
  e = np.exp(-np.abs(x))
  return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _sum_rest(x):
  return jnp.sum(x.reshape(x.shape[0], -1), -1)


# ----------------------------------------------------------------------------
# T-G1: Gumbel-max.


@x64
def test_gumbel_max_frequencies_match_p():
  p = np.array([0.1, 0.2, 0.3, 0.4])
  n = 1_000_000
  logits = np.broadcast_to(np.log(p), (n, 1, 4))
  key = jax.random.key(1)

  @jax.jit
  def draws(logits):
    # The argmax of a Gumbel-Softmax sample (any tau), and the forward
    # sample of straight-through Gumbel (the same draw for the same key).
    y = relaxed.gumbel_softmax_sample(key, logits, 0.3)
    est = relaxed.straight_through_gumbel(
        key, logits, lambda z: z[:, 0] @ jnp.arange(4.0), kind='categorical',
        temperature=0.3)
    return jnp.argmax(y[:, 0], -1), est.value

  idx, value = map(np.asarray, draws(logits))
  np.testing.assert_array_equal(value, idx)
  counts = np.bincount(idx, minlength=4)
  chi2 = np.sum((counts - n * p)**2 / (n * p))
  assert chi2 < stats.chi2.ppf(0.999, df=3), (counts / n, chi2)
  np.testing.assert_allclose(counts / n, p, atol=5 * np.sqrt(0.25 / n))


# ----------------------------------------------------------------------------
# T-G2: binary Concrete (and the other noises of the generalised relaxation).


@x64
def test_relaxed_bernoulli_exceeds_half_with_probability_p():
  p = np.array([0.05, 0.3, 0.5, 0.8, 0.97])
  n = 200_000
  logits = np.broadcast_to(logit(p), (n, 5))
  noises = ('logistic', 'uniform', 'normal', 'laplace')
  keys = dict(zip(noises, jax.random.split(jax.random.key(2), 4)))

  @jax.jit
  def above_half(logits, tau):
    return {noise: relaxed.relaxed_bernoulli_sample(
        keys[noise], logits, tau, noise) > 0.5 for noise in noises}

  above = [above_half(logits, tau) for tau in (2.0, 1.0, 0.5, 0.1)]
  se = np.sqrt(p * (1 - p) / n)
  for noise in noises:
    # The event {sample > 1/2} = {U > F^{-1}(1 - p)} does not involve tau.
    for a in above[1:]:
      np.testing.assert_array_equal(a[noise], above[0][noise])
    freq = np.asarray(above[0][noise]).mean(0)
    assert np.all(np.abs(freq - p) < 4.5 * se), (noise, freq, p)


@x64
def test_logistic_noise_relaxation_is_binary_concrete():
  logits = 3 * np.random.default_rng(3).standard_normal((64, 5))
  key = jax.random.key(4)

  @jax.jit
  def three(logits):
    return (relaxed.relaxed_bernoulli_sample(key, logits, 0.7, 'logistic'),
            relaxed.binary_concrete_sample(key, logits, 0.7),
            jax.nn.sigmoid(relaxed.binary_concrete_logit_sample(
                key, logits, 0.7)))

  general, concrete, via_logit = three(logits)
  np.testing.assert_allclose(general, concrete, rtol=1e-12)
  np.testing.assert_allclose(via_logit, concrete, rtol=1e-12)


_log_density = jax.jit(relaxed.binary_concrete_logit_log_prob)
_logit_sample = jax.jit(relaxed.binary_concrete_logit_sample)


@x64
@pytest.mark.parametrize('p,tau', [(0.5, 1.0), (0.1, 0.5), (0.9, 2 / 3),
                                   (0.02, 0.1), (0.7, 3.0)])
def test_binary_concrete_logit_density(p, tau):
  a = float(logit(p))
  log_prob = lambda x: np.asarray(_log_density(x, a, tau))
  # Integrates to one (split at the mode a / tau; the tails decay like
  # exp(-tau |x|)).
  mode = a / tau
  density = lambda x: float(np.exp(log_prob(x)))
  total = sum(integrate.quad(density, lo, hi, limit=200)[0]
              for lo, hi in ((-np.inf, mode), (mode, np.inf)))
  assert abs(total - 1) < 1e-7, total

  # It is the derivative of the CDF P(X <= x) = sigmoid(tau x - a):
  # tau e^{-|t|} / (1 + e^{-|t|})^2, t = tau x - a (symmetric, no cancellation).
  xs = np.linspace(mode - 30 / tau, mode + 30 / tau, 101)
  e = np.exp(-np.abs(tau * xs - a))
  np.testing.assert_allclose(np.exp(log_prob(xs)), tau * e / (1 + e)**2,
                             rtol=1e-12)

  # And samples follow that CDF (Kolmogorov-Smirnov).
  x = _logit_sample(jax.random.key(5), np.full((20_000,), a), tau)
  cdf = lambda t: np_sigmoid(tau * t - a)
  assert stats.kstest(np.asarray(x), cdf).pvalue > 1e-3


def test_binary_concrete_logit_density_is_finite_at_small_tau_in_float32():
  logits = np.linspace(-8.0, 8.0, 17, dtype=np.float32)
  lp = jax.jit(lambda key, l: relaxed.binary_concrete_logit_log_prob(
      relaxed.binary_concrete_logit_sample(key, l, 0.01), l, 0.01))(
          jax.random.key(6), logits)
  assert lp.dtype == jnp.float32 and np.all(np.isfinite(lp))


@x64
def test_relaxed_samples_concentrate_on_vertices_as_tau_falls():
  n = 100_000
  key = jax.random.key(7)
  bern = np.broadcast_to(logit([0.2, 0.5, 0.9]), (n, 3))
  cat = np.broadcast_to(np.log([0.2, 0.3, 0.5]), (n, 1, 3))

  @jax.jit
  def distances(bern, cat, tau):
    """Mean distance to the nearest vertex; the fraction within 1e-3."""
    z = relaxed.binary_concrete_sample(key, bern, tau)
    z = jnp.minimum(z, 1 - z)
    y = 1 - jnp.max(relaxed.gumbel_softmax_sample(key, cat, tau), -1)
    return jnp.stack([z.mean(), y.mean(), jnp.mean(z < 1e-3),
                      jnp.mean(y < 1e-3)])

  d = np.array([distances(bern, cat, tau) for tau in (2.0, 1.0, 0.5, 0.1, 0.01)])
  assert np.all(np.diff(d[:, :2], axis=0) < 0), d
  assert np.all(d[-1, :2] < 1e-2) and np.all(d[-1, 2:] > 0.9), d


# ----------------------------------------------------------------------------
# T-G4: the Concrete gradient is biased; the bias shrinks and the variance
# grows as tau falls.


def _relaxed_gradient_moments(p, tau):
  """Exact mean and variance of the Concrete pathwise d/d logit of
  (sigmoid((a + L) / tau) - 0.45)^2 by quadrature over L ~ Logistic."""
  a = logit(p)

  def g(l):
    z = np_sigmoid((a + l) / tau)
    return 2 * (z - 0.45) * z * (1 - z) / tau

  dens = lambda l: np_sigmoid(l) * np_sigmoid(-l)
  m1 = integrate.quad(lambda l: g(l) * dens(l), -60, 60, points=[-a],
                      limit=400)[0]
  m2 = integrate.quad(lambda l: g(l)**2 * dens(l), -60, 60, points=[-a],
                      limit=400)[0]
  return m1, m2 - m1**2


@x64
def test_concrete_gradient_bias_visible_and_shrinking_with_tau():
  n = 1_000_000
  f = lambda z: (z[:, 0] - 0.45)**2
  key = jax.random.key(8)

  @jax.jit
  def per_sample_gradients(logits, tau):
    grad = jax.grad(lambda l: relaxed.concrete(
        key, l, f, kind='bernoulli', temperature=tau).surrogate)
    return grad(logits)[:, 0]

  # At p = 0.7 the bias first grows (tau 1 -> 0.5): the monotone shrinking
  # holds for these p, not every p.
  for p in (0.2, 0.3):
    # f(z) = (z - 0.45)^2, z ~ Bernoulli(p): E f = 0.3025 p + 0.2025 (1 - p),
    # d/dp = 0.1, d/d logit = 0.1 p (1 - p).
    exact = 0.1 * p * (1 - p)
    logits = np.full((n, 1), logit(p))
    biases, variances = [], []
    for tau in (1.0, 0.5, 0.2, 0.1):
      g = np.asarray(per_sample_gradients(logits, tau))
      mean, var = g.mean(), g.var()
      se = np.sqrt(var / n)
      # The estimator is unbiased for the relaxed objective ...
      relaxed_mean, relaxed_var = _relaxed_gradient_moments(p, tau)
      assert abs(mean - relaxed_mean) < 4.5 * se, (p, tau, mean, relaxed_mean)
      assert abs(var / relaxed_var - 1) < 0.05, (p, tau, var, relaxed_var)
      # ... and at tau = 1 visibly biased for the discrete one.
      if tau == 1.0:
        assert abs(mean - exact) > 5 * se, (p, mean, exact, se)
      biases.append(abs(mean - exact))
      variances.append(var)
    assert np.all(np.diff(biases) < 0), (p, biases)
    assert np.all(np.diff(variances) > 0), (p, variances)


# ----------------------------------------------------------------------------
# T-G5: Var(d zeta / dp) of the generalised relaxation falls with tau.


@x64
@pytest.mark.parametrize('noise,band', [('uniform', (1e-5, 3e-4)),
                                        ('normal', (1e-2, 0.2)),
                                        ('laplace', (1e-2, 0.7))])
def test_relaxation_derivative_variance_decreases_in_tau(noise, band):
  n = 100_000
  probs = np.broadcast_to([0.1, 0.4, 0.5, 0.7, 0.8], (n, 5))

  @jax.jit
  def derivative_variance(probs, tau):
    sample = lambda q: relaxed.relaxed_bernoulli_sample(
        jax.random.key(9), jnp.log(q) - jnp.log1p(-q), tau, noise)
    return jnp.var(jax.grad(lambda q: sample(q).sum())(probs), axis=0)

  taus = (2.0, 1.0, 0.5, 0.2, 0.1)
  v = np.stack([np.asarray(derivative_variance(probs, t)) for t in taus])
  assert np.all(v[1:] > 1.5 * v[:-1]), (noise, v)
  # At tau = 1 the spread over p that A. Sobolev's figure shows
  # (uniform 2e-5..2e-4, normal 1.5e-2..0.15, Laplace 1.5e-2..0.5).
  lo, hi = band
  assert np.all((v[1] > lo) & (v[1] < hi)), (noise, v[1])


# ----------------------------------------------------------------------------
# T-G8: straight-through forward values and backward Jacobians.


def _forward_and_grad(estimator, key, w, reference, **kw):
  """A compiled (logits, tau) -> (the z the estimator hands to f, its
  Estimate, the gradient of its surrogate for f(z) = sum(w z),
  reference(key, logits, tau)) (one program: compiles dominate)."""
  f = lambda z: _sum_rest(w * z)

  @jax.jit
  def run(logits, tau):
    seen = []
    est = estimator(key, logits, lambda z: (seen.append(z), f(z))[1],
                    temperature=tau, **kw)
    grad = jax.grad(lambda l: estimator(
        key, l, f, temperature=tau, **kw).surrogate)(logits)
    return seen[0], est, grad, reference(key, logits, tau)

  return run


def _inputs(kind, seed, scale):
  shape = (64, 7) if kind == 'bernoulli' else (64, 7, 5)
  rng = np.random.default_rng(seed)
  return (scale * rng.standard_normal(shape).astype(np.float32),
          rng.standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize('kind', ['bernoulli', 'categorical'])
@pytest.mark.parametrize('backward', ['identity', 'mean'])
def test_straight_through_forward_is_exact_sample_backward_as_designed(
    kind, backward):
  logits, w = _inputs(kind, 10, 3.0)
  key = jax.random.key(12)
  run = _forward_and_grad(
      relaxed.straight_through, key, w,
      lambda key, logits, tau: base.family(kind).sample(key, logits),
      kind=kind, backward=backward)
  for tau in (1.0, 0.4):
    z, est, grad, sample = run(logits, tau)
    # Exactly the family's own sample for the key, bit for bit, so 0/1 or
    # one-hot (even where the backward's soft value is far outside [0, 1]).
    np.testing.assert_array_equal(z, sample)
    assert set(np.unique(np.asarray(z))) <= {0.0, 1.0}
    if kind == 'categorical':
      np.testing.assert_array_equal(z.sum(-1), 1.0)
    value = (w * np.asarray(z)).reshape(64, -1).sum(-1)
    np.testing.assert_allclose(est.value, value, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(est.surrogate, value.sum(), rtol=1e-5)

    if backward == 'identity':
      expected = w / tau
    elif kind == 'bernoulli':
      s = np_sigmoid(logits / tau)
      expected = w * s * (1 - s) / tau                   # sigma'
    else:
      s = np_softmax(logits / tau)                       # softmax Jacobian^T w
      expected = s * (w - np.sum(s * w, -1, keepdims=True)) / tau
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('kind', ['bernoulli', 'categorical'])
def test_straight_through_gumbel_forward_hard_backward_concrete(kind):
  logits, w = _inputs(kind, 13, 2.0)
  key = jax.random.key(15)
  run = _forward_and_grad(
      relaxed.straight_through_gumbel, key, w,
      relaxed.binary_concrete_sample if kind == 'bernoulli' else
      relaxed.gumbel_softmax_sample, kind=kind)
  for tau in (1.0, 0.3):
    z, est, grad, soft = run(logits, tau)
    soft = np.asarray(soft)
    if kind == 'bernoulli':
      want = (soft > 0.5).astype(np.float32)
      expected = w * soft * (1 - soft) / tau
    else:
      want = np.eye(soft.shape[-1], dtype=np.float32)[soft.argmax(-1)]
      expected = soft * (w - np.sum(soft * w, -1, keepdims=True)) / tau
      np.testing.assert_array_equal(z.sum(-1), 1.0)
    np.testing.assert_array_equal(z, want)
    assert set(np.unique(np.asarray(z))) <= {0.0, 1.0}
    np.testing.assert_allclose(est.value, (w * want).reshape(64, -1).sum(-1),
                               rtol=1e-5, atol=1e-5)
    # float32 on both sides, w - sum(s w) cancels: an absolute tolerance.
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kind', ['bernoulli', 'categorical'])
def test_concrete_estimate_is_f_at_relaxed_sample(kind):
  logits, w = _inputs(kind, 16, 1.0)
  key = jax.random.key(18)
  sampler = (relaxed.binary_concrete_sample if kind == 'bernoulli' else
             relaxed.gumbel_softmax_sample)
  # f that also depends on the logits directly: that path is included.
  f = lambda l: lambda z: _sum_rest(jnp.tanh(w * z + 0.1 * l))
  direct = lambda l: jnp.sum(f(l)(sampler(key, l, 0.5)))

  @jax.jit
  def run(logits):
    est = relaxed.concrete(key, logits, f(logits), kind=kind, temperature=0.5)
    grad = jax.grad(lambda l: relaxed.concrete(
        key, l, f(l), kind=kind, temperature=0.5).surrogate)(logits)
    return (est, grad, direct(logits), f(logits)(sampler(key, logits, 0.5)),
            jax.grad(direct)(logits))

  est, grad, want_surrogate, want_value, want_grad = run(logits)
  np.testing.assert_allclose(est.surrogate, want_surrogate, rtol=1e-6)
  np.testing.assert_allclose(est.value, want_value, rtol=1e-6)
  np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-6)


def test_estimator_vmaps_and_jits_with_a_traced_annealed_temperature():
  logits = np.random.default_rng(19).standard_normal((3, 8, 4, 5))
  f = lambda z: jnp.sum(z[..., 0] * jnp.arange(4.0), 1)

  def grad(key, l, step):
    tau = relaxed.anneal_temperature(step, rate=1e-3)
    return jax.grad(lambda l: relaxed.straight_through_gumbel(
        key, l, f, kind='categorical', temperature=tau).surrogate)(l)

  @jax.jit
  def batched_and_one_by_one(keys, logits, step):
    return (jax.vmap(grad, (0, 0, None))(keys, logits, step),
            jax.lax.map(lambda kl: grad(*kl, step), (keys, logits)))

  batched, one_by_one = batched_and_one_by_one(
      jax.random.split(jax.random.key(20), 3), logits, 500)
  for i in range(3):
    np.testing.assert_allclose(batched[i], one_by_one[i], rtol=1e-5,
                               atol=1e-6)


# ----------------------------------------------------------------------------
# Temperature annealing.


def test_anneal_temperature_values_and_traced_step():
  steps = np.array([0, 1000, 5000, 6931, 6932, 10_000, 100_000])
  got = np.asarray([relaxed.anneal_temperature(s) for s in steps])
  want = np.maximum(0.5, np.exp(-1e-4 * steps))
  np.testing.assert_allclose(got, want, rtol=1e-6)
  assert got[0] == 1.0 and got[-1] == 0.5

  # Jang et al.'s form: updated every N steps, from tau0, floored at tau_min.
  kw = dict(tau0=2.0, rate=1e-3, tau_min=0.25, every=100)
  np.testing.assert_allclose(
      [relaxed.anneal_temperature(s, **kw) for s in (0, 99, 100, 1999, 10**5)],
      [2.0, 2.0, 2 * np.exp(-0.1), 2 * np.exp(-1.9), 0.25], rtol=1e-6)

  traces = []

  @jax.jit
  def jitted(step):
    traces.append(step)
    return relaxed.anneal_temperature(step, **kw)

  for s in (0, 150, 1999, 10**5):
    np.testing.assert_allclose(jitted(s), relaxed.anneal_temperature(s, **kw),
                               rtol=1e-6)
  assert len(traces) == 1


# ----------------------------------------------------------------------------
# Argument errors.


def test_argument_errors():
  key = jax.random.key(0)
  logits = jnp.zeros((4, 3))
  f = lambda z: z.sum(-1)
  with pytest.raises(ValueError, match='unknown discrete family'):
    relaxed.concrete(key, logits, f, kind='gaussian')
  with pytest.raises(ValueError, match=r'\[B, D, K\]'):
    relaxed.concrete(key, jnp.zeros((4,)), f, kind='categorical')
  with pytest.raises(ValueError, match='backward'):
    relaxed.straight_through(key, logits, f, backward='sigmoid')
  with pytest.raises(ValueError, match='noise'):
    relaxed.relaxed_bernoulli_sample(key, logits, 1.0, noise='cauchy')
  with pytest.raises(ValueError, match='one value per example'):
    jax.jit(lambda l: relaxed.straight_through_gumbel(
        key, l, lambda z: z).surrogate)(logits)
  with pytest.raises(ValueError, match='floating point'):
    relaxed.binary_concrete_sample(key, jnp.zeros((4, 3), jnp.int32), 1.0)
