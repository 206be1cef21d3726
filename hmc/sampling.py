"""Many chains of any kernel: warm-up (Stan's or nutpie's scheme) and draws
as one jitted `lax.scan` per chain, vmapped over chains and sharded over
devices; ChEES-HMC (hmc/chees.py) runs its chains together instead.

`run_chains` is the library entry: a log density over any pytree, starting
positions with a leading chain axis, and optionally a step size and an
inverse mass matrix of one's own (used as given with `num_warmup=0`, as
starting values of the warm-up otherwise). Bad arguments are
`ConfigError`s, which are `ValueError`s.
"""
import time
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from common import sharding
from common.errors import ConfigError
from hmc import adaptation as adaptation_lib
from hmc import chees
from hmc import nutpie
from hmc import kernel as kernel_lib
import targets

KERNELS = ('hmc', 'nuts', 'rwmh', 'chees')
SCHEMES = {'stan': adaptation_lib.stan_scheme, 'nutpie': nutpie.nutpie_scheme}
ADAPTATIONS = tuple(SCHEMES)
# Compiled samplers of recent run_chains calls (insertion-ordered).
_COMPILED = {}
_MAX_COMPILED = 16
# dense_mass='auto' considers a dense metric up to this dimension: nutpie's
# 80-draw windows then hold at least 2d draws, and a d x d product per
# leapfrog step is still cheap next to most densities.
AUTO_DENSE_MAX_DIM = 40


class Result(NamedTuple):
  draws: np.ndarray          # [chains, draws, d], flat positions.
  info: kernel_lib.Info      # Each field [chains, draws].
  warmup_info: kernel_lib.Info  # Each field [chains, num_warmup].
  step_size: np.ndarray      # [chains]
  inverse_mass: np.ndarray   # [chains, d] or [chains, d, d]
  compile_s: float           # 0 when a compiled sampler was reused.
  run_s: float
  unravel: Callable          # Flat position [d] -> the position's pytree.
  named_draws: dict = None   # {leaf name: [chains, draws, *leaf_shape]},
                             # views of `draws`.
  names: list = None         # Names of the d flat coordinates.
  trajectory_length: np.ndarray = None  # [chains], ChEES-HMC's tuned T.


def clear_compiled():
  """Forgets the compiled samplers `run_chains` keeps."""
  _COMPILED.clear()


def make_step_fn(name, logdensity_flat, num_steps=10, max_depth=10,
                 step_size_jitter=0.0):
  """(rng, state, step_size, inverse_mass) -> (state, info) for `name`.

  With `step_size_jitter` j > 0 every transition uses a step size drawn
  uniformly from [(1 - j) eps, (1 + j) eps] (Stan's stepsize_jitter; Neal
  2011, arXiv:1206.1901, Sec. 4.2): a fixed number of leapfrog steps then
  no longer traverses a fixed trajectory length, which for static HMC can
  be close to a period of some direction of the target and leave it almost
  unmoved. The draw does not depend on the state, so the chain stays
  reversible.
  """
  value_and_grad = jax.value_and_grad(logdensity_flat)
  if name == 'hmc':
    step = lambda k, s, eps, m: kernel_lib.hmc_step(k, s, value_and_grad, eps,
                                                     m, num_steps)
  elif name == 'nuts':
    step = lambda k, s, eps, m: kernel_lib.nuts_step(k, s, value_and_grad,
                                                      eps, m, max_depth)
  elif name == 'rwmh':
    def step(k, s, eps, m):
      scale = eps * (jnp.sqrt(m) if m.ndim == 1 else jnp.sqrt(jnp.diag(m)))
      return kernel_lib.rwmh_step(k, s, logdensity_flat, scale)
  else:
    raise ConfigError(f'unknown kernel {name!r}; use one of {list(KERNELS)}')
  if not step_size_jitter:
    return step

  def jittered(k, s, eps, m):
    k, jitter_key = jax.random.split(k)
    u = jax.random.uniform(jitter_key, (), jnp.result_type(eps), -1.0, 1.0)
    return step(k, s, eps * (1.0 + step_size_jitter * u), m)
  return jittered


def _shapes(tree):
  return ', '.join(f'{n}: {tuple(np.shape(l))}' for n, l in zip(
      targets.leaf_names(tree), jax.tree.leaves(tree)))


