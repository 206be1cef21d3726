"""Relaxation estimators for discrete variables: Concrete / Gumbel-Softmax and
straight-through. All are biased; they trade bias for low variance.

Every estimator follows `estimators.base`:

    estimator(key, logits, f, *, kind='bernoulli', temperature=...) -> Estimate

with Bernoulli logits [B, D] (`kind='bernoulli'`) or categorical logits
[B, D, K] (`kind='categorical'`, samples one-hot), `f(z) -> [B]`, and
`jax.grad(Estimate.surrogate)` the gradient estimate.

* `concrete`: the pathwise gradient of the relaxed objective E[f(y)], with f
  evaluated at the relaxed sample y (Jang et al. 2017, arXiv:1611.01144;
  Maddison et al. 2017, arXiv:1611.00712). The surrogate's value is
  sum(f(y)) at the relaxed y, which is not an objective value of the
  discrete model.
* `straight_through`: f evaluated at an exact sample z; backward as if
  dz = d(logits)/tau (`backward='identity'`, Bengio et al. 2013,
  arXiv:1308.3432) or dz = d sigmoid(logits/tau) / d softmax(logits/tau)
  (`backward='mean'`, Raiko et al. 2015, arXiv:1406.2989).
* `straight_through_gumbel`: forward the hard threshold / argmax of a
  Concrete sample (an exact sample of the discrete distribution), backward
  through the Concrete relaxation (Jang et al. 2017, arXiv:1611.01144).

All straight-through forms are the idiom `y = y_soft + sg(y_hard - y_soft)`
(value y_hard, gradient of y_soft), written `y_hard + (y_soft - sg(y_soft))`:
the same gradient, and exactly y_hard in floating point, which the first
form is not (-0.3 + (1 - -0.3) = 0.99999994 in float32, so an identity
backward with negative logits would forward values a rounding error away
from 1).

Also here, for reuse (REBAR, relaxed KLs): the samplers
`binary_concrete_sample`, `binary_concrete_logit_sample`,
`gumbel_softmax_sample`, the generalised binary relaxation
`relaxed_bernoulli_sample` (noise other than logistic), the binary Concrete
log density in logit space `binary_concrete_logit_log_prob`, and the
temperature schedule `anneal_temperature`.

Temperatures may be traced (an annealed temperature computed from the step
inside `jit`); nothing branches on their value.
"""
import jax
import jax.numpy as jnp

from estimators import base

sg = jax.lax.stop_gradient

_KINDS = ('bernoulli', 'categorical')
_NOISES = ('logistic', 'uniform', 'normal', 'laplace')


# ----------------------------------------------------------------------------
# Samplers.


def _uniform(key, shape, dtype):
  """U(0, 1) strictly inside (0, 1), so logit(u) is finite."""
  tiny = jnp.finfo(dtype).tiny
  return jax.random.uniform(key, shape, dtype, minval=tiny, maxval=1.0)


def _float_dtype(logits):
  dtype = jnp.result_type(logits)
  if not jnp.issubdtype(dtype, jnp.floating):
    raise ValueError(f'logits must be floating point, got {dtype}')
  return dtype


def logistic_noise(key, shape, dtype=jnp.float32):
  """Logistic(0, 1) noise L = log u - log(1 - u) from one uniform per entry
  (equal in law to the difference of two Gumbels, so binary Concrete needs
  one draw instead of two; Maddison et al. 2017, arXiv:1611.00712)."""
  u = _uniform(key, shape, dtype)
  return jnp.log(u) - jnp.log1p(-u)


def binary_concrete_logit_sample(key, logits, tau):
  """The binary Concrete sample in logit space, X = (logits + L) / tau with
  L ~ Logistic(0, 1); sigmoid(X) is `binary_concrete_sample`. Its density
  is `binary_concrete_logit_log_prob` (Maddison et al. 2017,
  arXiv:1611.00712, App. C: relax KL terms in this space, where the
  density does not underflow at small tau)."""
  dtype = _float_dtype(logits)
  return (logits + logistic_noise(key, jnp.shape(logits), dtype)) / tau


