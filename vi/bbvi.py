"""Black-box variational inference with Gaussian families.

q(z) = N(mean, Sigma) over a target's flat position, either mean-field
(Sigma diagonal, `params = {'mean', 'log_scale'}`) or full-rank
(Sigma = L L^T, L lower triangular with a positive diagonal,
`params = {'mean', 'chol'}` where the diagonal of 'chol' holds log L_ii).
The ELBO E_q[log p(z) - log q(z)] is maximised by one of two gradient
estimators:

  * 'reparam': z = mean + L eps, the pathwise gradient of
    E[log p(z)] + H[q] with the Gaussian entropy in closed form (ADVI,
    Kucukelbir et al. 2017, arXiv:1603.00788). With `stl=True`
    ("sticking the landing", Roeder, Wu & Duvenaud 2017,
    arXiv:1703.09194) the entropy is replaced by -log q(z) with the
    parameters of q held fixed, dropping the score term whose mean is zero
    and whose variance does not vanish when q equals the posterior.
  * 'score': the score-function gradient
    E[grad log q(z) (log p(z) - log q(z))] of black-box VI (Ranganath,
    Gerrish & Blei 2014, arXiv:1401.0118), mean-field only, with their
    two variance reductions:
      - Rao-Blackwellisation: the gradient of factor i uses
        log p_i(z) - log q_i(z_i), where p_i are the target's factors that
        contain z_i (`log_blanket(z) -> [dim]`). Without a factorisation
        p_i is the whole log p, and only the other factors' log q_j are
        dropped: they do not depend on z_i, so they add variance and no
        mean.
      - Control variates: h_d = d log q_i / d lambda_d has mean zero, so
        f_d - a_i h_d keeps the mean of f_d = h_d * signal_i; the scale
        a_i = sum_d Cov(f_d, h_d) / sum_d Var(h_d) over factor i's
        parameters minimises the variance. Since f_d - a_i h_d =
        h_d (signal_i - a_i), a_i is a per-factor baseline. It is
        estimated leave-one-out (sample s uses the other S - 1 samples),
        so it is independent of the sample it corrects and the estimator
        stays unbiased; the paper estimates it from the same samples,
        which leaves an O(1/S) bias.
    The paper steps with AdaGrad (`optax.adagrad`).

Every estimator is a surrogate (estimators/base.py): `jax.grad` of it is the
ELBO gradient estimate, its value the ELBO estimate. `init`/`step` are pure
and the caller jits, as in `hmc`; `fit` runs a whole optimisation in one
compiled scan.
"""
import math
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from common.errors import ConfigError
from estimators.base import score_term
from estimators.continuous import normal_log_prob

sg = jax.lax.stop_gradient

FAMILIES = ('meanfield', 'fullrank')
ESTIMATORS = ('reparam', 'score')
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def check_settings(family, estimator, num_samples, stl=False):
  """One-line errors for settings that cannot run."""
  if family not in FAMILIES:
    raise ConfigError(f'unknown VI family {family!r}; use one of {FAMILIES}')
  if estimator not in ESTIMATORS:
    raise ConfigError(f'unknown ELBO gradient estimator {estimator!r}; use '
                      f'one of {ESTIMATORS}')
  if estimator == 'score' and family != 'meanfield':
    raise ConfigError('the score-function estimator (black-box VI) is '
                      'mean-field; use family=meanfield or estimator=reparam')
  if stl and estimator != 'reparam':
    raise ConfigError('stl (sticking the landing) applies to the '
                      'reparameterised estimator; use estimator=reparam')
  if num_samples < 1 or (estimator == 'score' and num_samples < 2):
    raise ConfigError(f'num_samples={num_samples}: the reparameterised '
                      'estimator needs >= 1 and the score-function one >= 2 '
                      '(its control-variate scale is leave-one-out)')


# ----------------------------------------------------------------------------
# The Gaussian family.


def init_params(position, family='meanfield', init_scale=0.1):
  """q centred at `position` (flat [dim]) with every standard deviation
  `init_scale`."""
  mean = jnp.asarray(position)
  if mean.ndim != 1:
    raise ConfigError(f'the initial position must be a flat vector, got shape '
                      f'{mean.shape}')
  if not init_scale > 0:
    raise ConfigError(f'init_scale={init_scale} must be > 0')
  log_s = jnp.full_like(mean, math.log(init_scale))
  if family == 'meanfield':
    return {'mean': mean, 'log_scale': log_s}
  if family == 'fullrank':
    return {'mean': mean, 'chol': jnp.diag(log_s)}
  raise ConfigError(f'unknown VI family {family!r}; use one of {FAMILIES}')


