"""MCMC kernels in functional form: HMC, NUTS and random-walk Metropolis.

Each kernel is a pair of pure functions on flat position vectors,

  init(position, logdensity_and_grad)                  -> State
  step(rng, state, logdensity_and_grad, params...)     -> (State, Info)

with NamedTuple state and info and no jit inside (the caller jits a
`lax.scan` over steps and `vmap`s over chains; hmc/sampling.py does both).

* HMC (Neal 2011, arXiv:1206.1901): fresh momentum p ~ N(0, M) every
  iteration, L leapfrog steps, Metropolis-Hastings on the change in H.
* NUTS (Hoffman & Gelman 2014, arXiv:1111.4246) in its modern form
  (Betancourt 2017, arXiv:1701.02434, App. A): the trajectory doubles in a
  random direction until the generalised no-U-turn criterion fires at any
  sub-tree level or the maximum depth is hit; the draw is multinomial over
  the trajectory's states (biased progressive sampling between sub-trees,
  uniform within). Sub-trees are built iteratively in `lax.while_loop`s with
  per-level momentum checkpoints (the scheme of NumPyro's iterative NUTS,
  Phan et al. 2019, arXiv:1912.11554).
* Random-walk Metropolis-Hastings with a Gaussian proposal: the baseline.

A non-finite log-density or an energy error above `max_energy_error` marks
the transition divergent; it is rejected and counted, never a crash.
"""
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from hmc import integrators
from hmc.integrators import IntegratorState, Metric


class State(NamedTuple):
  position: jax.Array
  logdensity: jax.Array
  logdensity_grad: jax.Array


class Info(NamedTuple):
  acceptance_prob: jax.Array  # Mean MH acceptance statistic of the step.
  is_accepted: jax.Array
  is_divergent: jax.Array
  energy: jax.Array           # H at the new state.
  num_grad_evals: jax.Array
  tree_depth: jax.Array       # 0 for HMC and random walk.


def init(position, logdensity_and_grad: Callable) -> State:
  logdensity, grad = logdensity_and_grad(position)
  return State(position, logdensity, grad)


def _energy(metric, logdensity, momentum):
  return -logdensity + metric.kinetic_energy(momentum)


def _finite_or_inf(energy):
  return jnp.where(jnp.isnan(energy), jnp.inf, energy)


def mh_accept_prob(energy_old, energy_new):
  """min(1, exp(H_old - H_new)); 0 when the new energy is not finite."""
  delta = _finite_or_inf(energy_new) - energy_old
  return jnp.where(jnp.isfinite(delta), jnp.exp(jnp.minimum(0.0, -delta)), 0.0)


# ----------------------------------------------------------------------------
# HMC.


def hmc_proposal(rng, state: State, logdensity_and_grad: Callable, step_size,
                 inverse_mass, num_steps):
  """The end of `num_steps` leapfrog steps from a fresh momentum p ~ N(0, M),
  with H at the start and at the end (+inf where not finite). `num_steps`
  may be traced (ChEES-HMC draws it every iteration)."""
  metric = Metric(inverse_mass)
  p0 = metric.sample_momentum(rng, state.position)
  start = IntegratorState(state.position, p0, state.logdensity,
                          state.logdensity_grad)
  end = integrators.leapfrog(logdensity_and_grad, metric, start, step_size,
                             num_steps)
  energy0 = _energy(metric, state.logdensity, p0)
  # Negating p at the end makes the proposal an involution; K is even in p,
  # so the negation does not change the energy and is left implicit.
  energy1 = _finite_or_inf(_energy(metric, end.logdensity, end.momentum))
  return end, energy0, energy1


def metropolis_hastings(rng, state: State, end: IntegratorState, energy0,
                        energy1, num_steps, max_energy_error=1000.0):
  """Accepts `end` with probability min(1, exp(H0 - H1)); an energy error
  above `max_energy_error` (or a non-finite one) is a rejected divergence."""
  accept_prob = mh_accept_prob(energy0, energy1)
  divergent = ~(energy1 - energy0 <= max_energy_error)
  accepted = (jax.random.uniform(rng) < accept_prob) & ~divergent
  new = State(*[jnp.where(accepted, a, b) for a, b in zip(
      (end.position, end.logdensity, end.logdensity_grad), state)])
  energy = jnp.where(accepted, energy1, energy0)
  return new, Info(accept_prob, accepted, divergent, energy,
                   jnp.asarray(num_steps), jnp.asarray(0))


def hmc_step(rng, state: State, logdensity_and_grad: Callable, step_size,
             inverse_mass, num_steps: int, max_energy_error=1000.0):
  """One HMC transition with a fixed number of leapfrog steps."""
  mom_rng, acc_rng = jax.random.split(rng)
  end, energy0, energy1 = hmc_proposal(mom_rng, state, logdensity_and_grad,
                                       step_size, inverse_mass, num_steps)
  return metropolis_hastings(acc_rng, state, end, energy0, energy1,
                             num_steps, max_energy_error)


