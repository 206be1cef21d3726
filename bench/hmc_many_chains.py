"""Many chains at once (issue 16, must-have 4): ours against BlackJAX with
1,024 chains on the CPU (4,096 on a GPU), the same settings on both sides.

  pip install -r requirements-bench.txt
  python bench/hmc_many_chains.py [--many_chains=1024] [--many_warmup=500]
      [--many_draws=200] [--many_seeds=3] [--many_targets=...]
      [--many_samplers=...] [--many_out=bench/results/hmc_many_chains_cpu.json]

(The flags carry a many_ prefix: the module reuses bench/hmc_vs_peers.py's
row and summary code, whose own flags are defined on import.)

Samplers (each compiled once per target, reused for every seed; the same
starting points and keys; warm-up and draws in one compiled call):

* nuts / bj_nuts: NUTS after Stan's window adaptation, vmapped over chains
  (ours: `run_chains`; BlackJAX: `window_adaptation` and `nuts` under one
  `jit(vmap(...))`). Vmapped NUTS waits each iteration for the chain with
  the deepest tree.
* nuts_nutpie: ours with nutpie's adaptation (the same warm-up length).
* chees / bj_chees: ChEES-HMC (Hoffman, Radul & Sountsov 2021): one
  trajectory length and step size tuned across all chains, every chain
  running the same number of leapfrog steps. Ours: `run_chains(kernel=
  'chees', adaptation='nutpie')`; BlackJAX: `chees_adaptation` with its
  pooled diagonal metric (`mass_matrix_estimation='diagonal'`) and the
  same Adam settings, then `dynamic_hmc`. Target acceptance 0.651 (the
  harmonic mean) on both sides.

Per seed: min bulk ESS over coordinates, ESS per second of the compiled
run (warm-up included) and per gradient (draws), max R-hat and, where the
target knows them, the largest |mean error| in posterior sds. Medians and
[min, max] over seeds; compile time apart.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
from absl import app  # pylint: disable=wrong-import-position
from absl import flags  # pylint: disable=wrong-import-position

from bench import hmc_vs_peers  # pylint: disable=wrong-import-position
from hmc import chees  # pylint: disable=wrong-import-position
from hmc import sampling  # pylint: disable=wrong-import-position

_TARGETS = flags.DEFINE_list(
    'many_targets', ['std_gaussian:100', 'scaled_gaussian', 'eight_schools',
                'logistic_regression', 'linear_regression'],
    'Targets, name or name:dim.')
_SAMPLERS = flags.DEFINE_list(
    'many_samplers', ['nuts', 'nuts_nutpie', 'chees', 'bj_nuts', 'bj_chees'],
    'Samplers to run.')
_MANY = flags.DEFINE_integer('many_chains', 1024, 'Chains.')
_MANY_WARMUP = flags.DEFINE_integer('many_warmup', 500, 'Warm-up iterations.')
_MANY_DRAWS = flags.DEFINE_integer('many_draws', 200, 'Draws per chain.')
_MANY_SEEDS = flags.DEFINE_integer('many_seeds', 3, 'Seeds.')
_MANY_OUT = flags.DEFINE_string(
    'many_out', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             'results', 'hmc_many_chains_cpu.json'),
    'JSON output path.')


def ours(target, kernel, adaptation):
  compile_s = []

  def run(key, x0):
    res = sampling.run_chains(key, target, x0, kernel, _MANY_WARMUP.value,
                              _MANY_DRAWS.value, adaptation=adaptation)
    compile_s.append(res.compile_s)
    return res.draws, float(np.sum(res.info.num_grad_evals)), res.run_s
  return run, compile_s


def bj_nuts(target):
  import blackjax  # pylint: disable=g-import-not-at-top

  def one_chain(k, x):
    warmup = blackjax.window_adaptation(blackjax.nuts, target.logdensity,
                                        target_acceptance_rate=0.8)
    k1, k2 = jax.random.split(k)
    (state, params), _ = warmup.run(k1, x, num_steps=_MANY_WARMUP.value)
    step = blackjax.nuts(target.logdensity, **params).step

    def body(s, kk):
      s, info = step(kk, s)
      return s, (s.position, info.num_integration_steps)
    _, out = jax.lax.scan(body, state, jax.random.split(k2, _MANY_DRAWS.value))
    return out
  return _compiled(jax.vmap(one_chain), per_chain_keys=True)


def bj_chees(target):
  import blackjax  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top

  def all_chains(key, x):
    warmup = blackjax.chees_adaptation(
        target.logdensity, x.shape[0],
        target_acceptance_rate=chees.TARGET_ACCEPT,
        mass_matrix_estimation='diagonal')
    optim = optax.adam(chees.LEARNING_RATE, b1=0.0,
                       b2=chees.SQUARED_GRAD_DECAY)
    k1, k2 = jax.random.split(key)
    (states, params), _ = warmup.run(k1, x, step_size=1.0, optim=optim,
                                     num_steps=_MANY_WARMUP.value,
                                     max_sampling_steps=_MANY_DRAWS.value)
    step = blackjax.dynamic_hmc(target.logdensity, **params).step

    def body(s, kk):
      s, info = jax.vmap(step)(jax.random.split(kk, x.shape[0]), s)
      return s, (s.position, info.num_integration_steps)
    _, (z, steps) = jax.lax.scan(body, states,
                                 jax.random.split(k2, _MANY_DRAWS.value))
    return z.swapaxes(0, 1), steps.swapaxes(0, 1)
  return _compiled(all_chains, per_chain_keys=False)


def _compiled(fn, per_chain_keys):
  fn = jax.jit(fn)
  compiled, compile_s = {}, []

  def run(key, x0):
    keys = jax.random.split(key, x0.shape[0]) if per_chain_keys else key
    if 'fn' not in compiled:
      start = time.perf_counter()
      compiled['fn'] = fn.lower(keys, x0).compile()
      compile_s.append(time.perf_counter() - start)
    else:
      compile_s.append(0.0)
    start = time.perf_counter()
    draws, steps = jax.block_until_ready(compiled['fn'](keys, x0))
    return (np.asarray(draws), float(np.sum(steps)),
            time.perf_counter() - start)
  return run, compile_s


def make(name, target):
  if name == 'nuts':
    return ours(target, 'nuts', 'stan')
  if name == 'nuts_nutpie':
    return ours(target, 'nuts', 'nutpie')
  if name == 'chees':
    return ours(target, 'chees', 'nutpie')
  if name == 'bj_nuts':
    return bj_nuts(target)
  if name == 'bj_chees':
    return bj_chees(target)
  raise ValueError(f'unknown sampler {name!r}')


def main(_):
  results = []
  for spec in _TARGETS.value:
    target = hmc_vs_peers._target(spec)  # pylint: disable=protected-access
    row = {'target': spec, 'dim': target.dim, 'samplers': {}}
    for name in _SAMPLERS.value:
      run, compile_s = make(name, target)
      seeds = []
      for seed in range(_MANY_SEEDS.value):
        x0 = target.initial(jax.random.key(seed), _MANY.value)
        draws, grads, run_s = run(jax.random.key(1000 + seed), x0)
        seeds.append(hmc_vs_peers.seed_row(target, draws, grads, run_s))
      s = hmc_vs_peers.summary(seeds, compile_s[0])
      row['samplers'][name] = s
      print(f"{spec:20s} {name:12s} compile {s['compile_s']:6.1f} s  run "
            f"{s['run_s']['median']:7.2f} s  ESS/s "
            f"{s['min_ess_per_s']['median']:10.1f} "
            f"[{s['min_ess_per_s']['min']:.1f}, "
            f"{s['min_ess_per_s']['max']:.1f}]  ESS/grad "
            f"{s['min_ess_per_grad']['median']:.4f}  R-hat "
            f"{s['max_rhat']['max']:.3f}", flush=True)
    results.append(row)
  hmc_vs_peers.write_results(
      _MANY_OUT.value, results, chains=_MANY.value,
      warmup=_MANY_WARMUP.value, draws=_MANY_DRAWS.value,
      seeds=_MANY_SEEDS.value)

if __name__ == '__main__':
  app.run(main)
