"""Many chains of any kernel: warm-up (window adaptation) then draws, as one
jitted function of `lax.scan`s, vmapped over chains and sharded over devices.
"""
import time
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from common import sharding
from hmc import adaptation
from hmc import kernel as kernel_lib


class Result(NamedTuple):
  draws: np.ndarray          # [chains, draws, d], flat positions.
  info: kernel_lib.Info      # Each field [chains, draws].
  warmup_info: kernel_lib.Info
  step_size: np.ndarray      # [chains]
  inverse_mass: np.ndarray   # [chains, d] or [chains, d, d]
  compile_s: float
  run_s: float
  unravel: Callable          # Flat position -> the target's pytree.


def make_step_fn(name, logdensity_flat, num_steps=10, max_depth=10):
  """(rng, state, step_size, inverse_mass) -> (state, info) for `name`."""
  value_and_grad = jax.value_and_grad(logdensity_flat)
  if name == 'hmc':
    return lambda k, s, eps, m: kernel_lib.hmc_step(k, s, value_and_grad, eps,
                                                     m, num_steps)
  if name == 'nuts':
    return lambda k, s, eps, m: kernel_lib.nuts_step(k, s, value_and_grad,
                                                      eps, m, max_depth)
  if name == 'rwmh':
    def rwmh(k, s, eps, m):
      scale = eps * (jnp.sqrt(m) if m.ndim == 1 else jnp.sqrt(jnp.diag(m)))
      return kernel_lib.rwmh_step(k, s, logdensity_flat, scale)
    return rwmh
  raise ValueError(f'unknown kernel {name!r}; use hmc, nuts or rwmh')


def run_chains(rng, logdensity_fn, initial_positions, kernel='nuts',
               num_warmup=1000, num_draws=1000, num_steps=10, max_depth=10,
               dense_mass=False, target_accept=0.8, repeats=1):
  """Adapts and samples `chains` independent chains.

  Args:
    logdensity_fn: log pi(position) for one position (a pytree).
    initial_positions: the pytree with a leading chain axis on every leaf.
    repeats: timed runs of the compiled sampler (benchmarks use the fastest;
      every run gives identical draws).
  """
  first = jax.tree.map(lambda a: a[0], initial_positions)
  flat0, unravel = ravel_pytree(first)
  flat_init = jax.vmap(lambda p: ravel_pytree(p)[0])(initial_positions)
  logdensity_flat = lambda x: logdensity_fn(unravel(x))
  step_fn = make_step_fn(kernel, logdensity_flat, num_steps, max_depth)
  value_and_grad = jax.value_and_grad(logdensity_flat)
  if kernel == 'rwmh':
    target_accept = min(target_accept, 0.234)  # Roberts et al. 1997.

  def one_chain(key, x0):
    warm_key, draw_key = jax.random.split(key)
    state = kernel_lib.init(x0, value_and_grad)
    state, step_size, inv_mass, warm_info = adaptation.run_warmup(
        warm_key, state, step_fn, num_warmup, dense_mass, target_accept)

    def body(state, key):
      state, info = step_fn(key, state, step_size, inv_mass)
      return state, (state.position, info)

    _, (draws, info) = jax.lax.scan(body, state,
                                    jax.random.split(draw_key, num_draws))
    return draws, info, warm_info, step_size, inv_mass

  num_chains = flat_init.shape[0]
  keys = jax.random.split(rng, num_chains)
  run = jax.jit(jax.vmap(one_chain))
  if jax.device_count() > 1 and num_chains % jax.device_count() == 0:
    # Chains are independent: split them over devices along one mesh axis.
    spec = sharding.batch_sharded(sharding.make_mesh())
    keys, flat_init = jax.device_put((keys, flat_init), spec)
  start = time.time()
  compiled = run.lower(keys, flat_init).compile()
  compile_s = time.time() - start
  run_s = float('inf')
  for _ in range(repeats):
    start = time.time()
    out = jax.block_until_ready(compiled(keys, flat_init))
    run_s = min(run_s, time.time() - start)
  draws, info, warm_info, step_size, inv_mass = jax.device_get(out)
  del flat0
  return Result(np.asarray(draws), info, warm_info, np.asarray(step_size),
                np.asarray(inv_mass), compile_s, run_s, unravel)
