"""Gradient variance and cost of every estimator on the same SBN parameters.

  python bench/estimator_variance.py --workdir=runs/est/linear1_relax [--step=0]
      [--draws=500] [--tune_steps=300] [--out=bench/results/estimator_variance.json]

Two settings, every estimator on the same parameters and images:
  * the trained SBN in `--workdir` (a checkpoint from the middle of training:
    `--step`, default the oldest one kept), on 24 training images; the
    reference gradient is the mean of `--reference_draws` draws of the
    lowest-variance unbiased estimator;
  * a small SBN (16 pixels, 4 latents, random parameters) whose exact
    gradient comes from enumerating the 16 latent states.
Before measuring, each estimator's control variates (NVIL's baseline,
REBAR's eta and temperature, RELAX's c_phi) and running baselines adapt for
`--tune_steps` steps with the model held fixed, so each gets its best
control on these parameters (NVIL without its variance normalisation,
which rescales the step rather than estimating the gradient). Reported
per estimator: the mean over the
recognition network's parameters of the per-parameter variance of the
gradient estimate (and its log, the REBAR/RELAX papers' figure), the
relative bias |mean - reference| / |reference|, microseconds per gradient
(compiled, batch of 24, vmapped draws; compile time apart), and variance x
time, the cost of a given accuracy. Writes the JSON and a PNG beside it.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp
import numpy as np
import optax
from absl import app
from absl import flags
from absl import logging

from common import checkpoint
from common import data as data_lib
from common import runs
from sbn import models
from sbn import objective as objective_lib

_WORKDIR = flags.DEFINE_string('workdir', 'runs/est/linear1_relax', 'Trained SBN run.')
_STEP = flags.DEFINE_integer('step', 0, 'Checkpoint step; 0 = the oldest kept.')
_DRAWS = flags.DEFINE_integer('draws', 500, 'Gradient draws per estimator.')
_REF = flags.DEFINE_integer('reference_draws', 5000, 'Draws of the reference.')
_TUNE = flags.DEFINE_integer('tune_steps', 300, 'Control-variate adaptation steps.')
_OUT = flags.DEFINE_string('out', 'bench/results/estimator_variance.json',
                           'JSON output; the PNG goes beside it.')

UNBIASED = ('reinforce', 'nvil', 'muprop', 'rebar', 'relax', 'arm', 'disarm')
BIASED = ('concrete', 'straight_through', 'straight_through_mean',
          'straight_through_gumbel')


def _recognition(tree):
  return {k: v for k, v in tree['model'].items() if k.startswith('recognition')}


def _adapt(objective, variables, batch, steps):
  """Control variates and running baselines adapt; the model stays fixed."""
  params = variables['params']
  if 'cv' not in params and 'estimator_state' not in variables:
    return variables
  tx = optax.adam(1e-3)
  opt = tx.init(params.get('cv', {}))

  @jax.jit
  def step(variables, opt, key):
    grads, _, mutables = objective.grads(variables, batch, key)
    params = dict(variables['params'])
    if 'cv' in params:
      update, opt = tx.update(grads['cv'], opt)
      params['cv'] = optax.apply_updates(params['cv'], update)
    return {**variables, 'params': params, **mutables}, opt

  for i in range(steps):
    variables, opt = step(variables, opt, jax.random.key(10_000 + i))
  return variables


def measure(name, model, model_params, batch, levels, draws, tune_steps, seed=0):
  """(per-draw recognition gradients [draws, P], microseconds per gradient)."""
  objective = objective_lib.SBNObjective(model, name, levels, eval_k=2,
                                         eval_chunk=1, nvil_normalise=False)
  variables = objective.init(jax.random.key(seed), batch)
  variables = {**variables, 'params': {**variables['params'], 'model': model_params}}
  variables = _adapt(objective, variables, batch, tune_steps)
  flat = lambda g: jnp.concatenate([x.ravel() for x in jax.tree.leaves(
      _recognition(g))])
  fn = jax.jit(jax.vmap(lambda k: flat(objective.grads(variables, batch, k)[0])))
  keys = jax.random.split(jax.random.key(seed + 1), draws)
  start = time.time()
  jax.block_until_ready(fn(keys))  # Compiles.
  compile_s = time.time() - start
  start = time.time()
  grads = np.asarray(jax.block_until_ready(fn(keys)), np.float64)
  micros = 1e6 * (time.time() - start) / draws
  return grads, micros, compile_s


def _row(name, grads, micros, compile_s, reference):
  var = float(np.mean(np.var(grads, 0)))
  bias = float(np.linalg.norm(grads.mean(0) - reference) / np.linalg.norm(reference))
  # |mean - reference| in standard errors of the mean, median over the
  # parameters: about 0.67 for an unbiased estimator (half-normal median).
  se = np.std(grads, 0) / np.sqrt(len(grads)) + 1e-30
  bias_z = float(np.median(np.abs(grads.mean(0) - reference) / se))
  return {'estimator': name, 'variance': var, 'log_variance': float(np.log(var)),
          'relative_bias': bias, 'bias_z_median': bias_z, 'micros_per_grad': micros,
          'variance_x_seconds': var * micros * 1e-6, 'compile_s': compile_s}


def _small_sbn_rows(draws, tune_steps):
  """Exact gradients by enumeration on 16 pixels and 4 latents."""
  model = models.SBN(data_dim=16, layers=(4,))
  rng = np.random.default_rng(0)
  x = (rng.uniform(size=(24, 16, 1, 1)) < 0.4).astype(np.uint8)
  batch = {'x': x}
  objective = objective_lib.SBNObjective(model, 'reinforce', 2)
  params = jax.tree.map(lambda a: jnp.asarray(rng.normal(scale=0.5, size=a.shape),
                                              a.dtype),
                        objective.init(jax.random.key(0), batch)['params']['model'])
  xf = jnp.asarray(x.reshape(24, -1), jnp.float32)
  states = jnp.array(np.array(np.meshgrid(*[[0.0, 1.0]] * 4)).reshape(4, -1).T)

  def expected(p):
    total = 0.0
    for s in states:
      zs = [jnp.broadcast_to(s, (24, 4))]
      log_q = model.apply({'params': p}, xf, zs, method=model.log_q)
      elbo = model.apply({'params': p}, xf, zs, method=model.log_joint) - log_q
      total = total + jnp.exp(log_q) * elbo
    return jnp.mean(total)

  exact = jax.tree.map(jnp.negative, jax.grad(expected)(params))
  reference = np.concatenate([np.ravel(v) for v in jax.tree.leaves(
      _recognition({'model': exact}))])
  rows = []
  for name in UNBIASED + BIASED:
    grads, micros, compile_s = measure(name, model, params, batch, 2, draws,
                                       tune_steps)
    rows.append(_row(name, grads, micros, compile_s, reference))
  return rows


def main(_):
  logging.set_verbosity(logging.WARNING)
  run = runs.load_run(_WORKDIR.value)
  ckpt = checkpoint.Checkpointer(os.path.join(_WORKDIR.value, 'checkpoints'))
  step = _STEP.value or ckpt.all_steps()[0]
  state, _ = ckpt.restore(None, step)
  model_params = jax.tree.map(jnp.asarray, state['params']['model'])
  dataset = data_lib.load(run.config.data)
  batch = {'x': dataset.x_train[:24]}
  model, levels = run.objective.model, run.objective.levels
  measured = {name: measure(name, model, model_params, batch, levels,
                            _DRAWS.value, _TUNE.value)
              for name in UNBIASED + BIASED}
  best = min(UNBIASED, key=lambda n: np.mean(np.var(measured[n][0], 0)))
  ref_grads, _, _ = measure(best, model, model_params, batch, levels, _REF.value,
                            _TUNE.value, seed=1)
  reference = ref_grads.mean(0)
  rows = [_row(n, *measured[n], reference) for n in UNBIASED + BIASED]
  out = {'workdir': _WORKDIR.value, 'step': int(step), 'draws': _DRAWS.value,
         'reference': f'mean of {_REF.value} draws of {best}',
         'mnist_sbn': rows, 'small_sbn_exact': _small_sbn_rows(_DRAWS.value,
                                                              _TUNE.value)}
  os.makedirs(os.path.dirname(_OUT.value) or '.', exist_ok=True)
  with open(_OUT.value, 'w') as fh:
    json.dump(out, fh, indent=1)
  for title, key in (('MNIST SBN (step %d)' % step, 'mnist_sbn'),
                     ('small SBN, exact gradient', 'small_sbn_exact')):
    print(title)
    print(f'{"estimator":24s} {"log var":>8s} {"bias z":>7s} {"us/grad":>8s} '
          f'{"var x s":>10s}')
    for r in out[key]:
      print(f'{r["estimator"]:24s} {r["log_variance"]:8.2f} {r["bias_z_median"]:7.2f} '
            f'{r["micros_per_grad"]:8.0f} {r["variance_x_seconds"]:10.3g}')
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(6, 4.5))
  for r in rows:
    ax.scatter(r['micros_per_grad'], r['log_variance'],
               marker='o' if r['estimator'] in UNBIASED else 'x')
    ax.annotate(r['estimator'], (r['micros_per_grad'], r['log_variance']),
                fontsize=7)
  ax.set_xscale('log')
  ax.set_xlabel('microseconds per gradient (batch of 24)')
  ax.set_ylabel('log variance (recognition parameters)')
  ax.set_title(f'SBN on binarized MNIST, step {step} (x: biased)')
  fig.tight_layout()
  fig.savefig(os.path.splitext(_OUT.value)[0] + '.png', dpi=90)


if __name__ == '__main__':
  app.run(main)