def family_of(params):
  return 'meanfield' if 'log_scale' in params else 'fullrank'


def scale_tril(params):
  """L with Sigma = L L^T (diagonal for mean-field)."""
  if family_of(params) == 'meanfield':
    return jnp.diag(jnp.exp(params['log_scale']))
  raw = params['chol']
  return jnp.tril(raw, -1) + jnp.diag(jnp.exp(jnp.diag(raw)))


def sample(key, params, num_samples):
  """z = mean + L eps, [num_samples, dim]; differentiable in the params."""
  mean = params['mean']
  eps = jax.random.normal(key, (num_samples,) + mean.shape, mean.dtype)
  if family_of(params) == 'meanfield':
    return mean + eps * jnp.exp(params['log_scale'])
  return mean + eps @ scale_tril(params).T


def log_q_terms(params, z):
  """Mean-field: log q_i(z_i) per coordinate, [..., dim]."""
  return normal_log_prob(z, params['mean'], jnp.exp(params['log_scale']))


def log_q(params, z):
  """log q(z) for z [..., dim]."""
  if family_of(params) == 'meanfield':
    return jnp.sum(log_q_terms(params, z), -1)
  l = scale_tril(params)
  eps = jax.scipy.linalg.solve_triangular(l, (z - params['mean'])[..., None],
                                          lower=True)[..., 0]
  return (-0.5 * jnp.sum(eps**2, -1) - jnp.sum(jnp.diag(params['chol']))
          - z.shape[-1] * _HALF_LOG_2PI)


def entropy(params):
  """H[q] = sum log L_ii + dim (1 + log 2 pi) / 2."""
  log_diag = (params['log_scale'] if family_of(params) == 'meanfield'
              else jnp.diag(params['chol']))
  return jnp.sum(log_diag) + log_diag.shape[0] * (0.5 + _HALF_LOG_2PI)


def mean_and_std(params):
  """The posterior approximation's means and standard deviations, [dim]."""
  l = scale_tril(params)
  return params['mean'], jnp.sqrt(jnp.sum(l**2, -1))


def covariance(params):
  l = scale_tril(params)
  return l @ l.T


# ----------------------------------------------------------------------------
# ELBO gradient estimators.


def _loo_baseline(signal, weight):
  """a_{-s,i} = sum_{s' != s} w_s' signal_s'i / sum_{s' != s} w_s'i."""
  num = jnp.sum(weight * signal, 0) - weight * signal
  den = jnp.sum(weight, 0) - weight
  return num / den


def elbo_surrogate(key, params, logdensity, *, estimator='reparam',
                   num_samples=1, stl=False, rao_blackwell=True,
                   control_variate=True, log_blanket=None):
  """A scalar whose value is the ELBO estimate from `num_samples` draws and
  whose gradient in `params` is the chosen estimator of the ELBO gradient.

  Args:
    logdensity: log p(z) + const for a flat z [dim].
    log_blanket: optional, for the score estimator's Rao-Blackwellisation:
      z [dim] -> [dim], coordinate i the sum of log p's factors that contain
      z_i. Without it every coordinate uses the whole log p(z).
  """
  if estimator == 'reparam':
    z = sample(key, params, num_samples)
    log_p = jax.vmap(logdensity)(z)
    if stl:
      return jnp.mean(log_p - log_q(sg(params), z))
    return jnp.mean(log_p) + entropy(params)
  # Score function: the samples carry no gradient.
  z = sg(sample(key, params, num_samples))
  log_p = jax.vmap(logdensity)(z)
  terms = log_q_terms(params, z)                        # [S, dim]
  elbo = jnp.mean(log_p - jnp.sum(sg(terms), -1))
  if rao_blackwell:
    blanket = (jax.vmap(log_blanket)(z) if log_blanket is not None
               else log_p[:, None])
    signal = blanket - sg(terms)                        # [S, dim]
  else:
    signal = jnp.broadcast_to((log_p - jnp.sum(sg(terms), -1))[:, None],
                              terms.shape)
  if control_variate:
    # sum over factor i's parameters (mean, log scale) of h_d^2, where
    # h_mean = eps / sigma and h_log_scale = eps^2 - 1.
    eps = sg((z - params['mean']) * jnp.exp(-params['log_scale']))
    weight = eps**2 * sg(jnp.exp(-2 * params['log_scale'])) + (eps**2 - 1)**2
    signal = signal - _loo_baseline(signal, weight)
  return sg(elbo) + score_term(signal / num_samples, terms)


