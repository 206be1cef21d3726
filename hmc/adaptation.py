"""Stan's window adaptation of the step size and the mass matrix.

* Step size: dual averaging (Hoffman & Gelman 2014, arXiv:1111.4246,
  Sec. 3.2.1) towards a target mean acceptance statistic (0.8 by default),
  with Stan's constants gamma = 0.05, t0 = 10, kappa = 0.75, mu = log(10 eps).
* Inverse mass matrix: Welford estimates of the posterior variance (diagonal)
  or covariance (dense) over "slow" windows, regularised towards 1e-3 * I as
  Stan does, var * n / (n + 5) + 1e-3 * 5 / (n + 5).
* Windows (Stan reference manual, "HMC algorithm parameters"): an initial fast
  buffer of 75 iterations (step size only), slow windows of 25, 50, 100, ...
  (the last one stretched to the end), a final fast buffer of 50. After each
  slow window the mass matrix is updated and dual averaging restarts from the
  current step size. With fewer than 150 warm-up iterations the buffers are
  15% / 10% of the warm-up, as in Stan.

`window_schedule` is numpy (static); `run_warmup` is a single `lax.scan`
over warm-up iterations for one chain (vmap it over chains).
"""
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def window_schedule(num_warmup, init_buffer=75, term_buffer=50, base_window=25):
  """Per-iteration (in_slow_window, ends_slow_window) boolean arrays."""
  if num_warmup < 20:
    # Too short for windows: tune the step size only.
    return np.zeros(num_warmup, bool), np.zeros(num_warmup, bool)
  if init_buffer + base_window + term_buffer > num_warmup:
    init_buffer = int(0.15 * num_warmup)
    term_buffer = int(0.1 * num_warmup)
    base_window = num_warmup - init_buffer - term_buffer
  slow = np.zeros(num_warmup, bool)
  ends = np.zeros(num_warmup, bool)
  start, size, last = init_buffer, base_window, num_warmup - term_buffer
  while start < last:
    end = start + size
    # A window whose doubled successor would not fit absorbs the rest.
    if end + 2 * size > last:
      end = last
    slow[start:end] = True
    ends[end - 1] = True
    start, size = end, 2 * size
  return slow, ends


class DualAveraging(NamedTuple):
  log_step: jax.Array
  log_step_avg: jax.Array
  h_bar: jax.Array
  t: jax.Array
  mu: jax.Array


def dual_averaging_init(step_size):
  log_step = jnp.log(step_size)
  return DualAveraging(log_step, log_step, jnp.zeros_like(log_step),
                       jnp.zeros_like(log_step), jnp.log(10.0) + log_step)


def dual_averaging_update(da, accept_stat, target=0.8, gamma=0.05, t0=10.0,
                          kappa=0.75):
  t = da.t + 1
  eta = 1.0 / (t + t0)
  h_bar = (1 - eta) * da.h_bar + eta * (target - accept_stat)
  log_step = da.mu - jnp.sqrt(t) / gamma * h_bar
  w = t**(-kappa)
  log_step_avg = w * log_step + (1 - w) * da.log_step_avg
  return DualAveraging(log_step, log_step_avg, h_bar, t, da.mu)


class Welford(NamedTuple):
  count: jax.Array
  mean: jax.Array
  m2: jax.Array  # [d] (diagonal) or [d, d] (dense).


def welford_init(dim, dense, dtype=jnp.float32):
  m2 = jnp.zeros((dim, dim) if dense else (dim,), dtype)
  return Welford(jnp.zeros((), dtype), jnp.zeros((dim,), dtype), m2)


def welford_update(w, x):
  count = w.count + 1
  delta = x - w.mean
  mean = w.mean + delta / count
  if w.m2.ndim == 2:
    m2 = w.m2 + jnp.outer(x - mean, delta)
  else:
    m2 = w.m2 + (x - mean) * delta
  return Welford(count, mean, m2)


def welford_update_batch(w, batch):
  """Adds the rows of `batch` [n, k] to a diagonal Welford estimate at once
  (the pairwise merge of Chan, Golub & LeVeque 1979)."""
  n = batch.shape[0]
  mean_b = jnp.mean(batch, 0)
  m2_b = jnp.sum((batch - mean_b)**2, 0)
  count = w.count + n
  delta = mean_b - w.mean
  return Welford(count, w.mean + delta * (n / count),
                 w.m2 + m2_b + delta**2 * (w.count * n / count))


def welford_inverse_mass(w):
  """Stan's regularised (co)variance estimate: the new M^{-1}."""
  n = w.count
  cov = w.m2 / jnp.maximum(n - 1, 1)
  eye = jnp.eye(cov.shape[0], dtype=cov.dtype) if cov.ndim == 2 else 1.0
  return (n / (n + 5.0)) * cov + 1e-3 * (5.0 / (n + 5.0)) * eye


