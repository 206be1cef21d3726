"""Evaluates a trained run again, on all or a fixed random subset of its test split.

  python bench/evaluate_workdir.py --workdir=runs/vae_k1_e40 [--examples=1000]
      [--set=model.eval_k=5000] [--npz_path=FILE] [--out=FILE.json]

Rebuilds the objective from the workdir's config.json, restores its latest
checkpoint (a damaged latest checkpoint is an error here, never a silent
fallback to an older one) and runs the trainer's own evaluation (`evaluate_variables`, with
the run's eval key and the trainer's fixed random subset), so runs evaluated
with the same --examples see the same images. Used when a
full k=5000 evaluation of an expensive posterior (IAF) does not fit the
budget, and to compare models on identical images.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top
from absl import app
from absl import flags
from absl import logging

from common import sharding
from common import trainer
from common import data as data_lib
from common import runs
from common.errors import UserError

_WORKDIR = flags.DEFINE_string('workdir', None, 'Trained run.', required=True)
_EXAMPLES = flags.DEFINE_integer('examples', 0, 'Test examples; 0 = all.')
_SET = flags.DEFINE_multi_string('set', [], 'model.key=value overrides '
                                 '(evaluation settings such as model.eval_k).')
_NPZ = flags.DEFINE_string('npz_path', '', 'Overrides config.data.npz_path.')
_OUT = flags.DEFINE_string('out', '', 'Optional JSON output path.')


def main(_):
  logging.set_verbosity(logging.WARNING)  # orbax logs every step at INFO.
  try:
    _evaluate()
  except UserError as e:
    sys.exit(f'error: {e}')


def _evaluate():
  bad = [item for item in _SET.value if '=' not in item]
  if bad:
    raise UserError(f'--set takes key=value, got {bad[0]!r}')
  overrides = dict(item.split('=', 1) for item in _SET.value)
  if _NPZ.value:
    overrides['data.npz_path'] = _NPZ.value
  # The data (the test split to evaluate; M2 also rebuilds from it).
  dataset = data_lib.load(runs.apply_overrides(
      runs.read_config(_WORKDIR.value), overrides).data)
  run = runs.load_run(_WORKDIR.value, dataset=dataset, overrides=overrides)
  config, objective, variables = run.config, run.objective, run.variables
  dataset = run.dataset
  eval_fn = jax.jit(lambda params, mut, batch, rng: objective.evaluate(
      {'params': params, **mut}, batch, rng))
  start_time = time.time()
  metrics = trainer.evaluate_variables(
      variables, dataset, config, sharding.make_mesh(), eval_fn,
      trainer.rng_streams(config.seed)[2], _EXAMPLES.value)
  examples = _EXAMPLES.value if 0 < _EXAMPLES.value < len(dataset.x_test) else len(dataset.x_test)
  result = {'workdir': _WORKDIR.value, 'examples': examples,
            'seconds': round(time.time() - start_time, 1), **metrics}
  print(json.dumps(result, indent=1))
  if _OUT.value:
    with open(_OUT.value, 'w') as f:
      json.dump(result, f, indent=1)


if __name__ == '__main__':
  app.run(main)