def elbo_estimate(key, params, logdensity, num_samples=10_000, chunk=1000):
  """(ELBO, its standard error) from `num_samples` fresh draws of q: the one
  final estimate used for ours and the peers alike."""
  chunk = min(chunk, num_samples)
  keys = jax.random.split(key, -(-num_samples // chunk))

  def one(k):
    z = sample(k, params, chunk)
    return jax.vmap(logdensity)(z) - log_q(params, z)

  w = jax.lax.map(one, keys).ravel()[:num_samples]
  return jnp.mean(w), jnp.std(w) / jnp.sqrt(w.size)


# ----------------------------------------------------------------------------
# Optimisation: init / step (pure, the caller jits) and fit (one compiled scan).


class State(NamedTuple):
  params: Any          # Variational parameters.
  opt_state: Any
  step: jax.Array


class Info(NamedTuple):
  elbo: jax.Array      # The step's ELBO estimate.
  grad_norm: jax.Array


def make_optimizer(name='adam', learning_rate=1e-2):
  """'adam' (ADVI-style runs, NumPyro's default) or 'adagrad' (Ranganath et
  al.'s rho_t = eta diag(G_t)^-1/2)."""
  if not learning_rate > 0:
    raise ConfigError(f'learning_rate={learning_rate} must be > 0')
  if name == 'adam':
    return optax.adam(learning_rate)
  if name == 'adagrad':  # As the trainer's optim.name='adagrad'.
    return optax.adagrad(learning_rate, initial_accumulator_value=0.0, eps=1e-8)
  raise ConfigError(f'unknown optimizer {name!r}; use adam or adagrad')


def check_initial(logdensity, position, name='target'):
  """A one-line error when log p is not finite at the initial point."""
  value = float(logdensity(jnp.asarray(position)))
  if not np.isfinite(value):
    raise ConfigError(f'{name}: the log density is {value} at the initial '
                      'point; start where it is finite (e.g. init=zeros or a '
                      'point inside the support) or check the data for NaNs')


def init(position, optimizer, family='meanfield', init_scale=0.1):
  params = init_params(position, family, init_scale)
  return State(params, optimizer.init(params), jnp.zeros((), jnp.int32))


def step(key, state, logdensity, optimizer, **estimator_options):
  """One optimiser step on the ELBO; `estimator_options` go to
  `elbo_surrogate` (estimator, num_samples, stl, rao_blackwell,
  control_variate, log_blanket)."""
  elbo, grads = jax.value_and_grad(
      lambda p: elbo_surrogate(key, p, logdensity, **estimator_options))(
          state.params)
  neg = jax.tree.map(jnp.negative, grads)  # optax minimises.
  updates, opt_state = optimizer.update(neg, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  return State(params, opt_state, state.step + 1), Info(elbo, optax.tree.norm(grads))


class Result(NamedTuple):
  params: Any
  elbo_trace: np.ndarray    # Per-step ELBO estimates [num_steps].
  mean: np.ndarray
  std: np.ndarray
  compile_s: float
  run_s: float


def fit(key, logdensity, position, *, family='meanfield', estimator='reparam',
        num_steps=5000, optimizer=None, num_samples=1, init_scale=0.1,
        stl=False, rao_blackwell=True, control_variate=True, log_blanket=None,
        name='target'):
  """Maximise the ELBO from `position` for `num_steps` steps (one compiled
  scan; compile time reported apart)."""
  check_settings(family, estimator, num_samples, stl)
  if num_steps < 1:
    raise ConfigError(f'num_steps={num_steps} must be >= 1')
  check_initial(logdensity, position, name)
  optimizer = optimizer or make_optimizer()
  options = dict(estimator=estimator, num_samples=num_samples, stl=stl,
                 rao_blackwell=rao_blackwell, control_variate=control_variate,
                 log_blanket=log_blanket)

  def run(key, state):
    def body(state, k):
      state, info = step(k, state, logdensity, optimizer, **options)
      return state, info.elbo
    return jax.lax.scan(body, state, jax.random.split(key, num_steps))

  state = init(position, optimizer, family, init_scale)
  start = time.time()
  compiled = jax.jit(run).lower(key, state).compile()
  compile_s = time.time() - start
  start = time.time()
  state, trace = jax.block_until_ready(compiled(key, state))
  run_s = time.time() - start
  mean, std = mean_and_std(state.params)
  return Result(state.params, np.asarray(trace), np.asarray(mean),
                np.asarray(std), compile_s, run_s)
