"""Unbiased gradient estimators for continuous variables: diagonal Gaussian
and Gamma.

Every function here follows `estimators.base`: (key, params, f, ...) ->
Estimate, with `jax.grad(estimate.surrogate)` the estimate of
grad E[sum f(x)], the surrogate's value sum f(x) at the samples and every
extra term zero in value.

Conventions:
  * Diagonal Gaussian: `params = (mean, scale)`, both [B, D] (or
    broadcastable to a common shape), x [B, D]. The scale is used directly
    (the continuous toy's sigma); for a log-scale parameterisation pass
    `(mean, jnp.exp(log_scale))` and differentiate with respect to
    log_scale (the chain rule does the rest). The density depends on
    scale^2 only, so a negative scale (plain SGD on the scale can cross
    zero) is the distribution N(mean, scale^2), not a NaN; the scale must
    not be zero.
  * Gamma: `params = alpha` [B, D], shape with unit rate. For a rate beta,
    use x / beta inside f (pathwise in beta).
  * `f(x)` returns one value per example, [B]; it may depend on the
    parameters directly (an ELBO's -log q), and that pathwise part is
    included.

Estimators:
  * `reparameterised`: x = mean + scale * eps, the pathwise gradient
    (Kingma & Welling 2014, arXiv:1312.6114; Rezende et al. 2014,
    arXiv:1401.4082).
  * `score_function`: f(x) grad log p(x | theta), the continuous REINFORCE
    (Williams 1992).
  * `grep`: generalised reparameterisation (Ruiz, Titsias & Blei 2016,
    arXiv:1610.02287): eps = T^{-1}(x | theta) with a density p(eps | theta)
    that depends weakly on theta, and grad = g_rep + g_corr with
    g_rep = E grad_theta f(T(eps | theta)) and
    g_corr = E f(T(eps | theta)) grad_theta log p(eps | theta).
    Built-in transforms: 'standardise' (eps = (x - mean) / scale ~ N(0, 1);
    g_corr = 0, i.e. `reparameterised`), 'centre' (G-REP-1 of the toy,
    eps = x - mean ~ N(0, scale^2): pathwise in the mean, score function in
    the scale), 'rescale' (G-REP-2, eps = (x - mean) / scale + mean ~
    N(mean, 1)) and 'identity' (eps = x: the score function). Any other
    elementwise `Transform` can be passed.
  * `rsvi_gamma`: rejection-sampling variational inference for the Gamma
    (Naesseth, Ruiz, Linderman & Blei 2017, arXiv:1610.05683): the
    Marsaglia & Tsang (2000) sampler x = T(eps | alpha) =
    (alpha - 1/3)(1 + eps / sqrt(9 alpha - 3))^3, eps ~ N(0, 1) accepted
    with the sampler's test; the accepted eps has density
    log p(eps | alpha) = log Gamma(T(eps | alpha); alpha) + log T'(eps), and
    grad = g_rep + g_corr as in G-REP. Shape augmentation ("boosting") by
    B steps (x = T(eps | alpha + B) prod_i u_i^{1 / (alpha + i)}) handles
    alpha < 1 and shrinks g_corr.
  * `lax`: LAX for continuous variables (Grathwohl, Choi, Wu, Roeder &
    Duvenaud 2018, arXiv:1711.00123):
    [f(x) - c_phi(x)] grad log p(x | theta) + grad_theta c_phi(x(theta, eps)),
    unbiased for every c_phi; c_phi is tuned by minimising E||g||^2 with
    `estimators.base.estimate_and_cv_grads(..., tune_variance=True)`.

`grep_terms` and `rsvi_gamma_terms` return g_rep's and g_corr's surrogates
separately (what the tests and the continuous toy look at).
"""
import math
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from estimators.base import Estimate, score_term, sg, zero_value

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _per_example(a):
  """Sum over every axis but the first: [B, ...] -> [B]."""
  return a.reshape(a.shape[0], -1).sum(-1)


def _gaussian(params):
  mean, scale = params
  mean, scale = jnp.broadcast_arrays(jnp.asarray(mean), jnp.asarray(scale))
  if not jnp.issubdtype(mean.dtype, jnp.floating):
    mean, scale = mean.astype(float), scale.astype(float)
  return mean, scale


