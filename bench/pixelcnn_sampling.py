"""Sampling time of a PixelCNN-family model: naive, fast (fixed-point) and
cached (activation caches, arXiv:1704.06001).

  python bench/pixelcnn_sampling.py --workdir=runs/pixelcnn_digits [--n=16]
      [--seeds=3] [--npz_path=FILE] [--out=bench/results/x.json]
  python bench/pixelcnn_sampling.py --config=configs/pixelcnnpp_cifar.py ...
      (an untrained, randomly initialised network of that config)
      [--naive_steps=K] [--skip_fast]

All samplers are compiled ahead of time (`compile_s`: lowering and
compiling, no run) and the timings are of compiled calls. For every seed the samples are compared
element by element (they must be identical) and the number of forward passes
the fast sampler needed is recorded next to the naive sampler's fixed count.

--naive_steps=K (for networks whose naive sampler would take too long):
the naive sampler runs only its first K fori_loop steps, its time per step
is measured (compiled ahead of time, like the others) and multiplied by the
number of steps; the output says so (`naive_extrapolated`), and the direct
naive comparison then covers the sub-pixels of those first K steps only.

The cached sampler checks its own image with full forward passes and
repairs a value that rounding flipped (`cached_check_passes`: 1 = exact
already). Its output is checked again here, whole, with one forward pass
(`objective.sample_mismatches`: the sub-pixels that the pass would sample
differently; zero iff it is the naive sample), reported as
`fixed_point_mismatches` per seed and as `naive (all steps, fixed point)`.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top
import numpy as np
from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from common import data as data_lib
from common import runs
from pixelcnn import heads
from bench import output  # pylint: disable=wrong-import-position

_WORKDIR = flags.DEFINE_string('workdir', '', 'Trained run (or use --config).')
_CONFIG = config_flags.DEFINE_config_file('config', None, 'Untrained config.')
_N = flags.DEFINE_integer('n', 16, 'Images per sampler call.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Timed calls (one key each).')
_NPZ = flags.DEFINE_string('npz_path', '', 'Overrides config.data.npz_path.')
_OUT = flags.DEFINE_string('out', '', 'Optional JSON output path.')
_NAIVE_STEPS = flags.DEFINE_integer(
    'naive_steps', 0, '> 0: time only this many naive steps and extrapolate.')
_SKIP_FAST = flags.DEFINE_bool('skip_fast', False, 'Do not time the fast sampler.')


def _timed(fn):
  start = time.time()
  out = jax.block_until_ready(fn())
  return out, time.time() - start


def main(_):
  logging.set_verbosity(logging.WARNING)
  if (not _WORKDIR.value) == (_CONFIG.value is None):
    raise app.UsageError('give one of --workdir (a trained PixelCNN) or '
                         '--config (an untrained one)')
  if _WORKDIR.value:
    run = runs.load_run(_WORKDIR.value, overrides=(
        {'data.npz_path': _NPZ.value} if _NPZ.value else None))
    objective, variables = run.objective, run.variables
    source = _WORKDIR.value
  else:
    config = _CONFIG.value
    if _NPZ.value:
      config.data.npz_path = _NPZ.value
    dataset = data_lib.load(config.data)
    objective = runs.family(config).build(config, dataset)
    batch = {'x': dataset.x_train[:config.batch_size]}
    if dataset.y_train is not None:
      batch['y'] = dataset.y_train[:config.batch_size]
    variables = jax.jit(objective.init)(jax.random.key(0), batch)
    source = flags.FLAGS['config'].config_filename + ' (untrained)'
  n = _N.value
  step_of = heads.step_index(objective.data_shape, objective.head.steps_per_pixel)
  steps = int(step_of.max()) + 1
  naive_steps = _NAIVE_STEPS.value if 0 < _NAIVE_STEPS.value < steps else steps
  extrapolated = naive_steps < steps
  key = lambda s: jax.random.key(1000 + s)
  cls = type(objective)
  methods = {'naive': (cls.naive_sample, (n, naive_steps if extrapolated else None)),
             'cached': (cls.cached_sample, (n,))}
  if not _SKIP_FAST.value:
    methods['fast'] = (cls.fast_sample, (n,))
  # Compiled ahead of time, so compile time is apart from the timed calls.
  samplers, compile_s = {}, {}
  for name, (method, static) in methods.items():
    start = time.time()
    samplers[name] = method.lower(objective, variables, key(-1), *static).compile()
    compile_s[name] = time.time() - start
  start = time.time()  # The whole-image check, one forward pass.
  mismatches_fn = cls.sample_mismatches.lower(
      objective, variables, key(-1),
      jax.ShapeDtypeStruct((n, *objective.data_shape), np.int32)).compile()
  compile_s['fixed_point_check'] = time.time() - start
  mismatches = []
  times = {name: [] for name in samplers}
  identical = {name: True for name in samplers if name != 'cached'}
  passes = {'fast': [], 'cached': []}
  done = np.broadcast_to(step_of < naive_steps, (n, *objective.data_shape))
  for seed in range(_SEEDS.value):
    out = {}
    for name, fn in samplers.items():
      out[name], t = _timed(lambda: fn(variables, key(seed)))
      times[name].append(t)
      if name in passes:  # (samples, full forward passes used).
        out[name], p = out[name]
        passes[name].append(int(p))
    ref = np.asarray(out['cached'])
    mismatches.append(int(mismatches_fn(variables, key(seed), out['cached'])))
    for name in identical:
      a = np.asarray(out[name])
      identical[name] &= bool(np.array_equal(a[done], ref[done]) if name == 'naive'
                              else np.array_equal(a, ref))
  identical['naive (all steps, fixed point)'] = not any(mismatches)
  mean = {name: float(np.mean(t)) for name, t in times.items()}
  if extrapolated:  # Seconds per naive step times the number of steps.
    mean['naive'] *= steps / naive_steps
  result = {
      'model': source, 'device': str(jax.devices()[0].device_kind),
      'images_per_call': n, 'shape': list(objective.data_shape),
      'naive_passes': steps, 'fast_passes': passes['fast'],
      # Full passes of the cached sampler's check: 1 = the cached image was
      # exact, more = rounding flipped a value and the check repaired it.
      'cached_check_passes': passes['cached'],
      'naive_extrapolated': (f'naive timed over {naive_steps} of {steps} steps '
                             f'and scaled by {steps / naive_steps:.1f}'
                             if extrapolated else False),
      **{f'{name}_compile_s': round(t, 2) for name, t in compile_s.items()},
      **{f'{name}_s': round(t, 3) for name, t in mean.items()},
      'speedup_cached_vs_naive': round(mean['naive'] / mean['cached'], 2),
      **({'speedup_fast_vs_naive': round(mean['naive'] / mean['fast'], 2),
          'speedup_cached_vs_fast': round(mean['fast'] / mean['cached'], 2)}
         if 'fast' in mean else {}),
      'identical_to_cached': identical,
      'fixed_point_mismatches': mismatches,
      'load_average': os.getloadavg()[0],
      'command': ' '.join(sys.argv)}
  print(json.dumps(result))
  if _OUT.value:
    output.write_json(_OUT.value, result)
  if not all(identical.values()):
    raise SystemExit(f'samplers differ: {identical}')


if __name__ == '__main__':
  app.run(main)
