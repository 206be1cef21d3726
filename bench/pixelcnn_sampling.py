"""Sampling time of a PixelCNN-family model: naive vs fast (fixed-point).

  python bench/pixelcnn_sampling.py --workdir=runs/pixelcnn_digits [--n=16]
      [--seeds=3] [--npz_path=FILE] [--out=bench/results/x.json]
  python bench/pixelcnn_sampling.py --config=configs/pixelcnnpp_cifar.py ...
      (an untrained, randomly initialised network of that config)

Both samplers are jitted; compile time is reported separately and the
timings are of compiled calls. For every seed the two samples are compared
element by element (they must be identical) and the number of forward passes
the fast sampler needed is recorded next to the naive sampler's fixed count.
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

_WORKDIR = flags.DEFINE_string('workdir', '', 'Trained run (or use --config).')
_CONFIG = config_flags.DEFINE_config_file('config', None, 'Untrained config.')
_N = flags.DEFINE_integer('n', 16, 'Images per sampler call.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Timed calls (one key each).')
_NPZ = flags.DEFINE_string('npz_path', '', 'Overrides config.data.npz_path.')
_OUT = flags.DEFINE_string('out', '', 'Optional JSON output path.')


def _timed(fn):
  start = time.time()
  out = jax.block_until_ready(fn())
  return out, time.time() - start


def main(_):
  logging.set_verbosity(logging.WARNING)
  if _WORKDIR.value:
    run = runs.load_run(_WORKDIR.value, overrides=(
        {'data.npz_path': _NPZ.value} if _NPZ.value else None))
    objective, variables = run.objective, run.variables
    source = _WORKDIR.value
  else:
    config = _CONFIG.value
    dataset = data_lib.load(config.data)
    objective = runs.family(config).build(config, dataset)
    batch = {'x': dataset.x_train[:config.batch_size]}
    if dataset.y_train is not None:
      batch['y'] = dataset.y_train[:config.batch_size]
    variables = jax.jit(objective.init)(jax.random.key(0), batch)
    source = flags.FLAGS['config'].config_filename + ' (untrained)'
  n = _N.value
  steps = int(heads.step_index(objective.data_shape,
                               objective.head.steps_per_pixel).max()) + 1
  key = lambda s: jax.random.key(1000 + s)
  # First calls compile (and run once).
  _, naive_compile = _timed(lambda: objective.naive_sample(variables, key(-1), n))
  _, fast_compile = _timed(lambda: objective.fast_sample(variables, key(-1), n))
  naive_s, fast_s, passes, identical = [], [], [], True
  for seed in range(_SEEDS.value):
    a, t_naive = _timed(lambda: objective.naive_sample(variables, key(seed), n))
    (b, p), t_fast = _timed(lambda: objective.fast_sample(variables, key(seed), n))
    identical &= bool(np.array_equal(np.asarray(a), np.asarray(b)))
    naive_s.append(t_naive)
    fast_s.append(t_fast)
    passes.append(int(p))
  result = {
      'model': source, 'device': str(jax.devices()[0].device_kind),
      'images_per_call': n, 'shape': list(objective.data_shape),
      'naive_passes': steps, 'fast_passes': passes,
      'naive_compile_s': round(naive_compile, 2),
      'fast_compile_s': round(fast_compile, 2),
      'naive_s': round(float(np.mean(naive_s)), 3),
      'fast_s': round(float(np.mean(fast_s)), 3),
      'speedup': round(float(np.mean(naive_s) / np.mean(fast_s)), 2),
      'identical': identical}
  print(json.dumps(result))
  if _OUT.value:
    os.makedirs(os.path.dirname(_OUT.value) or '.', exist_ok=True)
    with open(_OUT.value, 'w') as f:
      json.dump(result, f, indent=1)
  if not identical:
    raise SystemExit('fast and naive samples differ')


if __name__ == '__main__':
  app.run(main)