class AdaptationState(NamedTuple):
  dual: DualAveraging
  welford: Welford
  inverse_mass: jax.Array


def find_reasonable_step_size(rng, state, step_fn, inverse_mass, step_size=1.0,
                              target=0.5, max_iters=40):
  """Doubles or halves the step size until one HMC-like step's acceptance
  crosses `target` (Hoffman & Gelman 2014, Algorithm 4)."""
  def accept(eps, key):
    _, info = step_fn(key, state, eps, inverse_mass)
    return info.acceptance_prob

  a0 = accept(step_size, rng)
  up = a0 > target
  factor = jnp.where(up, 2.0, 0.5)

  def cond(c):
    eps, i, a = c
    return (i < max_iters) & jnp.where(up, a > target, a <= target)

  def body(c):
    eps, i, _ = c
    eps = eps * factor
    return eps, i + 1, accept(eps, jax.random.fold_in(rng, i + 1))

  eps, _, _ = jax.lax.while_loop(cond, body, (jnp.asarray(step_size), 0, a0))
  # Back off the last doubling so the first iterations are stable.
  return jnp.where(up, eps / 2.0, eps)


def run_warmup(rng, state, step_fn: Callable, num_warmup: int, dense=False,
               target_accept=0.8, initial_step_size=1.0,
               initial_inverse_mass=None):
  """Window adaptation for one chain.

  Args:
    step_fn: (rng, state, step_size, inverse_mass) -> (state, info), a
      kernel with everything but its tuning parameters bound.
    initial_step_size: where the step-size heuristic starts (Stan does the
      same with a user's step size).
    initial_inverse_mass: the metric until the first slow window ends
      ([d] if not dense, else [d, d]; default the identity). With fewer than
      20 warm-up iterations there is no slow window and it is kept.
  Returns:
    (final state, step size, inverse mass matrix, per-iteration info).
  """
  dim = state.position.shape[0]
  dtype = state.position.dtype
  if initial_inverse_mass is None:
    inv_mass0 = jnp.eye(dim, dtype=dtype) if dense else jnp.ones(dim, dtype)
  else:
    inv_mass0 = jnp.asarray(initial_inverse_mass, dtype)
  init_rng, rng = jax.random.split(rng)
  eps0 = find_reasonable_step_size(init_rng, state, step_fn, inv_mass0,
                                   initial_step_size)
  slow, ends = window_schedule(num_warmup)
  adapt = AdaptationState(dual_averaging_init(eps0),
                          welford_init(dim, dense, dtype), inv_mass0)

  def body(carry, xs):
    state, adapt = carry
    key, in_slow, window_end = xs
    step_size = jnp.exp(adapt.dual.log_step)
    state, info = step_fn(key, state, step_size, adapt.inverse_mass)
    dual = dual_averaging_update(adapt.dual, info.acceptance_prob,
                                 target_accept)
    welford = jax.tree.map(
        lambda new, old: jnp.where(in_slow, new, old),
        welford_update(adapt.welford, state.position), adapt.welford)
    # At the end of a slow window: new metric, fresh statistics, and dual
    # averaging restarted from the current (averaged) step size.
    inverse_mass = jnp.where(window_end, welford_inverse_mass(welford),
                             adapt.inverse_mass)
    restarted = dual_averaging_init(jnp.exp(dual.log_step_avg))
    dual = jax.tree.map(lambda r, d: jnp.where(window_end, r, d), restarted,
                        dual)
    welford = jax.tree.map(lambda f, w: jnp.where(window_end, f, w),
                           welford_init(dim, dense, dtype), welford)
    return (state, AdaptationState(dual, welford, inverse_mass)), info

  keys = jax.random.split(rng, num_warmup)
  (state, adapt), infos = jax.lax.scan(
      body, (state, adapt), (keys, jnp.asarray(slow), jnp.asarray(ends)))
  return state, jnp.exp(adapt.dual.log_step_avg), adapt.inverse_mass, infos


# ----------------------------------------------------------------------------
# Adaptation from draws and gradients (nutpie; Seyboldt, Carlson & Carpenter,
# "If only my posterior were normal: Fisher-informed HMC", 2025, and PyMC's
# nutpie sampler).
#
# For a Gaussian target N(mu, Sigma) the gradient g = -Sigma^{-1}(x - mu) has
# Cov(g) = Sigma^{-1}, so Var(x) and 1 / Var(g) both estimate the diagonal
# metric; nutpie takes their geometric mean, sqrt(Var(x) / Var(g)), the
# diagonal that minimises the Fisher divergence between the target and the
# preconditioned standard normal. Every draw brings d values of each, so the
# estimate settles after tens of draws where Stan's needs hundreds, and the
# metric is refreshed after every draw from a "foreground" estimator while a
# "background" one collects the draws since the last switch; at a switch the
# background becomes the foreground and a fresh background starts (every 10
# draws in the first 30% of the warm-up, every 80 later), so early draws far
# from the typical set are forgotten. The last 15% tunes the step size only.