def normal_log_prob(x, mean, scale):
  """Elementwise log N(x; mean, scale^2). Written with scale^2, so a negative
  scale is the same distribution as its absolute value."""
  z = (x - mean) / scale
  return -0.5 * jnp.square(z) - 0.5 * jnp.log(jnp.square(scale)) - _HALF_LOG_2PI


def gaussian_sample(key, params):
  """x = mean + scale * eps, eps ~ N(0, 1): differentiable in the params."""
  mean, scale = _gaussian(params)
  return mean + scale * jax.random.normal(key, mean.shape, mean.dtype)


def gaussian_log_prob(params, x):
  """log p(x | mean, scale) per example [B]."""
  mean, scale = _gaussian(params)
  return _per_example(normal_log_prob(x, mean, scale))


# ----------------------------------------------------------------------------
# Reparameterisation and the score function.


def reparameterised(key, params, f):
  """The pathwise estimator grad_theta f(mean + scale * eps), eps ~ N(0, 1)."""
  x = gaussian_sample(key, params)
  fx = f(x)
  return Estimate(surrogate=jnp.sum(fx), value=sg(fx))


def score_function(key, params, f):
  """The score-function estimator f(x) grad log p(x | theta), x drawn under
  stop_gradient (Williams 1992): for the toy, (eps / sigma) f and
  ((eps^2 - 1) / sigma) f."""
  x = sg(gaussian_sample(key, params))
  fx = f(x)
  log_p = gaussian_log_prob(params, x)
  return Estimate(surrogate=jnp.sum(fx) + score_term(fx, log_p), value=fx)


# ----------------------------------------------------------------------------
# Generalised reparameterisation (G-REP).


class Transform(NamedTuple):
  """An elementwise, invertible map between the noise eps and x.

  forward(eps, params) -> x is T(eps | theta); inverse(x, params) -> eps is
  T^{-1}(x | theta); log_prob(eps, params) -> elementwise log p(eps | theta),
  the density of eps = T^{-1}(x) for x ~ N(mean, scale^2). With
  log_prob=None it is computed by the change of variables
  log p(eps | theta) = log N(T(eps | theta); mean, scale) + log |T'(eps)|,
  T' from a forward-mode derivative (valid because T acts elementwise).
  """
  forward: Callable
  inverse: Callable
  log_prob: Optional[Callable] = None


TRANSFORMS = {
    # Full standardisation: eps ~ N(0, 1) whatever theta, so g_corr = 0.
    'standardise': Transform(
        forward=lambda e, p: p[0] + p[1] * e,
        inverse=lambda x, p: (x - p[0]) / p[1],
        log_prob=lambda e, p: normal_log_prob(e, 0.0, 1.0)),
    # G-REP-1: subtract the mean only; eps ~ N(0, scale^2).
    'centre': Transform(
        forward=lambda e, p: e + p[0],
        inverse=lambda x, p: x - p[0],
        log_prob=lambda e, p: normal_log_prob(e, 0.0, p[1])),
    # G-REP-2: divide by the scale only; eps ~ N(mean, 1).
    'rescale': Transform(
        forward=lambda e, p: p[1] * (e - p[0]) + p[0],
        inverse=lambda x, p: (x - p[0]) / p[1] + p[0],
        log_prob=lambda e, p: normal_log_prob(e, p[0], 1.0)),
    # No transform: g_rep = 0 and g_corr is the score function.
    'identity': Transform(
        forward=lambda e, p: e,
        inverse=lambda x, p: x,
        log_prob=lambda e, p: normal_log_prob(e, p[0], p[1])),
}


class Terms(NamedTuple):
  """The two parts of a G-REP/RSVI estimate: jax.grad(rep) is g_rep,
  jax.grad(corr) is g_corr (zero in value), value is f at the samples."""
  rep: jax.Array
  corr: jax.Array
  value: jax.Array


def _transform(transform):
  if isinstance(transform, Transform):
    return transform
  if transform not in TRANSFORMS:
    raise ValueError(f'unknown transform {transform!r}; use one of '
                     f'{tuple(TRANSFORMS)} or a Transform')
  return TRANSFORMS[transform]


def change_of_variables_log_prob(transform, eps, params):
  """Elementwise log p(eps | theta) = log N(T(eps); mean, scale)
  + log |T'(eps)| for an elementwise T (the general G-REP density)."""
  t = _transform(transform)
  mean, scale = _gaussian(params)
  x, dx = jax.jvp(lambda e: t.forward(e, (mean, scale)), (eps,),
                  (jnp.ones_like(eps),))
  return normal_log_prob(x, mean, scale) + jnp.log(jnp.abs(dx))