def binary_concrete_sample(key, logits, tau):
  """Binary Concrete / relaxed Bernoulli: sigmoid((logits + logit(u)) / tau),
  u ~ U(0, 1), one uniform per variable. P(sample > 1/2) = sigmoid(logits)
  for every tau, and the samples tend to Bernoulli(sigmoid(logits)) draws
  as tau -> 0 (Maddison et al. 2017, arXiv:1611.00712; Jang et al. 2017,
  arXiv:1611.01144). Reparameterised: differentiable in logits and tau."""
  return jax.nn.sigmoid(binary_concrete_logit_sample(key, logits, tau))


def gumbel_softmax_sample(key, logits, tau):
  """Gumbel-Softmax / Concrete sample softmax((logits + g) / tau) over the
  last axis, g ~ Gumbel(0, 1) i.i.d. (Jang et al. 2017, arXiv:1611.01144;
  Maddison et al. 2017, arXiv:1611.00712). Its argmax is the Gumbel-max
  sample, exactly Categorical(softmax(logits)), for every tau.
  `logits` need not be normalised."""
  return jax.nn.softmax(_gumbel_perturb(key, logits) / tau, axis=-1)


def _gumbel_perturb(key, logits):
  """logits + g, g ~ Gumbel(0, 1): its argmax is the Gumbel-max sample."""
  dtype = _float_dtype(logits)
  return logits + jax.random.gumbel(key, jnp.shape(logits), dtype)


def _quantile_one_minus_p(noise, logits):
  """F_U^{-1}(1 - p), p = sigmoid(logits), for the noise U; the normal and
  Laplace forms work from the smaller of p and 1 - p (or their logs), so
  they stay finite and accurate for large |logits|."""
  if noise == 'logistic':
    return -logits
  if noise == 'uniform':
    return jax.nn.sigmoid(-logits)
  if noise == 'normal':
    # -Phi^{-1}(q) or Phi^{-1}(q) with q = min(p, 1 - p) <= 1/2, accurate in
    # both tails; the branch is chosen by `where` (not abs) so that the
    # derivative at logits = 0 is right. The optimization barriers keep XLA
    # from fusing ndtri's polynomials into the surrounding elementwise graph,
    # which made CPU compiles of a gradient about 5x slower (5 s vs 1 s).
    positive = logits > 0
    barrier = jax.lax.optimization_barrier
    q = barrier(jax.nn.sigmoid(jnp.where(positive, -logits, logits)))
    r = barrier(jax.scipy.special.ndtri(q))
    return jnp.where(positive, r, -r)
  if noise == 'laplace':
    # F^{-1}(y) = log(2y) for y < 1/2, -log(2(1 - y)) otherwise; y = 1 - p.
    log2 = jnp.log(2.0).astype(jnp.result_type(logits))
    return jnp.where(logits > 0, log2 + jax.nn.log_sigmoid(-logits),
                     -(log2 + jax.nn.log_sigmoid(logits)))
  raise ValueError(f'unknown noise {noise!r}; use one of {_NOISES}')


def relaxed_bernoulli_sample(key, logits, tau, noise='logistic'):
  """Relaxed Bernoulli sigmoid((U - F_U^{-1}(1 - p)) / tau) for noise U with
  CDF F_U, p = sigmoid(logits), so that P(sample > 1/2) = P(U > F_U^{-1}(1-p))
  = p for every tau. `noise='logistic'` is the binary Concrete
  (`binary_concrete_sample`, the same draw for the same key); 'uniform' is
  the naive relaxation sigmoid((u - (1 - p)) / tau), whose support stays away
  from 0 and 1; 'normal' and 'laplace' are the lighter- and heavier-tailed
  variants of A. Sobolev's "Stochastic Computation Graphs: Discrete
  Relaxations" (2017), compared with the Concrete of Maddison et al. 2017,
  arXiv:1611.00712."""
  if noise not in _NOISES:
    raise ValueError(f'unknown noise {noise!r}; use one of {_NOISES}')
  dtype = _float_dtype(logits)
  shape = jnp.shape(logits)
  if noise == 'logistic':
    u = logistic_noise(key, shape, dtype)
  elif noise == 'uniform':
    u = _uniform(key, shape, dtype)
  elif noise == 'normal':
    u = jax.random.normal(key, shape, dtype)
  else:
    u = jax.random.laplace(key, shape, dtype)
  return jax.nn.sigmoid((u - _quantile_one_minus_p(noise, logits)) / tau)