def check_positions(logdensity_fn, initial_positions, template=None):
  """Returns the positions as jax arrays, or raises one `ConfigError`
  saying what shape was expected: every leaf [chains, *leaf_shape] with one
  number of chains (and, given a `template` of one position, its structure
  and leaf shapes after the chain axis), float, and a scalar log density
  of one chain's position.

  (Without a template, a position given without its chain axis is caught
  when the log density fails on, or does not reduce, the leaves without
  their first axis; a log density that broadcasts cannot tell a flat [d]
  vector from d chains of scalars. Pass the `targets.Target` to
  `run_chains` to check the shapes exactly.)
  """
  positions = jax.tree.map(jnp.asarray, initial_positions)
  leaves = jax.tree.leaves(positions)
  expected = ('initial_positions must have a leading chain axis on every '
              'leaf, [chains, *position_leaf_shape] with the same number of '
              'chains (e.g. Target.initial(rng, chains))')
  if not leaves:
    raise ConfigError(f'{expected}; got no arrays')
  sizes = {l.shape[0] if l.ndim else None for l in leaves}
  if None in sizes or len(sizes) != 1 or 0 in sizes:
    raise ConfigError(f'{expected}; got leaf shapes {{{_shapes(positions)}}}')
  if template is not None:
    same = (jax.tree.structure(positions) == jax.tree.structure(template)
            and all(l.shape[1:] == np.shape(t) for l, t in zip(
                leaves, jax.tree.leaves(template))))
    if not same:
      want = ', '.join(
          f'{n}: ({", ".join(["chains"] + [str(d) for d in np.shape(t)])}'
          f'{"," if not np.shape(t) else ""})' for n, t in zip(
              targets.leaf_names(template), jax.tree.leaves(template)))
      raise ConfigError(f'{expected}; this target expects {{{want}}}, got '
                        f'leaf shapes {{{_shapes(positions)}}}')
  if not all(jnp.issubdtype(l.dtype, jnp.floating) for l in leaves):
    raise ConfigError(f'initial_positions must be floating point; got '
                      f'{[str(l.dtype) for l in leaves]}')
  one = jax.tree.map(lambda l: jax.ShapeDtypeStruct(l.shape[1:], l.dtype),
                     positions)
  try:
    out = jax.eval_shape(logdensity_fn, one)
  except Exception as e:  # pylint: disable=broad-except
    raise ConfigError(
        f'{expected}; logdensity_fn fails on one chain\'s position (leaf '
        f'shapes {{{_shapes(one)}}}): {type(e).__name__}: {e}') from e
  if not hasattr(out, 'shape') or tuple(out.shape) != ():
    raise ConfigError(
        f'{expected}; logdensity_fn must return a scalar for one chain\'s '
        f'position (leaf shapes {{{_shapes(one)}}}), got '
        f'{getattr(out, "shape", type(out).__name__)}')
  return positions


def _check_step_size(step_size, chains, dtype):
  eps = np.asarray(step_size, np.float64)
  if eps.ndim == 0:
    eps = np.full(chains, eps)
  if eps.shape != (chains,) or not np.all(np.isfinite(eps) & (eps > 0)):
    raise ConfigError(f'step_size must be a positive number or {chains} '
                      f'positive numbers (one per chain); got {step_size!r}')
  return jnp.asarray(eps, dtype)


def _check_inverse_mass(inverse_mass, dense_mass, chains, dim, dtype):
  """[chains, d] or [chains, d, d] from any accepted form, and whether it is
  dense. Forms: [d] (diagonal), [d, d] (dense), or either with a leading
  chain axis; when chains == d, a [d, d] array is dense unless dense_mass is
  False."""
  m = np.asarray(inverse_mass, np.float64)
  shape = m.shape
  if m.shape == (dim,):
    dense, m = False, np.broadcast_to(m, (chains, dim))
  elif m.shape == (chains, dim, dim):
    dense = True
  elif m.shape == (dim, dim) and not (dense_mass is False and chains == dim):
    dense, m = True, np.broadcast_to(m, (chains, dim, dim))
  elif m.shape == (chains, dim):
    dense = False
  else:
    raise ConfigError(
        f'inverse_mass must have shape ({dim},) (diagonal) or ({dim}, {dim}) '
        f'(dense), optionally after a chain axis of {chains}; got {m.shape}')
  if dense_mass is not None and bool(dense_mass) != dense:
    raise ConfigError(f'dense_mass={dense_mass} but inverse_mass of shape '
                      f'{shape} is {"dense" if dense else "diagonal"}')
  if not np.all(np.isfinite(m)):
    raise ConfigError('inverse_mass must be finite')
  if dense:
    if not np.allclose(m, np.swapaxes(m, -1, -2), rtol=1e-6, atol=0):
      raise ConfigError('a dense inverse_mass must be symmetric')
    try:
      np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
      raise ConfigError('a dense inverse_mass must be positive '
                        'definite') from None
  elif not np.all(m > 0):
    raise ConfigError('a diagonal inverse_mass must be positive')
  return jnp.asarray(m, dtype), dense