def grep_terms(key, params, f, transform='standardise'):
  """g_rep's and g_corr's surrogates of G-REP (arXiv:1610.02287):
  x ~ N(mean, scale^2) drawn under stop_gradient, eps = T^{-1}(x | theta)
  held fixed, x(theta) = T(eps | theta); rep = sum f(x(theta)),
  corr = sum sg(f) * (log p(eps | theta) - sg(.))."""
  t = _transform(transform)
  params = _gaussian(params)
  eps = sg(t.inverse(sg(gaussian_sample(key, params)), params))
  fx = f(t.forward(eps, params))
  if t.log_prob is None:
    log_p = change_of_variables_log_prob(t, eps, params)
  else:
    log_p = t.log_prob(eps, params)
  return Terms(rep=jnp.sum(fx), corr=score_term(fx, _per_example(log_p)),
               value=fx)


def grep(key, params, f, transform='standardise'):
  """G-REP: the estimate g_rep + g_corr (see `grep_terms`). `transform` is a
  name in TRANSFORMS ('standardise', 'centre' = G-REP-1, 'rescale' =
  G-REP-2, 'identity') or a Transform."""
  terms = grep_terms(key, params, f, transform)
  return Estimate(surrogate=terms.rep + terms.corr, value=terms.value)


# ----------------------------------------------------------------------------
# RSVI for the Gamma distribution.


def marsaglia_tsang_transform(eps, alpha):
  """T(eps | alpha) = (alpha - 1/3)(1 + eps / sqrt(9 alpha - 3))^3, the
  Marsaglia-Tsang proposal: Gamma(alpha, 1) for accepted eps, alpha >= 1."""
  d = alpha - 1.0 / 3.0
  return d * (1.0 + eps / jnp.sqrt(9.0 * d)) ** 3


def marsaglia_tsang_log_prob(eps, alpha):
  """Elementwise log p(eps | alpha) of an accepted eps (arXiv:1610.05683):
  log Gamma(T(eps | alpha); alpha, 1) + log T'(eps | alpha), with
  T' = sqrt(d) (1 + c eps)^2, d = alpha - 1/3, c = 1 / sqrt(9 d)."""
  d = alpha - 1.0 / 3.0
  v = 1.0 + eps / jnp.sqrt(9.0 * d)
  x = d * v ** 3
  log_gamma = (alpha - 1.0) * jnp.log(x) - x - jax.lax.lgamma(alpha)
  return log_gamma + 0.5 * jnp.log(d) + 2.0 * jnp.log(v)


def marsaglia_tsang_eps(key, alpha):
  """Accepted eps of Marsaglia & Tsang's rejection sampler, elementwise for
  alpha >= 1 (ACM TOMS 2000): eps ~ N(0, 1), u ~ U(0, 1), v = 1 + c eps,
  accept if v > 0 and log u < eps^2 / 2 + d - d v^3 + d log v^3. One
  `lax.while_loop` redraws every element not yet accepted. No gradient
  (alpha is held constant)."""
  alpha = sg(alpha)
  d = alpha - 1.0 / 3.0
  c = 1.0 / jnp.sqrt(9.0 * d)
  dtype = alpha.dtype

  def body(state):
    i, eps, done = state
    k_eps, k_u = jax.random.split(jax.random.fold_in(key, i))
    e = jax.random.normal(k_eps, alpha.shape, dtype)
    u = jax.random.uniform(k_u, alpha.shape, dtype)
    v = 1.0 + c * e
    v_pos = jnp.where(v > 0, v, 1.0)
    log_ratio = 0.5 * e * e + d - d * v_pos ** 3 + 3.0 * d * jnp.log(v_pos)
    accept = (v > 0) & (jnp.log(u) < log_ratio) & ~done
    return i + 1, jnp.where(accept, e, eps), done | accept

  # Elements with alpha < 1 (or NaN) are not sampled; their eps is NaN.
  invalid = ~(alpha >= 1.0)
  init = (jnp.zeros((), jnp.uint32), jnp.full(alpha.shape, jnp.nan, dtype),
          invalid)
  _, eps, _ = jax.lax.while_loop(lambda s: ~jnp.all(s[2]), body, init)
  return eps


