"""Training throughput of a config: images/s of the trainer's jitted step.

  python bench/train_throughput.py --config=configs/realnvp_cifar.py [--steps=5]
      [--config.key=value ...] [--out=bench/results/x.json]

Uses random data of the config's shape (no dataset needed), the same
objective, optimizer and `make_train_step` as `common.trainer.fit`, on all
local devices. Compile time is reported separately; throughput is measured
over `--steps` steps after one warm-up step. `--steps=0` only compiles (for
a batch whose step does not fit in this machine's memory).
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
from ml_collections import config_flags

from common import data as data_lib
from common import sharding
from common import trainer
from common import runs
from bench import output  # pylint: disable=wrong-import-position

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file.')
_STEPS = flags.DEFINE_integer('steps', 5, 'Timed steps; 0: compile only.')
_OUT = flags.DEFINE_string('out', '', 'Optional JSON output path.')


def main(_):
  config = _CONFIG.value
  if config is None or config.get('data', {}).get('name') not in data_lib.SHAPES:
    raise app.UsageError('--config must be a config that trains on images, '
                         f'one of {sorted(data_lib.SHAPES)}')
  shape, levels = data_lib.SHAPES[config.data.name][:2]
  rng = np.random.default_rng(0)
  n = config.batch_size * 2
  x = rng.integers(0, levels, (n, *shape), dtype=np.uint8)
  dataset = data_lib.Dataset(config.data.name, x, x, levels)
  objective = runs.family(config).build(config, dataset)
  mesh = sharding.make_mesh()
  batch = sharding.put_batch({'x': x[:config.batch_size]}, mesh)
  tx, schedule = trainer.make_tx(config, 1000, objective, jax.eval_shape(
      objective.init, jax.random.key(0), batch)['params'])
  ema = config.optim.ema_decay
  state = trainer.create_state(objective, tx, jax.random.key(0),
                               jax.random.key(1), batch, ema)
  params = state.params
  step = jax.jit(trainer.make_train_step(objective, tx, schedule, ema),
                 donate_argnums=(0,))
  start = time.time()
  compiled = step.lower(state, batch).compile()
  compile_s = time.time() - start
  result = {
      'config': flags.FLAGS['config'].config_filename,
      'overrides': [a for a in sys.argv[1:] if a.startswith('--config.')],
      'device': str(jax.devices()[0].device_kind), 'num_devices': jax.device_count(),
      'batch_size': config.batch_size,
      'params': int(sum(p.size for p in jax.tree.leaves(params))),
      'compile_s': round(compile_s, 2)}
  if _STEPS.value > 0:
    state, m = compiled(state, batch)
    jax.block_until_ready(m)
    start = time.time()
    for _ in range(_STEPS.value):
      state, m = compiled(state, batch)
      jax.block_until_ready(m['loss'])  # Per-step sync, as on multi-device CPU.
    seconds = (time.time() - start) / _STEPS.value
    result.update(step_s=round(seconds, 4),
                  images_per_s=round(config.batch_size / seconds, 2),
                  loss=float(m['loss']))
  print(json.dumps(result))
  if _OUT.value:
    output.write_json(_OUT.value, result)


if __name__ == '__main__':
  app.run(main)
