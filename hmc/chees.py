"""ChEES-HMC: jittered static HMC for many chains at once, its trajectory
length tuned across the chains (Hoffman, Radul & Sountsov 2021, "An
adaptive-MCMC scheme for setting trajectory lengths in Hamiltonian Monte
Carlo", AISTATS, PMLR 130).

NUTS picks a trajectory per chain, and vmapped chains wait for the longest
tree; ChEES-HMC gives every chain the same number of leapfrog steps in an
iteration, which is what a GPU (or a wide CPU vector) runs at full speed.

* Trajectory length T: stochastic gradient ascent (Adam on log T) on the
  Change in the Estimator of the Expected Square,
  ChEES = E[(|x' - E x|^2 - |x - E x|^2)^2] / 4, estimated across chains and
  weighted by each chain's acceptance probability (paper, Sec. 3-4), in the
  coordinates the metric whitens. Adam's iterate moves freely; a moving
  average of it (weights i^-1/2) gives the T the draws use, as in TFP.
  Averaged over the jitter, ChEES is nearly flat past its first maximum
  (T ~ 2.3 in whitened units) with shallow local maxima beyond, so an
  early overshoot must be able to come back: averaging the iterate itself
  (as BlackJAX does) left T at 11.7 on an 8-d Gaussian.
* Jitter: iteration i integrates for u_i T with u_i the base-2 Halton point
  of i (quasi-random, shared by all chains), so ceil(u_i T / eps) steps.
* Step size: dual averaging of the harmonic mean of the chains' acceptance
  probabilities towards 0.651 (the optimum of Beskos et al. 2013,
  arXiv:1001.4460); the harmonic mean lets no chain get stuck.
* Metric (diagonal, shared): the same two estimators as the per-chain
  warm-ups (hmc/adaptation.py), pooled over all chains: 'stan' (draw
  variances over doubling windows) or 'nutpie' (sqrt(Var x / Var g),
  refreshed every iteration).

`sample` runs warm-up and draws for all chains in one function of
`lax.scan`s; `hmc.sampling.run_chains(kernel='chees')` is the entry point.
"""
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from hmc import adaptation
from hmc import kernel as kernel_lib
from hmc import nutpie

TARGET_ACCEPT = 0.651
# Adam without momentum on log T at TFP's rate, 0.025, but with a short
# memory of squared gradients (TFP's 0.95 let one early outlier, a gradient
# 70x the typical one at a step size dual averaging tried in iteration 2,
# freeze T for ~100 iterations); at 0.5 the steps are close to sign
# steps of 0.025, robust to the first iterations' wild gradients.
LEARNING_RATE = 0.025
SQUARED_GRAD_DECAY = 0.5
MAX_LOG_UPDATE = 0.35  # At most x1.42 per iteration, as TFP clips it.
MAX_STEPS = 1000       # Leapfrog steps per iteration at most.


def halton(i, bits=32):
  """The base-2 Halton (van der Corput) point of the integer i, in [0, 1)."""
  def body(_, c):
    x, f, n = c
    return x + f * (n & 1), f / 2, n >> 1
  init = (jnp.zeros((), jnp.float32), jnp.float32(0.5), jnp.asarray(i))
  return jax.lax.fori_loop(0, bits, body, init)[0]


def chees_gradient(x0, x1, p1, accept_prob, ok, inverse_mass, length):
  """The acceptance-weighted estimate of d ChEES / d log T from one
  iteration: x0, x1, p1 [chains, d] (starts, proposals and their momenta),
  accept_prob and ok [chains] (ok: finite, not divergent), `length` the
  integration time t of the iteration (u T, rounded up to whole steps).

  Per chain, along the flow, d/d log T of (|z' - m|^2 - |z - m|^2)^2 / 4 is
  t (|z' - m|^2 - |z - m|^2) (z' - m) . v'. Coordinates are whitened by the
  diagonal metric, z = x / sqrt(M^{-1}), where the velocity is
  p sqrt(M^{-1}); m, the mean of the chains' expected next states, is held
  fixed as in the paper.
  """
  weight = jnp.where(ok, accept_prob, 0.0)
  x1 = jnp.where(ok[:, None], x1, x0)
  p1 = jnp.where(ok[:, None], p1, 0.0)
  w = weight[:, None]
  center = jnp.mean(w * x1 + (1 - w) * x0, axis=0)
  scale = jnp.sqrt(inverse_mass)
  z0, z1 = (x0 - center) / scale, (x1 - center) / scale
  per_chain = (length * (jnp.sum(z1**2, -1) - jnp.sum(z0**2, -1))
               * jnp.sum(z1 * p1 * scale, -1))
  return jnp.sum(weight * per_chain) / jnp.maximum(jnp.sum(weight), 1e-20)