def nutpie_schedule(num_warmup, early_window=0.3, step_size_window=0.15,
                    early_switch=10, switch=80):
  """Per-iteration (adapt_mass, switch, restart) boolean arrays.

  adapt_mass[i]: draw i enters the estimators and the metric is refreshed;
  switch[i]: after draw i the background estimator replaces the foreground
  one (only where at least `switch` draws remain before the step-size-only
  window, as in nutpie); restart[i]: dual averaging restarts after draw i
  (at the start of the final step-size-only window).
  """
  final = num_warmup - int(step_size_window * num_warmup)
  early_end = int(early_window * num_warmup)
  adapt = np.arange(num_warmup) < final
  switches = np.zeros(num_warmup, bool)
  background = 1  # The starting point is the first entry.
  for i in range(final):
    background += 1
    freq = early_switch if i < early_end else switch
    if background >= freq and freq + i <= final:
      switches[i] = True
      background = 0
  restart = np.zeros(num_warmup, bool)
  if 0 < final < num_warmup:
    restart[final - 1] = True
  return adapt, switches, restart


def draw_grad_inverse_mass(w, previous):
  """sqrt(Var(x) / Var(g)) from a Welford over [x, g] (2d entries); where it
  is not a positive finite number (fewer than 3 entries, a coordinate that
  never moved or a constant gradient) the previous value is kept."""
  dim = previous.shape[0]
  var = w.m2 / jnp.maximum(w.count - 1, 1)
  new = jnp.sqrt(var[:dim] / var[dim:])
  ok = (w.count >= 3) & jnp.isfinite(new) & (new > 0)
  return jnp.where(ok, new, previous)


def gradient_inverse_mass(grad):
  """nutpie's first metric, 1 / |g| at the starting point (1 where g is 0
  or not finite): for N(0, s^2) started a typical distance away, |g| ~ 1/s."""
  inv = 1.0 / jnp.abs(grad)
  return jnp.where(jnp.isfinite(inv) & (inv > 0), inv, 1.0)


# A dense estimate is taken over a diagonal one only where it lowers the
# Fisher loss by this fraction; a Gaussian with diagonal covariance ties.
DENSE_GAIN = 0.02


def dense_draw_grad_inverse_mass(cov_x, cov_g, choose=False):
  """The dense metric (Cov x) # (Cov g)^{-1}, the SPD geometric mean of the
  draws' covariance and the inverse of the gradients' (Seyboldt et al.,
  Theorem 2.3): it minimises the sample Fisher divergence
  L(S) = tr(S Cov g) + tr(S^{-1} Cov x) between the preconditioned target
  and N(0, I), and for a Gaussian it is the covariance exactly, on any
  full-rank sample (Cov g = S^{-1} Cov x S^{-1} there).

  Computed after scaling by the diagonal estimate D = sqrt(diag Cov x /
  diag Cov g) (the mean is congruence-invariant; this keeps the two
  eigendecompositions well conditioned in float32). With `choose`, returns
  diag(D) instead unless the dense metric lowers L by `DENSE_GAIN`.
  """
  scale = jnp.sqrt(jnp.sqrt(jnp.diag(cov_x) / jnp.diag(cov_g)))  # D^{1/2}
  a = cov_x / jnp.outer(scale, scale)
  b = cov_g * jnp.outer(scale, scale)
  eig_b, vec_b = jnp.linalg.eigh(b)
  eig_b = jnp.maximum(eig_b, 1e-12 * jnp.max(eig_b))
  b_half = (vec_b * jnp.sqrt(eig_b)) @ vec_b.T
  b_inv_half = (vec_b / jnp.sqrt(eig_b)) @ vec_b.T
  eig_c, vec_c = jnp.linalg.eigh(b_half @ a @ b_half)
  root_c = jnp.sqrt(jnp.maximum(eig_c, 0.0))
  mean = b_inv_half @ ((vec_c * root_c) @ vec_c.T) @ b_inv_half
  dense = jnp.outer(scale, scale) * 0.5 * (mean + mean.T)
  if not choose:
    return dense
  # In the scaled space the diagonal metric is I, so L_diag = tr a + tr b,
  # and at the geometric mean L_dense = 2 tr((a b)^{1/2}) = 2 sum sqrt(c).
  better = 2 * jnp.sum(root_c) < (1 - DENSE_GAIN) * (jnp.trace(a) +
                                                     jnp.trace(b))
  return jnp.where(better, dense, jnp.diag(scale**2))


