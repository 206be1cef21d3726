"""Unbiased gradient estimators for discrete (Bernoulli, categorical) variables.

Every function here follows `estimators.base`: (key, logits, f, ...) ->
Estimate, with `jax.grad(estimate.surrogate)` the estimate of
grad E[sum f(z)]. Unbiased for every setting of their control variates
(REBAR's and RELAX's control must be differentiable in zeta: a control
with jumps, e.g. f thresholding other variables, biases their pathwise
terms):

* `reinforce`: the score function (Williams 1992) with a baseline: none,
  a moving average of f, or the variance-optimal constant, scalar or per
  variable, from running averages (Weaver & Tao 2001).
* `reinforce_loo`: K samples, each baselined by the mean of the others
  (Kool et al. 2019, "Buy 4 REINFORCE samples").
* `nvil`: an input-dependent baseline network trained by squared error,
  a running centring constant and variance normalisation (Mnih & Gregor
  2014, arXiv:1402.0030); the normalisation rescales the step, so the
  estimate is of a scaled gradient unless `normalise=False`.
* `muprop`: the first-order Taylor baseline at the mean and its analytic
  correction (Gu et al. 2016, arXiv:1511.05176).
* `relax` and `rebar`: the conditional-relaxation control variates of
  Grathwohl et al. 2018 (arXiv:1711.00123) with a learned c_phi, and of
  Tucker et al. 2017 (arXiv:1703.07370) with c = eta f(relaxed z) and a
  learned temperature; both tuned by minimising the estimate's variance
  (`estimators.base.estimate_and_cv_grads`).
* `arm`, `disarm`: antithetic estimators for Bernoulli variables (Yin &
  Zhou 2019, arXiv:1807.11143; Dong, Mnih & Tucker 2020, arXiv:2006.10680).
* `vimco`: the multi-sample objective log mean exp(log w) with leave-one-out
  baselines (Mnih & Rezende 2016, arXiv:1602.06725).
"""
import jax
import jax.numpy as jnp

from estimators.base import Estimate, family, score_term, sg, zero_value

_EPS = 1e-6  # Uniforms are kept in (eps, 1 - eps): logits stay finite.


def _uniform(key, shape, dtype):
  return jax.random.uniform(key, shape, dtype, _EPS, 1.0 - _EPS)


# ----------------------------------------------------------------------------
# The score function and its baselines.

BASELINES = ('none', 'moving_average', 'optimal', 'optimal_per_variable')


def reinforce_state(num_variables, dtype=jnp.float32):
  """Initial running statistics of `reinforce`'s baselines."""
  return {'mean': jnp.zeros((), dtype),
          'num': jnp.zeros(num_variables, dtype),   # E[f s_d^2] per variable.
          'den': jnp.zeros(num_variables, dtype)}   # E[s_d^2] per variable.


def _squared_scores(kind, logits, z):
  """|d log p(z_d) / d logits_d|^2 per example and variable [B, D]."""
  fam = family(kind)
  s = z - fam.mean(logits)
  return jnp.square(s) if kind == 'bernoulli' else jnp.sum(jnp.square(s), -1)


def reinforce(key, logits, f, *, kind='bernoulli', baseline='none', state=None,
              decay=0.9):
  """The score-function estimator with a baseline that never sees the current
  sample (so it stays unbiased): (f(z) - b) grad log p(z).

  `baseline`: 'none'; 'moving_average' (b = running mean of f);
  'optimal' (b* = sum_d E[f s_d^2] / sum_d E[s_d^2], s the score) or
  'optimal_per_variable' (b*_d per variable), from running averages with
  `decay`. `state` (from `reinforce_state`) is read before it is updated
  with this batch; the updated state is returned.
  """
  if baseline not in BASELINES:
    raise ValueError(f'unknown baseline {baseline!r}; use one of {BASELINES}')
  fam = family(kind)
  z = sg(fam.sample(key, logits))
  fz = f(z)
  log_p = fam.log_prob_per_variable(logits, z).reshape(z.shape[0], -1)
  if baseline == 'none':
    coefficient, new_state = fz[:, None], state
  else:
    if state is None:
      raise ValueError(f'baseline {baseline!r} needs a state (reinforce_state)')
    s2 = sg(_squared_scores(kind, logits, z)).reshape(z.shape[0], -1)
    f_s = sg(fz)
    mix = lambda old, new: decay * old + (1 - decay) * new
    new_state = {'mean': mix(state['mean'], jnp.mean(f_s)),
                 'num': mix(state['num'], jnp.mean(f_s[:, None] * s2, 0)),
                 'den': mix(state['den'], jnp.mean(s2, 0))}
    if baseline == 'moving_average':
      b = state['mean']
    elif baseline == 'optimal':
      b = jnp.sum(state['num']) / jnp.maximum(jnp.sum(state['den']), 1e-12)
    else:
      b = state['num'] / jnp.maximum(state['den'], 1e-12)
    coefficient = fz[:, None] - b
  surrogate = jnp.sum(fz) + score_term(coefficient, log_p)
  return Estimate(surrogate, sg(fz), state=new_state)