def harmonic_mean_accept(accept_prob, ok):
  """Harmonic mean of the acceptance probabilities of the finite, non-
  divergent transitions (0 when there are none)."""
  inv = jnp.where(ok, 1.0 / jnp.maximum(accept_prob, 1e-10), 0.0)
  count = jnp.sum(ok)
  return jnp.where(count > 0, count / jnp.maximum(jnp.sum(inv), 1e-20), 0.0)


class ChEESState(NamedTuple):
  dual: adaptation.DualAveraging
  log_length: jax.Array       # log T, Adam's iterate (used in warm-up).
  log_length_avg: jax.Array   # Its moving average (used for the draws).
  optimizer: optax.OptState
  foreground: adaptation.Welford
  background: adaptation.Welford
  inverse_mass: jax.Array     # [d], shared by every chain.


def _transition(rng, states, value_and_grad, step_size, inverse_mass,
                num_steps):
  """One jittered-HMC iteration of every chain with the same step size,
  metric and number of steps; also returns the proposals (for ChEES)."""
  mom_keys, acc_keys = jnp.split(jax.random.split(rng, 2 * len(
      states.position)), 2)
  propose = lambda k, s: kernel_lib.hmc_proposal(
      k, s, value_and_grad, step_size, inverse_mass, num_steps)
  end, energy0, energy1 = jax.vmap(propose)(mom_keys, states)
  accept = lambda k, s, e, h0, h1: kernel_lib.metropolis_hastings(
      k, s, e, h0, h1, num_steps)
  new, info = jax.vmap(accept)(acc_keys, states, end, energy0, energy1)
  return new, info, end