def _check_alpha(alpha, boost):
  if not isinstance(boost, int) or boost < 0:
    raise ValueError(f'boost must be a non-negative int, got {boost!r}')
  if boost == 0:
    try:
      too_small = bool(jnp.any(~(jnp.asarray(alpha) >= 1.0)))
    except jax.errors.ConcretizationTypeError:  # Traced: not known here.
      too_small = False
    if too_small:
      raise ValueError('rsvi_gamma with boost=0 needs alpha >= 1 (the '
                       'Marsaglia-Tsang sampler); use boost >= 1 for '
                       'alpha < 1')


def rsvi_gamma_terms(key, alpha, f, *, boost=1):
  """g_rep's and g_corr's surrogates of RSVI for x ~ Gamma(alpha, 1)
  (arXiv:1610.05683): eps is the accepted
  Marsaglia-Tsang draw for shape alpha + boost, held fixed;
  x(alpha) = T(eps | alpha + B) prod_{i<B} u_i^{1 / (alpha + i)} with
  u_i ~ U(0, 1) fixed (Gamma(a) = Gamma(a + 1) U^{1/a});
  rep = sum f(x(alpha)), corr = sum sg(f) (log p(eps | alpha + B) - sg(.)).

  boost=B >= 1 is valid for every alpha > 0; boost=0 needs alpha >= 1
  (a ValueError for a concrete alpha; NaN samples where alpha < 1 under
  jit/vmap, where alpha is not known).
  """
  _check_alpha(alpha, boost)
  alpha = jnp.asarray(alpha)
  if not jnp.issubdtype(alpha.dtype, jnp.floating):
    alpha = alpha.astype(float)
  k_eps, k_u = jax.random.split(key)
  shape = alpha + boost
  eps = marsaglia_tsang_eps(k_eps, shape)
  log_x = jnp.log(marsaglia_tsang_transform(eps, shape))
  if boost:
    u = jax.random.uniform(k_u, (boost, *alpha.shape), alpha.dtype,
                           minval=jnp.finfo(alpha.dtype).tiny)
    offsets = jnp.arange(boost, dtype=alpha.dtype).reshape(
        (boost,) + (1,) * alpha.ndim)
    log_x = log_x + jnp.sum(jnp.log(u) / (alpha + offsets), 0)
  fx = f(jnp.exp(log_x))
  log_p = _per_example(marsaglia_tsang_log_prob(eps, shape))
  return Terms(rep=jnp.sum(fx), corr=score_term(fx, log_p), value=fx)


def rsvi_gamma(key, alpha, f, *, boost=1):
  """RSVI for x ~ Gamma(alpha, 1): g_rep + g_corr (see `rsvi_gamma_terms`)."""
  terms = rsvi_gamma_terms(key, alpha, f, boost=boost)
  return Estimate(surrogate=terms.rep + terms.corr, value=terms.value)


# ----------------------------------------------------------------------------
# LAX.


def lax(key, params, f, control, cv_params):
  """LAX for a diagonal Gaussian (arXiv:1711.00123):
  g = [f(x) - c_phi(x)] grad_theta log p(x | theta)
      + grad_theta c_phi(x(theta, eps)),  x = mean + scale * eps.

  `control(cv_params, x) -> [B]` is c_phi; it must depend on theta only
  through x. The score coefficient f - c_phi is held constant in theta
  but not in phi, so `estimators.base.variance_loss` (through
  `estimate_and_cv_grads(..., tune_variance=True)`) can differentiate
  E||g||^2 with respect to cv_params. cv_loss is 0: the variance is the
  only cv objective. Value: f at the samples.
  """
  x_theta = gaussian_sample(key, params)
  x = sg(x_theta)
  fx = f(x)
  log_p = gaussian_log_prob(params, x)
  coefficient = sg(fx) - control(cv_params, x)
  score = jnp.sum(coefficient * (log_p - sg(log_p)))
  pathwise = zero_value(jnp.sum(control(cv_params, x_theta)))
  return Estimate(surrogate=jnp.sum(fx) + score + pathwise, value=fx)


# Name -> estimator with the common signature (key, params, f), for the toy.
GAUSSIAN_ESTIMATORS = {
    'score_function': score_function,
    'reparameterised': reparameterised,
    'grep_standardise': lambda k, p, f: grep(k, p, f, 'standardise'),
    'grep_1': lambda k, p, f: grep(k, p, f, 'centre'),
    'grep_2': lambda k, p, f: grep(k, p, f, 'rescale'),
}