def reinforce_loo(key, logits, f, *, kind='bernoulli', num_samples=4):
  """K samples per example, each baselined by the mean of the other K - 1:
  (1/K) sum_k (f(z_k) - mean_{j != k} f(z_j)) grad log p(z_k)."""
  if num_samples < 2:
    raise ValueError('reinforce_loo needs num_samples >= 2')
  fam = family(kind)
  k = num_samples
  z = sg(jax.vmap(lambda kk: fam.sample(kk, logits))(jax.random.split(key, k)))
  fz = jax.vmap(f)(z)                                   # [K, B]
  baseline = (jnp.sum(fz, 0, keepdims=True) - fz) / (k - 1)
  log_p = jax.vmap(lambda zz: fam.log_prob(logits, zz))(z)
  surrogate = (jnp.sum(fz) + score_term(fz - baseline, log_p)) / k
  return Estimate(surrogate, sg(jnp.mean(fz, 0)))


# ----------------------------------------------------------------------------
# NVIL.


def nvil_state(dtype=jnp.float32):
  return {'c': jnp.zeros((), dtype), 'v': jnp.ones((), dtype)}


def nvil(key, logits, f, *, baseline_fn, cv_params, state, kind='bernoulli',
         decay=0.8, normalise=True):
  """NVIL: signal l = f(z) - c - C_psi(x), divided by max(1, running std).

  `baseline_fn(cv_params) -> [B]` is the input-dependent baseline C_psi(x)
  (the caller closes over x); `cv_loss` is its squared error
  E[(f - c - C_psi(x))^2]. `state` = {'c', 'v'}: running mean and variance
  of f - C_psi(x), read before this batch updates them.
  """
  fam = family(kind)
  z = sg(fam.sample(key, logits))
  fz = f(z)
  b = baseline_fn(cv_params)
  centred = sg(fz) - sg(b)
  scale = jnp.maximum(1.0, jnp.sqrt(state['v'])) if normalise else 1.0
  signal = (centred - state['c']) / scale
  surrogate = jnp.sum(fz) + score_term(signal, fam.log_prob(logits, z))
  cv_loss = jnp.mean(jnp.square(sg(fz) - state['c'] - b))
  new_state = {'c': decay * state['c'] + (1 - decay) * jnp.mean(centred),
               'v': decay * state['v'] + (1 - decay) * jnp.var(centred)}
  return Estimate(surrogate, sg(fz), cv_loss, new_state)


# ----------------------------------------------------------------------------
# MuProp.


def muprop(key, logits, f, *, kind='bernoulli', control_f=None):
  """MuProp: baseline b(z) = g(mu) + g'(mu) (z - mu) at the mean mu (held
  fixed), whose expectation's gradient g'(mu) dmu/dtheta is added back;
  g is f (or `control_f`, a smooth stand-in for it) and must accept
  relaxed z (values in [0, 1], or on the simplex). Unbiased for any g."""
  fam = family(kind)
  z = sg(fam.sample(key, logits))
  fz = f(z)
  mu = fam.mean(logits)
  mu_bar = sg(mu)
  f_mu, vjp = jax.vjp(f if control_f is None else control_f, mu_bar)
  (df_mu,) = vjp(jnp.ones_like(f_mu))  # Per example: f_b depends on z_b only.
  df_mu = sg(df_mu)
  linear = jnp.sum((df_mu * (z - mu_bar)).reshape(z.shape[0], -1), -1)
  coefficient = fz - sg(f_mu) - linear
  surrogate = (jnp.sum(fz) + score_term(coefficient, fam.log_prob(logits, z))
               + jnp.sum(df_mu * zero_value(mu)))
  return Estimate(surrogate, sg(fz))


# ----------------------------------------------------------------------------
# RELAX and REBAR: conditional relaxations as control variates.