def sample(rng, value_and_grad: Callable, positions, num_warmup: int,
           num_draws: int, metric='stan', target_accept=TARGET_ACCEPT,
           initial_step_size=None, initial_inverse_mass=None):
  """Warm-up and draws of ChEES-HMC for all chains.

  Args:
    value_and_grad: flat position [d] -> (log density, gradient).
    positions: [chains, d] starting points (chains >= 2).
    metric: 'stan' or 'nutpie', the pooled diagonal-metric estimator.
    initial_step_size: where the step-size search starts (default 1).
    initial_inverse_mass: [d], the metric until the first estimate (default
      the identity for 'stan'; the pooled estimate from the starting points
      and their gradients for 'nutpie').
  Returns:
    (draws [chains, draws, d], info and warm-up info [chains, iterations],
     step size, trajectory length, inverse mass [d]).
  """
  chains, dim = positions.shape
  dtype = positions.dtype
  states = jax.vmap(lambda x: kernel_lib.init(x, value_and_grad))(positions)
  entries = lambda s: (jnp.concatenate([s.position, s.logdensity_grad], -1)
                       if metric == 'nutpie' else s.position)
  width = 2 * dim if metric == 'nutpie' else dim
  empty = adaptation.welford_init(width, False, dtype)
  if metric == 'nutpie':
    first = adaptation.welford_update_batch(empty, entries(states))
    fallback = jnp.exp(jnp.mean(jnp.log(jax.vmap(
        nutpie.gradient_inverse_mass)(states.logdensity_grad)), 0))
    inv_mass0 = nutpie.draw_grad_inverse_mass(first, fallback)
    in_window, window_end, restart = nutpie.nutpie_schedule(num_warmup)
  else:
    first = empty
    inv_mass0 = jnp.ones(dim, dtype)
    in_window, window_end = adaptation.window_schedule(num_warmup)
    restart = window_end
  if initial_inverse_mass is not None:
    inv_mass0 = jnp.asarray(initial_inverse_mass, dtype)

  # The step-size search of Hoffman & Gelman (2014) on one-step HMC, per
  # chain; the chains start from its median.
  one_step = lambda k, s, eps, m: kernel_lib.hmc_step(k, s, value_and_grad,
                                                      eps, m, 1)
  search_key, warm_key, draw_key = jax.random.split(rng, 3)
  eps0 = jnp.median(jax.vmap(
      lambda k, s: adaptation.find_reasonable_step_size(
          k, s, one_step, inv_mass0,
          1.0 if initial_step_size is None else initial_step_size))(
              jax.random.split(search_key, chains), states))
  optimizer = optax.adam(LEARNING_RATE, b1=0.0, b2=SQUARED_GRAD_DECAY)
  log_length0 = jnp.log(eps0)  # One step to begin with.
  adapt = ChEESState(adaptation.dual_averaging_init(eps0), log_length0,
                     log_length0, optimizer.init(log_length0), first, first,
                     inv_mass0)

  def num_steps(u, length, step_size):
    return jnp.clip(jnp.ceil(u * length / step_size), 1, MAX_STEPS).astype(
        jnp.int32)

  def warm_body(carry, xs):
    states, adapt = carry
    key, i, adapting, switch, restart_now = xs
    step_size = jnp.exp(adapt.dual.log_step)
    length = jnp.exp(adapt.log_length)
    steps = num_steps(halton(i + 1), length, step_size)
    new, info, end = _transition(key, states, value_and_grad, step_size,
                                 adapt.inverse_mass, steps)
    ok = ~info.is_divergent & jnp.all(jnp.isfinite(end.position), -1)
    dual = adaptation.dual_averaging_update(
        adapt.dual, harmonic_mean_accept(info.acceptance_prob, ok),
        target_accept)
    # Ascend ChEES in log T (optax minimises, hence the sign), clipped. The
    # integration time is what the whole steps ran (u T rounded up).
    grad = chees_gradient(states.position, end.position, end.momentum,
                          info.acceptance_prob, ok, adapt.inverse_mass,
                          steps * step_size)
    update, opt = optimizer.update(-grad, adapt.optimizer, adapt.log_length)
    proposed = adapt.log_length + jnp.clip(update, -MAX_LOG_UPDATE,
                                           MAX_LOG_UPDATE)
    good = jnp.isfinite(proposed)
    proposed = jnp.where(good, proposed, adapt.log_length)
    opt = jax.tree.map(lambda a, b: jnp.where(good, a, b), opt,
                       adapt.optimizer)
    # Only capped above: a floor at the step size would drag T up with the
    # large step sizes a dual-averaging restart tries first.
    log_length = jnp.minimum(proposed,
                             jnp.log(MAX_STEPS) + dual.log_step)
    # The draws use a moving average (weights i^-1/2), as TFP does: the
    # iterate itself stays free to move (averaging it would slow Adam to a
    # crawl after an early overshoot).
    weight = (i + 1.0)**-0.5
    log_length_avg = (1 - weight) * adapt.log_length_avg + weight * log_length
    # The pooled metric estimate.
    keep = lambda new_w, old_w: jax.tree.map(
        lambda n, o: jnp.where(adapting, n, o), new_w, old_w)
    fore = keep(adaptation.welford_update_batch(adapt.foreground,
                                                entries(new)),
                adapt.foreground)
    back = keep(adaptation.welford_update_batch(adapt.background,
                                                entries(new)),
                adapt.background)
    if metric == 'nutpie':  # Switch, then refresh from the foreground.
      fore = jax.tree.map(lambda b, f: jnp.where(switch, b, f), back, fore)
      back = jax.tree.map(lambda e, b: jnp.where(switch, e, b), empty, back)
      inverse_mass = jnp.where(adapting, nutpie.draw_grad_inverse_mass(
          fore, adapt.inverse_mass), adapt.inverse_mass)
    else:  # Stan: a new metric at each window's end, then fresh statistics.
      inverse_mass = jnp.where(switch, adaptation.welford_inverse_mass(fore),
                               adapt.inverse_mass)
      fore = jax.tree.map(lambda e, f: jnp.where(switch, e, f), empty, fore)
    dual = jax.tree.map(
        lambda r, d: jnp.where(restart_now, r, d),
        adaptation.dual_averaging_init(jnp.exp(dual.log_step_avg)), dual)
    return (new, ChEESState(dual, log_length, log_length_avg, opt, fore,
                            back, inverse_mass)), info

  (states, adapt), warm_info = jax.lax.scan(
      warm_body, (states, adapt),
      (jax.random.split(warm_key, num_warmup), jnp.arange(num_warmup),
       jnp.asarray(in_window), jnp.asarray(window_end), jnp.asarray(restart)))
  step_size = jnp.exp(adapt.dual.log_step_avg) if num_warmup else eps0
  length = jnp.minimum(jnp.exp(adapt.log_length_avg), MAX_STEPS * step_size)
  inverse_mass = adapt.inverse_mass

  def draw_body(states, xs):
    key, i = xs
    steps = num_steps(halton(num_warmup + i + 1), length, step_size)
    states, info, _ = _transition(key, states, value_and_grad, step_size,
                                  inverse_mass, steps)
    return states, (states.position, info)

  _, (draws, info) = jax.lax.scan(
      draw_body, states, (jax.random.split(draw_key, num_draws),
                          jnp.arange(num_draws)))
  chains_first = lambda tree: jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1),
                                           tree)
  return (chains_first(draws), chains_first(info), chains_first(warm_info),
          step_size, length, inverse_mass)