def binary_concrete_logit_log_prob(x, logits, tau):
  """log density of X = (logits + L) / tau, L ~ Logistic(0, 1), at x:

      log tau - tau x + logits - 2 softplus(logits - tau x),

  elementwise (sum it yourself). The binary Concrete density in logit space
  (Maddison et al. 2017, arXiv:1611.00712, App. C); a relaxed KL(q || p) is
  E_q[log q(X) - log p(X)] with X drawn by `binary_concrete_logit_sample`
  under q's logits and tau (and p's own logits and temperature)."""
  t = tau * x
  return jnp.log(tau) - t + logits - 2.0 * jax.nn.softplus(logits - t)


# ----------------------------------------------------------------------------
# Temperature schedule.


def anneal_temperature(step, tau0=1.0, rate=1e-4, tau_min=0.5, every=1):
  """tau_t = max(tau_min, tau0 * exp(-rate * t)), t = step rounded down to a
  multiple of `every` (Jang et al. 2017, arXiv:1611.01144, Sec. 4: tau0 = 1,
  tau_min = 0.5, r in {1e-5, 1e-4}, updated every N steps). Pure jnp: `step`
  may be traced (jit with the step as an argument compiles once)."""
  dtype = jnp.result_type(float)
  step = jnp.asarray(step)
  if every != 1:
    step = (step // every) * every
  t = step.astype(dtype)
  return jnp.maximum(jnp.asarray(tau_min, dtype),
                     jnp.asarray(tau0, dtype) * jnp.exp(-rate * t))


# ----------------------------------------------------------------------------
# Estimators.


def _check_kind(kind, logits):
  if kind not in _KINDS:
    raise ValueError(f'unknown discrete family {kind!r}; use bernoulli or '
                     'categorical')
  want = 1 if kind == 'bernoulli' else 2
  if jnp.ndim(logits) < want:
    shape = '[B, D]' if kind == 'bernoulli' else '[B, D, K]'
    raise ValueError(f'{kind} logits must be {shape} (a batch axis first), '
                     f'got shape {jnp.shape(logits)}')


def _estimate(f, y):
  fy = f(y)
  if jnp.ndim(fy) != 1 or fy.shape[0] != y.shape[0]:
    raise ValueError(f'f(z) must return one value per example, shape '
                     f'[{y.shape[0]}], got {jnp.shape(fy)}')
  return base.Estimate(surrogate=jnp.sum(fy), value=sg(fy))


def _straight(soft, hard):
  """Exactly `hard` in value (x - x == 0 for finite x), gradient of `soft`."""
  return sg(hard) + base.zero_value(soft)


def relaxed_value(key, logits, *, method, kind='bernoulli', temperature=1.0):
  """The value a relaxation estimator feeds to f, with its gradient:

    'concrete': the relaxed sample (`binary_concrete_sample` /
      `gumbel_softmax_sample`);
    'identity', 'mean': an exact sample, differentiated as logits / tau or
      sigmoid(logits / tau) (softmax for categorical) (`straight_through`);
    'gumbel': the hard threshold / argmax of a Concrete sample,
      differentiated through the Concrete sample (`straight_through_gumbel`).

  The estimators below are f at this value; models whose layers feed each
  other (an SBN's ancestral pass) call it layer by layer.
  """
  _check_kind(kind, logits)
  if method == 'concrete':
    if kind == 'bernoulli':
      return binary_concrete_sample(key, logits, temperature)
    return gumbel_softmax_sample(key, logits, temperature)
  if method in ('identity', 'mean'):
    z = base.family(kind).sample(key, logits)
    if method == 'identity':
      soft = logits / temperature
    elif kind == 'bernoulli':
      soft = jax.nn.sigmoid(logits / temperature)
    else:
      soft = jax.nn.softmax(logits / temperature, axis=-1)
    return _straight(soft, z)
  if method == 'gumbel':
    if kind == 'bernoulli':
      x = binary_concrete_logit_sample(key, logits, temperature)
      soft = jax.nn.sigmoid(x)
      hard = (x > 0).astype(soft.dtype)
    else:
      # The same draw as gumbel_softmax_sample(key, logits, temperature); the
      # argmax of the perturbed logits (not of the softmax, which can round
      # near-ties together at small tau) is the exact Gumbel-max sample.
      perturbed = _gumbel_perturb(key, logits)
      soft = jax.nn.softmax(perturbed / temperature, axis=-1)
      hard = jax.nn.one_hot(jnp.argmax(perturbed, axis=-1), soft.shape[-1],
                            dtype=soft.dtype)
    return _straight(soft, hard)
  raise ValueError(f'unknown relaxation {method!r}; use concrete, identity, '
                   'mean or gumbel')


def concrete(key, logits, f, *, kind='bernoulli', temperature=1.0):
  """Concrete / Gumbel-Softmax pathwise estimator: f at the relaxed sample
  y = sigmoid((logits + L) / tau) (Bernoulli, one uniform per variable) or
  y = softmax((logits + g) / tau) (categorical); the gradient of sum(f(y))
  is unbiased for the relaxed objective and biased for the discrete one,
  the bias vanishing and the variance growing as tau -> 0 (Jang et al. 2017,
  arXiv:1611.01144; Maddison et al. 2017, arXiv:1611.00712, who recommend
  tau = 2/3 for binary variables). `value` is f at the relaxed y."""
  return _estimate(f, relaxed_value(key, logits, method='concrete', kind=kind,
                                    temperature=temperature))


def straight_through(key, logits, f, *, kind='bernoulli', backward='identity',
                     temperature=1.0):
  """Straight-through: forward an exact sample z ~ p(z | logits) (through
  `base.Bernoulli` / `base.Categorical`), backward as if z were

    backward='identity': logits / tau, i.e. dz := d logits / tau (Bengio
      et al. 2013, arXiv:1308.3432; tau = 1 is their estimator, and for
      categorical variables the identity Jacobian per class);
    backward='mean': sigmoid(logits / tau), i.e. dz := d sigmoid(logits / tau)
      (Raiko et al. 2015, arXiv:1406.2989, at tau = 1; a smaller tau is a
      steeper slope, cf. Chung et al. 2017, arXiv:1609.01704), and for
      categorical variables softmax(logits / tau) with its Jacobian (the
      "ST" baseline of Jang et al. 2017, arXiv:1611.01144).

  `value` and the surrogate's value are f at the discrete sample."""
  if backward not in ('identity', 'mean'):
    raise ValueError(f'unknown straight-through backward {backward!r}; use '
                     "'identity' or 'mean'")
  return _estimate(f, relaxed_value(key, logits, method=backward, kind=kind,
                                    temperature=temperature))


def straight_through_gumbel(key, logits, f, *, kind='bernoulli',
                            temperature=1.0):
  """Straight-through Gumbel-Softmax (Jang et al. 2017, arXiv:1611.01144):
  forward the hard threshold (Bernoulli: 1[y > 1/2]) or argmax one-hot
  (categorical) of a Concrete sample y, which is an exact sample of the
  discrete distribution (the Gumbel-max trick), and backward the Jacobian
  of y (`binary_concrete_sample` / `gumbel_softmax_sample` of the same key).
  `value` and the surrogate's value are f at the discrete sample."""
  return _estimate(f, relaxed_value(key, logits, method='gumbel', kind=kind,
                                    temperature=temperature))