# ----------------------------------------------------------------------------
# Random-walk Metropolis-Hastings.


def rwmh_step(rng, state: State, logdensity_fn: Callable, scale):
  """Gaussian random walk q' = q + scale * eps; symmetric, so the Hastings
  ratio is pi(q') / pi(q). `state.logdensity_grad` is carried unused."""
  prop_rng, acc_rng = jax.random.split(rng)
  proposal = state.position + scale * jax.random.normal(
      prop_rng, state.position.shape, state.position.dtype)
  logdensity = logdensity_fn(proposal)
  log_ratio = jnp.where(jnp.isnan(logdensity), -jnp.inf,
                        logdensity - state.logdensity)
  accept_prob = jnp.exp(jnp.minimum(0.0, log_ratio))
  accepted = jax.random.uniform(acc_rng) < accept_prob
  new = State(jnp.where(accepted, proposal, state.position),
              jnp.where(accepted, logdensity, state.logdensity),
              state.logdensity_grad)
  return new, Info(accept_prob, accepted, ~jnp.isfinite(logdensity),
                   -new.logdensity, jnp.asarray(1), jnp.asarray(0))


# ----------------------------------------------------------------------------
# NUTS.


class _Tree(NamedTuple):
  left: IntegratorState
  right: IntegratorState
  proposal: IntegratorState
  log_weight: jax.Array      # log sum_leaves exp(-H(leaf) + H0)
  momentum_sum: jax.Array    # rho, the sum of the leaves' momenta
  turning: jax.Array
  diverging: jax.Array
  sum_accept: jax.Array      # sum over leaves of min(1, exp(H0 - H))
  num_leaves: jax.Array


def _is_turning(metric, p_left, p_right, momentum_sum):
  """Generalised no-U-turn criterion (Betancourt 2017, App. A.4.2)."""
  rho = momentum_sum - 0.5 * (p_left + p_right)
  return ((jnp.dot(metric.velocity(p_left), rho) <= 0)
          | (jnp.dot(metric.velocity(p_right), rho) <= 0))


def _checkpoint_range(n):
  """Checkpoints a new leaf n (0-based) must be U-turn-checked against.

  Leaf n closes one sub-tree for every trailing 1 bit of n; its checkpoints
  are numbered by the count of 1 bits of n >> 1 (NumPyro's bit trick).
  Returns (idx_min, idx_max); the range is empty for even n.
  """
  def popcount(x):
    return jax.lax.while_loop(lambda c: c[0] > 0,
                              lambda c: (c[0] >> 1, c[1] + (c[0] & 1)),
                              (x, 0))[1]

  def trailing_ones(x):
    return jax.lax.while_loop(lambda c: (c[0] & 1) != 0,
                              lambda c: (c[0] >> 1, c[1] + 1), (x, 0))[1]

  idx_max = popcount(n >> 1)
  return idx_max - trailing_ones(n) + 1, idx_max


def _build_subtree(rng, edge, depth, direction, metric, logdensity_and_grad,
                   step_size, energy0, max_depth, max_energy_error):
  """2^depth leapfrog steps from `edge` in `direction`, stopping early on a
  U-turn at any level or a divergence. Multinomial (uniform progressive)
  sampling picks the sub-tree's proposal."""
  dim = edge.position.shape[0]
  zeros = jnp.zeros((max_depth, dim), edge.momentum.dtype)

  def leaf_weight(leaf):
    energy = _finite_or_inf(_energy(metric, leaf.logdensity, leaf.momentum))
    delta = energy0 - energy  # log weight relative to the start.
    return (jnp.where(jnp.isfinite(delta), delta, -jnp.inf),
            ~(energy - energy0 <= max_energy_error),
            jnp.where(jnp.isfinite(delta), jnp.exp(jnp.minimum(0.0, delta)), 0.0))

  def cond(carry):
    tree, n, *_ = carry
    return (n < 2**depth) & ~tree.turning & ~tree.diverging

  def body(carry):
    tree, n, p_ckpts, sum_ckpts, rng = carry
    rng, pick_rng = jax.random.split(rng)
    leaf = integrators.leapfrog_step(logdensity_and_grad, metric, tree.right,
                                     direction * step_size)
    log_w, diverging, accept = leaf_weight(leaf)
    log_weight = jnp.logaddexp(tree.log_weight, log_w)
    take = jnp.log(jax.random.uniform(pick_rng)) < log_w - log_weight
    proposal = jax.tree.map(lambda a, b: jnp.where(take, a, b), leaf,
                            tree.proposal)
    momentum_sum = tree.momentum_sum + leaf.momentum
    # U-turn checks of every sub-tree this leaf completes.
    idx_min, idx_max = _checkpoint_range(n)
    is_even = (n % 2) == 0
    p_ckpts = jnp.where(is_even, p_ckpts.at[idx_max].set(leaf.momentum), p_ckpts)
    sum_ckpts = jnp.where(is_even, sum_ckpts.at[idx_max].set(momentum_sum),
                          sum_ckpts)

    def check(c):
      i, _ = c
      rho = momentum_sum - sum_ckpts[i] + p_ckpts[i]
      # The sub-tree runs from checkpoint leaf i to this leaf; the criterion
      # is symmetric, so the direction of time does not matter.
      return i - 1, _is_turning(metric, p_ckpts[i], leaf.momentum, rho)

    _, turning = jax.lax.while_loop(
        lambda c: (c[0] >= idx_min) & ~c[1] & ~is_even, check,
        (idx_max, jnp.array(False)))
    tree = _Tree(tree.left, leaf, proposal, log_weight, momentum_sum,
                 turning, diverging, tree.sum_accept + accept,
                 tree.num_leaves + 1)
    return tree, n + 1, p_ckpts, sum_ckpts, rng

  empty = _Tree(edge, edge, edge, jnp.array(-jnp.inf, energy0.dtype),
                jnp.zeros_like(edge.momentum), jnp.array(False),
                jnp.array(False), jnp.zeros((), energy0.dtype), jnp.array(0))
  tree, *_ = jax.lax.while_loop(cond, body, (empty, jnp.array(0), zeros,
                                             zeros, rng))
  # `right` is the far end in `direction`; `left` is unused by the caller.
  return tree