def check_settings(kernel, num_warmup=1000, num_draws=1000, num_steps=10,
                   max_depth=10, target_accept=None, repeats=1,
                   adaptation='stan', dense_mass=None, step_size_jitter=0.0):
  """Raises a `ConfigError` for an unknown kernel or adaptation, a count or
  target acceptance out of range, or a metric the kernel and adaptation
  cannot adapt (what `run_chains` checks first)."""
  if kernel not in KERNELS:
    raise ConfigError(f'unknown kernel {kernel!r}; use one of {list(KERNELS)}')
  if adaptation not in ADAPTATIONS:
    raise ConfigError(f'unknown adaptation {adaptation!r}; use one of '
                      f'{list(ADAPTATIONS)}')
  if dense_mass not in (None, True, False, 'auto'):
    raise ConfigError(f"dense_mass must be True, False, None or 'auto'; got "
                      f"{dense_mass!r}")
  if dense_mass == 'auto' and adaptation != 'nutpie':
    raise ConfigError("dense_mass='auto' chooses with nutpie's Fisher loss; "
                      "use it with adaptation='nutpie'")
  for name, value, low in (('num_warmup', num_warmup, 0),
                           ('num_draws', num_draws, 1),
                           ('num_steps', num_steps, 1),
                           ('max_depth', max_depth, 1),
                           ('repeats', repeats, 1)):
    if not isinstance(value, (int, np.integer)) or value < low:
      raise ConfigError(f'{name} must be an integer >= {low}; got {value!r}')
  if target_accept is not None and not 0 < target_accept < 1:
    raise ConfigError(f'target_accept must be in (0, 1); got {target_accept!r}')
  if kernel == 'chees':
    if dense_mass:
      raise ConfigError("kernel='chees' adapts a diagonal metric shared by "
                        "the chains; use nuts or hmc for a dense one")
    if step_size_jitter:
      raise ConfigError("kernel='chees' jitters its trajectory lengths "
                        "itself; leave step_size_jitter at 0")
    if num_warmup < 1:
      raise ConfigError("kernel='chees' tunes its trajectory length in "
                        "warm-up; num_warmup must be >= 1")
  if not 0 <= step_size_jitter < 1:
    raise ConfigError(f'step_size_jitter must be in [0, 1); got '
                      f'{step_size_jitter!r}')