def _binary_relaxation(key, logits):
  """(zeta, b, zeta_tilde): zeta = logits + logit(u), b = H(zeta), and
  zeta_tilde ~ p(zeta | b) by the same map from a second uniform
  (Tucker et al. 2017 Appendix), both differentiable in the logits."""
  ku, kv = jax.random.split(key)
  u = _uniform(ku, logits.shape, logits.dtype)
  v = _uniform(kv, logits.shape, logits.dtype)
  zeta = logits + jnp.log(u) - jnp.log1p(-u)
  b = sg((zeta > 0).astype(logits.dtype))
  p = jax.nn.sigmoid(logits)
  u_cond = jnp.where(b > 0, (1 - p) + v * p, v * (1 - p))
  u_cond = jnp.clip(u_cond, _EPS, 1 - _EPS)
  zeta_tilde = logits + jnp.log(u_cond) - jnp.log1p(-u_cond)
  return zeta, b, zeta_tilde


def _categorical_relaxation(key, logits):
  """(zeta, b one-hot, zeta_tilde) for Gumbel-max: zeta = log p + Gumbel,
  b = one_hot(argmax zeta), zeta_tilde ~ p(zeta | b) (Tucker et al. 2017)."""
  ku, kv = jax.random.split(key)
  log_p = jax.nn.log_softmax(logits)
  u = _uniform(ku, logits.shape, logits.dtype)
  zeta = log_p - jnp.log(-jnp.log(u))
  k = logits.shape[-1]
  b = sg(jax.nn.one_hot(jnp.argmax(zeta, -1), k, dtype=logits.dtype))
  v = _uniform(kv, logits.shape, logits.dtype)
  log_v_b = jnp.sum(b * jnp.log(v), -1, keepdims=True)  # log v at the argmax.
  top = -jnp.log(-jnp.log(v))
  # -log(-log v_k / p_k - log v_b), in log space: exp(-log p) overflows
  # float32 once a logit gap passes ~88.
  others = -jnp.logaddexp(jnp.log(-jnp.log(v)) - log_p, jnp.log(-log_v_b))
  zeta_tilde = jnp.where(b > 0, top, others)
  return zeta, b, zeta_tilde


def relax(key, logits, f, *, control, cv_params, kind='bernoulli'):
  """RELAX: g = [f(b) - c(zeta~)] grad log p(b) + grad c(zeta) - grad c(zeta~)
  with zeta the relaxed (logistic or Gumbel) variable, b = H(zeta) and
  zeta~ ~ p(zeta | b). `control(cv_params, zeta) -> [B]` is any function
  c_phi; the estimate is unbiased for every cv_params, which
  `estimate_and_cv_grads(..., tune_variance=True)` tunes by minimising
  E||g||^2 (the coefficient keeps cv_params live for that second
  derivative while the logits are held fixed in it)."""
  relaxation = (_binary_relaxation if kind == 'bernoulli'
                else _categorical_relaxation)
  family(kind)  # Validates the name.
  zeta, b, zeta_tilde = relaxation(key, logits)
  fb = f(b)
  log_p = family(kind).log_prob(logits, b)
  c_zeta = control(cv_params, zeta)
  c_tilde = control(cv_params, zeta_tilde)
  c_tilde_fixed = control(cv_params, sg(zeta_tilde))  # Live in cv_params only.
  coefficient = sg(fb) - c_tilde_fixed
  surrogate = (jnp.sum(fb) + jnp.sum(coefficient * zero_value(log_p))
               + jnp.sum(zero_value(c_zeta)) - jnp.sum(zero_value(c_tilde)))
  return Estimate(surrogate, sg(fb))


def rebar_params(eta=1.0, tau=0.5, dtype=jnp.float32):
  """REBAR's control-variate parameters: the scale eta and log temperature."""
  return {'eta': jnp.asarray(eta, dtype), 'log_tau': jnp.log(jnp.asarray(tau, dtype))}


def relaxed_sample(kind, zeta, tau):
  """sigma(zeta / tau) (binary Concrete) or softmax(zeta / tau) (Gumbel-Softmax)."""
  if kind == 'bernoulli':
    return jax.nn.sigmoid(zeta / tau)
  return jax.nn.softmax(zeta / tau, -1)


