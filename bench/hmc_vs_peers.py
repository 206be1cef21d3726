"""Our HMC and NUTS against BlackJAX's and NumPyro's on every target.

  pip install -r requirements-bench.txt
  python bench/hmc_vs_peers.py [--targets=banana,funnel] [--chains=4]
      [--warmup=1000] [--draws=1000] [--num_steps=10]
      [--vae_workdir=runs/vae_k1_e40 --vae_npz=../shared/data/mnist.npz]
      [--out=bench/results/hmc_vs_peers.json]

Same target log-density, chains, warm-up and draws, Stan's window adaptation
(target acceptance 0.8, diagonal mass matrix), maximum tree depth 10 and, for
static HMC, the same number of leapfrog steps, for all three libraries;
chains are vmapped (NumPyro: chain_method='vectorized'). Reported per
library and kernel: compile time (separately), compiled wall time of
warm-up plus draws (fastest of --repeats runs), min bulk ESS (our estimator on everyone's draws, so the
numbers are comparable), min ESS per second and per gradient evaluation of
the sampling phase, max R-hat. Also: the time of one leapfrog step relative
to one gradient evaluation, both in a jitted `lax.scan` of 1000 steps.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp
import numpy as np
from absl import app
from absl import flags

from hmc import diagnostics
from hmc import integrators
from hmc import run as hmc_run
from hmc import sampling
import targets

_TARGETS = flags.DEFINE_list(
    'targets', ['std_gaussian', 'correlated_gaussian', 'mixture', 'banana',
                'funnel', 'ill_conditioned', 'logistic_regression'],
    'Targets (vae_latent needs --vae_workdir).')
_CHAINS = flags.DEFINE_integer('chains', 4, 'Chains.')
_WARMUP = flags.DEFINE_integer('warmup', 1000, 'Warm-up iterations.')
_DRAWS = flags.DEFINE_integer('draws', 1000, 'Draws per chain.')
_STEPS = flags.DEFINE_integer('num_steps', 10, 'Leapfrog steps of static HMC.')
_KERNELS = flags.DEFINE_list('kernels', ['nuts', 'hmc'], 'nuts and/or hmc.')
_VAE = flags.DEFINE_string('vae_workdir', '', 'Trained VAE for vae_latent.')
_VAE_NPZ = flags.DEFINE_string('vae_npz', '', 'Its data (npz path).')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed runs; the fastest counts.')
_OUT = flags.DEFINE_string('out', '', 'Optional JSON output path.')


def _row(lib, kernel, draws, grads, compile_s, run_s):
  ess = np.array([diagnostics.ess_bulk(draws[..., i])
                  for i in range(draws.shape[-1])])
  rhat = max(diagnostics.rhat(draws[..., i]) for i in range(draws.shape[-1]))
  return {'lib': lib, 'kernel': kernel, 'compile_s': round(compile_s, 2),
          'run_s': round(run_s, 3), 'min_ess_bulk': round(float(ess.min()), 1),
          'min_ess_per_s': round(float(ess.min() / run_s), 1),
          'min_ess_per_grad': float(ess.min() / grads),
          'grads_per_draw': float(grads / draws.shape[0] / draws.shape[1]),
          'max_rhat': round(float(rhat), 4)}


def ours(target, x0, kernel, key):
  res = sampling.run_chains(key, target.logdensity, x0, kernel, _WARMUP.value,
                            _DRAWS.value, _STEPS.value, repeats=_REPEATS.value)
  return _row('ours', kernel, res.draws, float(np.sum(res.info.num_grad_evals)),
              res.compile_s, res.run_s)


def blackjax_run(target, x0, kernel, key):
  import blackjax  # pylint: disable=g-import-not-at-top
  algo = blackjax.nuts if kernel == 'nuts' else blackjax.hmc
  extra = {} if kernel == 'nuts' else {'num_integration_steps': _STEPS.value}
  warmup = blackjax.window_adaptation(algo, target.logdensity,
                                      target_acceptance_rate=0.8, **extra)

  def one_chain(k, x):
    k1, k2 = jax.random.split(k)
    (state, params), _ = warmup.run(k1, x, num_steps=_WARMUP.value)
    step = algo(target.logdensity, **params).step  # params hold L too.

    def body(s, kk):
      s, info = step(kk, s)
      return s, (s.position, info.num_integration_steps)

    _, out = jax.lax.scan(body, state, jax.random.split(k2, _DRAWS.value))
    return out

  keys = jax.random.split(key, x0.shape[0])
  fn = jax.jit(jax.vmap(one_chain))
  start = time.time()
  compiled = fn.lower(keys, x0).compile()
  compile_s = time.time() - start
  run_s = float('inf')
  for _ in range(_REPEATS.value):
    start = time.time()
    draws, steps = jax.block_until_ready(compiled(keys, x0))
    run_s = min(run_s, time.time() - start)
  return _row('blackjax', kernel, np.asarray(draws), float(np.sum(steps)),
              compile_s, run_s)


def numpyro_run(target, x0, kernel, key):
  from numpyro import infer  # pylint: disable=g-import-not-at-top
  potential = lambda x: -target.logdensity(x)
  if kernel == 'nuts':
    k = infer.NUTS(potential_fn=potential, target_accept_prob=0.8)
  else:
    k = infer.HMC(potential_fn=potential, target_accept_prob=0.8,
                  num_steps=_STEPS.value)
  mcmc = infer.MCMC(k, num_warmup=_WARMUP.value, num_samples=_DRAWS.value,
                    num_chains=x0.shape[0], chain_method='vectorized',
                    progress_bar=False)
  # The first run compiles; the second, with another key, reuses the
  # compiled sampler (NumPyro caches it), so it is the compiled wall time.
  start = time.time()
  mcmc.run(jax.random.fold_in(key, 1), init_params=x0,
           extra_fields=('num_steps',))
  jax.block_until_ready(mcmc.get_samples())
  first = time.time() - start
  run_s = float('inf')
  for _ in range(_REPEATS.value):
    start = time.time()
    mcmc.run(key, init_params=x0, extra_fields=('num_steps',))
    draws = jax.block_until_ready(mcmc.get_samples(group_by_chain=True))
    run_s = min(run_s, time.time() - start)
  steps = mcmc.get_extra_fields()['num_steps']
  return _row('numpyro', kernel, np.asarray(draws), float(np.sum(steps)),
              max(first - run_s, 0.0), run_s)


def leapfrog_cost(target, dim):
  """Seconds per leapfrog step / seconds per gradient evaluation."""
  vg = jax.value_and_grad(target.logdensity)
  n = 1000
  x = jnp.zeros(dim) + 0.1

  @jax.jit
  def grads(x):
    def body(c, _):
      v, g = vg(c)
      return c + 1e-6 * g, v
    return jax.lax.scan(body, x, None, length=n)

  metric = integrators.Metric(jnp.ones(dim))

  @jax.jit
  def leapfrog(x):
    lp, g = vg(x)
    s = integrators.IntegratorState(x, jnp.ones(dim) * 0.1, lp, g)
    return integrators.leapfrog(vg, metric, s, 1e-3, n)

  def timed(f):
    jax.block_until_ready(f(x))
    best = np.inf
    for _ in range(5):
      start = time.time()
      jax.block_until_ready(f(x))
      best = min(best, time.time() - start)
    return best

  return timed(leapfrog) / timed(grads)


def main(_):
  results = []
  for name in _TARGETS.value:
    if name == 'vae_latent':
      import ml_collections  # pylint: disable=g-import-not-at-top
      cfg = ml_collections.ConfigDict({'workdir': _VAE.value, 'image_index': 0,
                                       'npz_path': _VAE_NPZ.value})
      target = hmc_run.vae_latent_target(cfg)
    else:
      target = targets.get(name)
    x0 = target.initial(jax.random.key(0), _CHAINS.value)
    cost = leapfrog_cost(target, target.dim)
    for kernel in _KERNELS.value:
      for fn in (ours, blackjax_run, numpyro_run):
        row = fn(target, x0, kernel, jax.random.key(1))
        row.update(target=name, leapfrog_over_grad=round(float(cost), 3))
        print(json.dumps(row), flush=True)
        results.append(row)
  meta = {'device': str(jax.devices()[0].device_kind), 'chains': _CHAINS.value,
          'warmup': _WARMUP.value, 'draws': _DRAWS.value,
          'num_steps': _STEPS.value}
  if _OUT.value:
    os.makedirs(os.path.dirname(_OUT.value) or '.', exist_ok=True)
    with open(_OUT.value, 'w') as f:
      json.dump({'meta': meta, 'results': results}, f, indent=1)


if __name__ == '__main__':
  app.run(main)
