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

`window_schedule` is numpy (static). A warm-up is a `Scheme` of pure
functions (`stan_scheme` here, `nutpie.nutpie_scheme` for nutpie's); one
driver, `adapt_and_sample`, runs warm-up and draws of one chain as a single
`lax.scan` (vmap it over chains), and `run_warmup` runs the warm-up alone.
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


class Scheme(NamedTuple):
  """A warm-up scheme for one chain as pure functions, so that warm-up and
  draws can run as one `lax.scan` with one compiled copy of the kernel
  (`adapt_and_sample`), or warm-up alone (`run_warmup`).

    init(rng, state, search_fn) -> carry: the starting step size (the
      search of Hoffman & Gelman's Algorithm 4 with `search_fn`) and metric;
    params(carry) -> (step size, inverse mass) of the next warm-up step;
    update(carry, state, info, flags) -> carry after a warm-up step, with
      `flags` the schedule's row for that iteration;
    final(carry) -> (step size, inverse mass) for the draws;
    schedule: [num_warmup, k] static booleans (numpy).
  """
  init: Callable
  params: Callable
  update: Callable
  final: Callable
  schedule: np.ndarray


def stan_scheme(num_warmup, dim, dtype=jnp.float32, dense=False,
                target_accept=0.8, initial_step_size=1.0,
                initial_inverse_mass=None) -> Scheme:
  """Stan's window adaptation (module docstring).

  initial_step_size: where the step-size search starts (Stan does the same
    with a user's step size).
  initial_inverse_mass: the metric until the first slow window ends ([d] if
    not dense, else [d, d]; default the identity). With fewer than 20
    warm-up iterations there is no slow window and it is kept.
  """
  if initial_inverse_mass is None:
    inv_mass0 = jnp.eye(dim, dtype=dtype) if dense else jnp.ones(dim, dtype)
  else:
    inv_mass0 = jnp.asarray(initial_inverse_mass, dtype)
  slow, ends = window_schedule(num_warmup)

  def init(rng, state, search_fn):
    eps0 = find_reasonable_step_size(rng, state, search_fn, inv_mass0,
                                     initial_step_size)
    return AdaptationState(dual_averaging_init(eps0),
                           welford_init(dim, dense, dtype), inv_mass0)

  def update(adapt, state, info, flags):
    in_slow, window_end = flags[0], flags[1]
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
    return AdaptationState(dual, welford, inverse_mass)

  return Scheme(init,
                lambda a: (jnp.exp(a.dual.log_step), a.inverse_mass),
                update,
                lambda a: (jnp.exp(a.dual.log_step_avg), a.inverse_mass),
                np.stack([slow, ends], 1))


def run_warmup(rng, state, step_fn: Callable, scheme: Scheme,
               search_fn=None):
  """Warm-up alone for one chain (vmap it over chains).

  Args:
    step_fn: (rng, state, step_size, inverse_mass) -> (state, info), a
      kernel with everything but its tuning parameters bound.
    scheme: `stan_scheme(...)` or `nutpie.nutpie_scheme(...)`.
    search_fn: the step the step-size search tries (default `step_fn`;
      `run_chains` gives one leapfrog step, as Algorithm 4 has it).
  Returns:
    (final state, step size, inverse mass matrix, per-iteration info).
  """
  init_rng, rng = jax.random.split(rng)
  carry = scheme.init(init_rng, state, search_fn or step_fn)

  def body(c, xs):
    state, carry = c
    key, flags = xs
    state, info = step_fn(key, state, *scheme.params(carry))
    return (state, scheme.update(carry, state, info, flags)), info

  num_warmup = scheme.schedule.shape[0]
  (state, carry), infos = jax.lax.scan(
      body, (state, carry), (jax.random.split(rng, num_warmup),
                             jnp.asarray(scheme.schedule)))
  return (state, *scheme.final(carry), infos)


def adapt_and_sample(rng, state, step_fn: Callable, search_fn: Callable,
                     scheme: Scheme, num_draws: int):
  """Warm-up and draws of one chain as one `lax.scan`: the kernel is traced
  and compiled once, not once for warm-up and again for the draws (what
  makes a sampler's compile time). The scheme updates only in warm-up; the
  draws use its final step size and metric.

  Returns:
    (draws [num_draws, d], their info, warm-up info, step size, inverse
    mass).
  """
  num_warmup = scheme.schedule.shape[0]
  init_rng, rng = jax.random.split(rng)
  carry = scheme.init(init_rng, state, search_fn)
  flags = np.concatenate([scheme.schedule, np.zeros(
      (num_draws, scheme.schedule.shape[1]), bool)])
  warm = np.arange(num_warmup + num_draws) < num_warmup

  def body(c, xs):
    state, carry = c
    key, is_warm, flags = xs
    # Real branches: `is_warm` is the same for every chain, so under vmap
    # the draws skip the scheme's work instead of computing and discarding
    # it (a third of an iteration of static HMC on a cheap target).
    params = jax.lax.cond(is_warm, scheme.params, scheme.final, carry)
    state, info = step_fn(key, state, *params)
    update = lambda c: jax.tree.map(  # The carry keeps its dtypes (x64).
        lambda n, o: n.astype(o.dtype), scheme.update(c, state, info, flags),
        c)
    carry = jax.lax.cond(is_warm, update, lambda c: c, carry)
    return (state, carry), (state.position, info)

  (_, carry), (positions, infos) = jax.lax.scan(
      body, (state, carry),
      (jax.random.split(rng, num_warmup + num_draws), jnp.asarray(warm),
       jnp.asarray(flags)))
  split = lambda tree, part: jax.tree.map(lambda a: a[part], tree)
  return (positions[num_warmup:], split(infos, slice(num_warmup, None)),
          split(infos, slice(0, num_warmup)), *scheme.final(carry))