def nuts_step(rng, state: State, logdensity_and_grad: Callable, step_size,
              inverse_mass, max_depth: int = 10, max_energy_error=1000.0):
  """One NUTS transition (multinomial, generalised U-turn, max depth)."""
  metric = Metric(inverse_mass)
  mom_rng, rng = jax.random.split(rng)
  p0 = metric.sample_momentum(mom_rng, state.position)
  start = IntegratorState(state.position, p0, state.logdensity,
                          state.logdensity_grad)
  energy0 = _energy(metric, state.logdensity, p0)

  def cond(carry):
    tree, depth, _ = carry
    return (depth < max_depth) & ~tree.turning & ~tree.diverging

  def body(carry):
    tree, depth, rng = carry
    rng, dir_rng, sub_rng, pick_rng = jax.random.split(rng, 4)
    forward = jax.random.bernoulli(dir_rng)
    direction = jnp.where(forward, 1.0, -1.0).astype(p0.dtype)
    edge = jax.tree.map(lambda r, l: jnp.where(forward, r, l), tree.right,
                        tree.left)
    sub = _build_subtree(sub_rng, edge, depth, direction, metric,
                         logdensity_and_grad, step_size, energy0, max_depth,
                         max_energy_error)
    usable = ~sub.turning & ~sub.diverging
    # Biased progressive sampling: move to the new half with probability
    # min(1, w_new / w_old), which favours states far from the start.
    take = usable & (jnp.log(jax.random.uniform(pick_rng))
                     < sub.log_weight - tree.log_weight)
    proposal = jax.tree.map(lambda a, b: jnp.where(take, a, b), sub.proposal,
                            tree.proposal)
    left = jax.tree.map(lambda s, t: jnp.where(forward, t, s), sub.right,
                        tree.left)
    right = jax.tree.map(lambda s, t: jnp.where(forward, s, t), sub.right,
                         tree.right)
    momentum_sum = tree.momentum_sum + sub.momentum_sum
    p_first, p_last = left.momentum, right.momentum
    turning = sub.turning | (usable & _is_turning(metric, p_first, p_last,
                                                  momentum_sum))
    merged = _Tree(left, right, proposal,
                   jnp.logaddexp(tree.log_weight, sub.log_weight),
                   momentum_sum, turning, sub.diverging,
                   tree.sum_accept + sub.sum_accept,
                   tree.num_leaves + sub.num_leaves)
    return merged, depth + 1, rng

  tree0 = _Tree(start, start, start, jnp.zeros((), energy0.dtype), p0,
                jnp.array(False), jnp.array(False),
                jnp.zeros((), energy0.dtype), jnp.array(0))
  tree, depth, _ = jax.lax.while_loop(cond, body, (tree0, jnp.array(0), rng))
  prop = tree.proposal
  new = State(prop.position, prop.logdensity, prop.logdensity_grad)
  moved = jnp.any(prop.position != state.position)
  energy = _energy(metric, prop.logdensity, prop.momentum)
  accept = tree.sum_accept / jnp.maximum(tree.num_leaves, 1)
  return new, Info(accept, moved, tree.diverging, energy, tree.num_leaves,
                   depth)