class DrawGradState(NamedTuple):
  dual: DualAveraging
  foreground: Welford  # Over [x, g]: 2d entries (a [2d, 2d] m2 if dense).
  background: Welford
  inverse_mass: jax.Array


def run_nutpie_warmup(rng, state, step_fn: Callable, num_warmup: int,
                      dense=False, target_accept=0.8, initial_step_size=1.0,
                      initial_inverse_mass=None):
  """nutpie's adaptation for one chain, with `run_warmup`'s arguments and
  returns. The metric starts at 1 / |g| (or the given one) and is
  re-estimated from draws and gradients, and dual averaging tunes the step
  size throughout (restarted for the final step-size-only window, whose
  averaged step size is returned).

  dense: False, a diagonal metric refreshed after every draw; True, the
  dense geometric mean (`dense_draw_grad_inverse_mass`), refreshed every
  10 draws once the foreground has more than d + 1 entries (the diagonal
  one, as a matrix, before); 'auto', the same but dense only where that
  lowers the Fisher loss by `DENSE_GAIN`.
  """
  dim = state.position.shape[0]
  dtype = state.position.dtype
  as_matrix = bool(dense)
  if initial_inverse_mass is None:
    inv_mass0 = gradient_inverse_mass(state.logdensity_grad).astype(dtype)
    inv_mass0 = jnp.diag(inv_mass0) if as_matrix else inv_mass0
  else:
    inv_mass0 = jnp.asarray(initial_inverse_mass, dtype)
  init_rng, rng = jax.random.split(rng)
  eps0 = find_reasonable_step_size(init_rng, state, step_fn, inv_mass0,
                                   initial_step_size)
  empty = welford_init(2 * dim, as_matrix, dtype)
  first = welford_update(empty, jnp.concatenate([state.position,
                                                 state.logdensity_grad]))
  adapt_mass, switches, restarts = nutpie_schedule(num_warmup)
  refresh = adapt_mass & ((np.arange(num_warmup) % 10 == 9) | switches)

  def dense_metric(fore, previous):
    cov = fore.m2 / jnp.maximum(fore.count - 1, 1)
    cov_x, cov_g = cov[:dim, :dim], cov[dim:, dim:]
    diagonal = draw_grad_inverse_mass(
        fore._replace(m2=jnp.diag(fore.m2)), jnp.diag(previous))
    full = dense_draw_grad_inverse_mass(cov_x, cov_g, choose=dense == 'auto')
    ok = (fore.count > dim + 1) & jnp.all(jnp.isfinite(full))
    return jnp.where(ok, full, jnp.diag(diagonal))

  def body(carry, xs):
    state, adapt = carry
    key, adapting, switch, refresh_now, restart = xs
    state, info = step_fn(key, state, jnp.exp(adapt.dual.log_step),
                          adapt.inverse_mass)
    dual = dual_averaging_update(adapt.dual, info.acceptance_prob,
                                 target_accept)
    entry = jnp.concatenate([state.position, state.logdensity_grad])
    keep = lambda new, old: jax.tree.map(
        lambda n, o: jnp.where(adapting, n, o), new, old)
    fore = keep(welford_update(adapt.foreground, entry), adapt.foreground)
    back = keep(welford_update(adapt.background, entry), adapt.background)
    # At a switch the background becomes the foreground; a fresh one starts.
    fore = jax.tree.map(lambda b, f: jnp.where(switch, b, f), back, fore)
    back = jax.tree.map(lambda e, b: jnp.where(switch, e, b), empty, back)
    if as_matrix:  # Two eigendecompositions: only every 10 draws (a real
      # branch, the flags being the same for every chain).
      inverse_mass = jax.lax.cond(refresh_now, dense_metric,
                                  lambda f, p: p, fore, adapt.inverse_mass)
    else:
      inverse_mass = jnp.where(
          adapting, draw_grad_inverse_mass(fore, adapt.inverse_mass),
          adapt.inverse_mass)
    # The final window tunes the step size to the final metric afresh.
    dual = jax.tree.map(lambda r, d: jnp.where(restart, r, d),
                        dual_averaging_init(jnp.exp(dual.log_step)), dual)
    return (state, DrawGradState(dual, fore, back, inverse_mass)), info

  keys = jax.random.split(rng, num_warmup)
  adapt = DrawGradState(dual_averaging_init(eps0), first, first, inv_mass0)
  (state, adapt), infos = jax.lax.scan(
      body, (state, adapt), (keys, jnp.asarray(adapt_mass),
                             jnp.asarray(switches), jnp.asarray(refresh),
                             jnp.asarray(restarts)))
  return state, jnp.exp(adapt.dual.log_step_avg), adapt.inverse_mass, infos


ADAPTATIONS = {'stan': run_warmup, 'nutpie': run_nutpie_warmup}