def run_chains(rng, logdensity_fn, initial_positions, kernel='nuts',
               num_warmup=1000, num_draws=1000, num_steps=10, max_depth=10,
               dense_mass=None, target_accept=None, repeats=1, *,
               step_size=None, inverse_mass=None,
               adaptation='stan', step_size_jitter=0.0) -> Result:
  """Adapts and samples independent chains, one per leading index of
  `initial_positions`.

  HMC (Neal 2011, arXiv:1206.1901), NUTS (Hoffman & Gelman 2014,
  arXiv:1111.4246, in Betancourt's multinomial form, arXiv:1701.02434) or
  random-walk Metropolis, after Stan's window adaptation or nutpie's
  adaptation from draws and gradients (hmc/adaptation.py, hmc/nutpie.py);
  or ChEES-HMC (Hoffman, Radul & Sountsov 2021, hmc/chees.py) for many
  chains.

  Args:
    rng: a jax PRNG key.
    logdensity_fn: log pi(position) + const for one position (any pytree of
      float arrays), or a `targets.Target`, whose template then also checks
      the shapes of `initial_positions`.
    initial_positions: that pytree with a leading chain axis on every leaf,
      [chains, *leaf_shape] (`targets.Target.initial(rng, chains)`).
    kernel: 'nuts', 'hmc' (num_steps leapfrog steps), 'rwmh', or 'chees'
      (jittered HMC with one trajectory length, step size and diagonal
      metric tuned across the chains; needs 2 chains, is meant for
      hundreds, and uses `adaptation`'s estimator pooled over them).
    num_warmup: adaptation iterations; 0 samples with the given step_size
      and inverse_mass as they are.
    dense_mass: adapt a dense (True) or diagonal (False) inverse mass
      matrix; None: dense exactly when `inverse_mass` is a matrix. 'auto'
      (with adaptation='nutpie'): for d <= AUTO_DENSE_MAX_DIM a dense
      metric where it lowers the sample Fisher divergence by 2% over the
      diagonal one (a correlated posterior), else diagonal; above that
      dimension diagonal (a dense metric costs d^2 per leapfrog step).
    repeats: timed runs of the compiled sampler (benchmarks use the fastest;
      every run gives identical draws).
    step_size: a positive number, or one per chain [chains]. With warm-up
      it is where the step-size search (Hoffman & Gelman 2014, Alg. 4)
      starts, as in Stan; with num_warmup=0 it is used as given. Default:
      the search from 1.0 (with num_warmup=0 too).
    inverse_mass: M^{-1}, [d] (diagonal) or [d, d] (dense) over the flat
      position (the order of `Result.names`), or one per chain [chains, d] /
      [chains, d, d] (e.g. a previous `Result.inverse_mass`). With warm-up
      it is the metric until the first slow window's estimate replaces it;
      with num_warmup=0 it is used as given. Default: the identity (Stan),
      1 / |gradient| at the starting point (nutpie).
    adaptation: 'stan' (step size by dual averaging, the metric from the
      draws' variances over doubling windows) or 'nutpie' (a diagonal metric
      sqrt(Var(draws) / Var(gradients)) refreshed after every draw, from the
      draws since the last switch, or the dense analogue; Seyboldt et al.,
      PyMC's nutpie). nutpie's metric is right after tens of draws, so a
      warm-up of 300 does what Stan's needs 1000 for (docs/RESULTS.md has
      the measurements).
    target_accept: the acceptance the step size is tuned to; default 0.8,
      0.651 for ChEES's harmonic mean, at most 0.234 for the random walk.
    step_size_jitter: j in [0, 1): each transition's step size is drawn
      from [(1 - j) eps, (1 + j) eps] (Stan's stepsize_jitter), in warm-up
      and sampling; for static HMC, whose fixed number of steps can
      otherwise hit a period of the target.

  The compiled sampler is kept per density function, settings, shapes and
  JAX's global settings (backend, default device, x64, matmul precision): a
  later call with new keys, starting points, step sizes or masses of the
  same shapes runs without compiling. As with `jax.jit`, the function is
  known by its identity, so values it closes over are those of its first
  compile; pass a new function (or call `clear_compiled()`) after changing
  them.

  Returns:
    A `Result`: flat draws [chains, draws, d] (what the diagnostics take),
    the same draws by name ({leaf name: [chains, draws, *leaf_shape]}),
    per-draw sampler statistics, the final step size and inverse mass per
    chain, and compile and run times.

  Raises:
    ConfigError (a ValueError): positions without a common leading chain
      axis, an unknown kernel, or an invalid count, step size or mass.
  """
  check_settings(kernel, num_warmup, num_draws, num_steps, max_depth,
                 target_accept, repeats, adaptation, dense_mass,
                 step_size_jitter)
  template, target = None, None
  if isinstance(logdensity_fn, targets.Target):
    target = logdensity_fn
    template, logdensity_fn = target.template, target.logdensity
  initial_positions = check_positions(logdensity_fn, initial_positions,
                                      template)
  first = jax.tree.map(lambda a: a[0], initial_positions)
  _, unravel = ravel_pytree(first)
  flat_init = jax.vmap(lambda p: ravel_pytree(p)[0])(initial_positions)
  num_chains, dim = flat_init.shape
  dtype = flat_init.dtype
  eps_given = (None if step_size is None
               else _check_step_size(step_size, num_chains, dtype))
  auto = dense_mass == 'auto'
  if inverse_mass is None:
    mass_given, dense = None, (dim <= AUTO_DENSE_MAX_DIM if auto
                               else bool(dense_mass))
  else:  # With 'auto', the form of the given metric decides.
    mass_given, dense = _check_inverse_mass(
        inverse_mass, None if auto else dense_mass, num_chains, dim, dtype)
  # What the warm-up adapts: False, True or 'auto' (nutpie chooses).
  dense_mode = 'auto' if auto and dense else dense
  logdensity_flat = lambda x: logdensity_fn(unravel(x))
  step_fn = (None if kernel == 'chees' else make_step_fn(
      kernel, logdensity_flat, num_steps, max_depth, step_size_jitter))
  value_and_grad = jax.value_and_grad(logdensity_flat)
  if target_accept is None:  # Each kernel's optimum (Beskos et al. 2013 for
    # ChEES's harmonic mean; Roberts et al. 1997 for the random walk).
    target_accept = {'chees': chees.TARGET_ACCEPT, 'rwmh': 0.234}.get(kernel,
                                                                       0.8)
  elif kernel == 'rwmh':
    target_accept = min(target_accept, 0.234)
  if kernel == 'chees' and num_chains < 2:
    raise ConfigError("kernel='chees' tunes across chains; give it at least "
                      "2 (it is meant for hundreds)")

  # The step-size search tries one leapfrog step (Hoffman & Gelman 2014,
  # Algorithm 4), not a whole NUTS transition: less to compile, and it is
  # what NumPyro and Stan do.
  search_fn = (step_fn if kernel == 'rwmh' else
               make_step_fn('hmc', logdensity_flat, num_steps=1))

  def one_chain(key, x0, eps, inv_mass):
    state = kernel_lib.init(x0, value_and_grad)
    if num_warmup == 0 and eps is not None:
      # As given: no search, no adaptation.
      step_size = eps
      if inv_mass is None:
        inv_mass = jnp.eye(dim, dtype=dtype) if dense else jnp.ones(dim, dtype)
      info = jax.eval_shape(lambda: step_fn(key, state, step_size,
                                            inv_mass)[1])
      warm_info = jax.tree.map(lambda s: jnp.zeros((0,) + s.shape, s.dtype),
                               info)

      def body(state, key):
        state, info = step_fn(key, state, step_size, inv_mass)
        return state, (state.position, info)

      _, (draws, info) = jax.lax.scan(body, state,
                                      jax.random.split(key, num_draws))
      return draws, info, warm_info, step_size, inv_mass
    # Warm-up and draws in one scan: the kernel is compiled once.
    scheme = SCHEMES[adaptation](
        num_warmup, dim, dtype, dense_mode, target_accept,
        initial_step_size=1.0 if eps is None else eps,
        initial_inverse_mass=inv_mass)
    return adaptation_lib.adapt_and_sample(key, state, step_fn, search_fn,
                                           scheme, num_draws)

  def all_chains(keys, x0, eps, inv_mass):
    # ChEES-HMC moves all chains together; one key drives it.
    draws, info, warm_info, step_size, length, inv = chees.sample(
        keys[0], value_and_grad, x0, num_warmup, num_draws, adaptation,
        target_accept, None if eps is None else jnp.median(eps),
        None if inv_mass is None else jnp.exp(jnp.mean(jnp.log(inv_mass), 0)))
    per_chain = lambda v: jnp.broadcast_to(v, (num_chains,) + v.shape)
    return (draws, info, warm_info, per_chain(step_size), per_chain(inv),
            per_chain(length))

  keys = jax.random.split(rng, num_chains)
  args = (keys, flat_init, eps_given, mass_given)
  sharded = jax.device_count() > 1 and num_chains % jax.device_count() == 0
  if sharded:
    # Chains are independent: split them over devices along one mesh axis.
    spec = sharding.batch_sharded(sharding.make_mesh())
    args = jax.device_put(args, spec)
  # One compile per density, settings and shapes: later calls with new keys
  # or starting points reuse it (compile_s is then 0).
  cache_key = (logdensity_fn, kernel, num_warmup, num_draws, num_steps,
               max_depth, dense_mode, float(target_accept), adaptation,
               float(step_size_jitter), sharded,
               jax.default_backend(), str(jax.config.jax_default_device),
               bool(jax.config.jax_enable_x64),
               str(jax.config.jax_default_matmul_precision),
               jax.tree.structure(first), jax.tree.structure(args),
               tuple((np.shape(a), str(getattr(a, 'dtype', type(a))))
                     for a in jax.tree.leaves((first, args))))
  try:
    hash(cache_key)
  except TypeError:  # An unhashable density: compile every time.
    cache_key = None
  compiled, compile_s = _COMPILED.get(cache_key), 0.0
  if compiled is None:
    start = time.time()
    fn = all_chains if kernel == 'chees' else jax.vmap(one_chain)
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.time() - start
    if cache_key is not None:
      _COMPILED[cache_key] = compiled
    while len(_COMPILED) > _MAX_COMPILED:  # The oldest goes first.
      _COMPILED.pop(next(iter(_COMPILED)))
  run_s = float('inf')
  for _ in range(repeats):
    start = time.time()
    out = jax.block_until_ready(compiled(*args))
    run_s = min(run_s, time.time() - start)
  draws, info, warm_info, step_size, inv_mass, *length = jax.device_get(out)
  draws = np.asarray(draws)
  # Views of the flat draws, one per leaf of the position.
  by_leaf = jax.tree.leaves(targets.make_unravel(first)(draws))
  if target is not None:  # The target's own names (and root) name the draws.
    leaf_names, names = target.leaf_names, list(target.names)
  else:
    leaf_names, names = targets.leaf_names(first), targets.coordinate_names(first)
  return Result(draws, info, warm_info, np.asarray(step_size),
                np.asarray(inv_mass), compile_s, run_s, unravel,
                dict(zip(leaf_names, by_leaf)), names,
                np.asarray(length[0]) if length else None)