def rebar(key, logits, f, *, cv_params, kind='bernoulli', control_f=None):
  """REBAR: RELAX with c(zeta) = eta f(relaxed(zeta / tau)); eta and the
  temperature (`rebar_params`) are tuned by minimising the variance.
  `f` (or `control_f`) must accept relaxed z."""
  control_f = f if control_f is None else control_f

  def control(cv, zeta):
    return cv['eta'] * control_f(relaxed_sample(kind, zeta, jnp.exp(cv['log_tau'])))

  return relax(key, logits, f, control=control, cv_params=cv_params, kind=kind)


# ----------------------------------------------------------------------------
# ARM and DisARM (Bernoulli).


def arm(key, logits, f):
  """ARM: g_d = (f(1[u > sigma(-l)]) - f(1[u < sigma(l)])) (u_d - 1/2), one
  uniform vector shared by the antithetic pair."""
  u = _uniform(key, logits.shape, logits.dtype)
  b1 = sg((u > jax.nn.sigmoid(-logits)).astype(logits.dtype))
  b2 = sg((u < jax.nn.sigmoid(logits)).astype(logits.dtype))
  f1, f2 = f(b1), f(b2)
  g = sg((f1 - f2).reshape(-1, *([1] * (logits.ndim - 1))) * (u - 0.5))
  surrogate = 0.5 * (jnp.sum(f1) + jnp.sum(f2)) + jnp.sum(g * zero_value(logits))
  return Estimate(surrogate, sg(0.5 * (f1 + f2)))


def disarm(key, logits, f):
  """DisARM: with b = 1[u < sigma(l)] and its antithetic b~ = 1[1 - u <
  sigma(l)], g_d = 1/2 (f(b) - f(b~)) (-1)^{b~_d} 1[b_d != b~_d] sigma(|l_d|)."""
  u = _uniform(key, logits.shape, logits.dtype)
  p = jax.nn.sigmoid(logits)
  b = sg((u < p).astype(logits.dtype))
  b_anti = sg((1 - u < p).astype(logits.dtype))
  fb, fa = f(b), f(b_anti)
  sign = 1.0 - 2.0 * b_anti
  g = sg(0.5 * (fb - fa).reshape(-1, *([1] * (logits.ndim - 1))) * sign
         * (b != b_anti) * jax.nn.sigmoid(jnp.abs(logits)))
  surrogate = 0.5 * (jnp.sum(fb) + jnp.sum(fa)) + jnp.sum(g * zero_value(logits))
  return Estimate(surrogate, sg(0.5 * (fb + fa)))


# ----------------------------------------------------------------------------
# VIMCO.


def vimco(key, logits, log_weight, *, kind='bernoulli', num_samples=5):
  """VIMCO for L = log (1/K) sum_k w_k: K samples z_k per example, and for
  each the leave-one-out baseline L_{-j} with log w_j replaced by the mean
  of the others' (the geometric mean).

  `log_weight(z) -> [B]` is log p(x, z) - log q(z | x), with log q live in
  `logits`: its pathwise gradient supplies the -w~_j grad log q_j term.
  The surrogate's value is sum_b L_b.
  """
  if num_samples < 2:
    raise ValueError('vimco needs num_samples >= 2')
  fam = family(kind)
  z = sg(jax.vmap(lambda kk: fam.sample(kk, logits))(
      jax.random.split(key, num_samples)))
  log_w = jax.vmap(log_weight)(z)                                  # [K, B]
  log_q = jax.vmap(lambda zz: fam.log_prob(logits, zz))(z)         # [K, B]
  return vimco_surrogate(log_w, log_q)


def vimco_surrogate(log_w, log_q):
  """VIMCO from K samples' log weights and log q(z_k | x), both [K, B] and
  live in the parameters (for models whose samples are drawn elsewhere,
  e.g. a chain of stochastic layers)."""
  k = log_w.shape[0]
  bound = jax.nn.logsumexp(log_w, 0) - jnp.log(k)                  # [B]
  lw = sg(log_w)
  others_mean = (jnp.sum(lw, 0, keepdims=True) - lw) / (k - 1)     # [K, B]
  # Row j: the K log-weights with the j-th replaced by others_mean[j].
  eye = jnp.eye(k, dtype=lw.dtype)[:, :, None]
  replaced = lw[None] * (1 - eye) + others_mean[:, None] * eye     # [K, K, B]
  loo = jax.nn.logsumexp(replaced, 1) - jnp.log(k)                 # [K, B]
  surrogate = jnp.sum(bound) + score_term(sg(bound)[None] - loo, log_q)
  return Estimate(surrogate, sg(bound))
