"""Runs one experiment, or a sweep, from a config file.

  python launch.py --config=configs/<x>.py[:arg] --workdir=DIR [--config.key=value ...]
  python launch.py --config=configs/<x>.py --workdir=DIR --sweep           # runs every point
  python launch.py --config=configs/<x>.py --workdir=DIR --sweep_dry_run   # prints commands
  python launch.py ... --multihost    # TPU pods, SLURM/MPI GPU clusters

It writes config.json and command.txt into the workdir, imports
`config.entry` and calls its `main(config, workdir)`. The same workdir always
resumes. Failures the user can fix end with one line `error: ...` and exit
code 1. There is no math here.
"""
import copy
import csv
import importlib
import importlib.util
import json
import os
import re
import shlex
import sys
import traceback

from absl import flags
from absl import logging
from ml_collections import config_flags

from common.errors import ConfigError, UserError

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Experiment config file, e.g. configs/realnvp_cifar.py:smoke.',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Output and checkpoint directory.')
_SWEEP = flags.DEFINE_bool('sweep', False,
                           "Run every point of the config's get_sweep().")
_SWEEP_DRY_RUN = flags.DEFINE_bool(
    'sweep_dry_run', False, 'Print one command per sweep point and exit.')
_MULTIHOST = flags.DEFINE_bool(
    'multihost', False, 'Call jax.distributed.initialize() first.')


def run(config, workdir):
  """Runs `config.entry`'s main in `workdir`: the entry tests use too."""
  import jax  # pylint: disable=g-import-not-at-top
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      f.write(config.to_json_best_effort(indent=1))
  try:
    entry = importlib.import_module(config.entry)
  except ImportError as e:
    raise ConfigError(f'cannot import config.entry {config.entry!r}: {e}') from e
  return entry.main(config, workdir)


def apply_overrides(config, overrides):
  """A copy of `config` with {'a.b': value} overrides; unknown keys fail."""
  config = copy.deepcopy(config)
  for key, value in overrides.items():
    *parents, leaf = key.split('.')
    node = config
    try:
      for p in parents:
        node = node[p]
      if leaf not in node:
        raise KeyError(leaf)
      node[leaf] = value
    except (KeyError, AttributeError, TypeError) as e:
      raise ConfigError(f'sweep override {key}={value!r} is invalid: {e}') from e
  return config


def point_name(overrides):
  parts = [f'{k.split(".")[-1]}={v}' for k, v in overrides.items()]
  return re.sub(r'[^A-Za-z0-9_.=,-]', '_', ','.join(parts)) or 'default'


def _load_config_module(config_arg):
  path = config_arg.split(':', 1)[0]
  spec = importlib.util.spec_from_file_location('_sweep_config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def sweep(config, config_arg, workdir, argv, dry_run):
  """Runs (or prints) every point of the config file's get_sweep()."""
  module = _load_config_module(config_arg)
  if not hasattr(module, 'get_sweep'):
    raise ConfigError(f'{config_arg} defines no get_sweep()')
  arg = config_arg.split(':', 1)[1] if ':' in config_arg else None
  points = module.get_sweep(arg)
  passthrough = [a for a in argv[1:] if a.startswith('--config.')]
  rows = []
  for overrides in points:
    subdir = os.path.join(workdir, point_name(overrides))
    if dry_run:
      cmd = ['python', 'launch.py', f'--config={config_arg}',
             f'--workdir={subdir}', *passthrough]
      cmd += [f'--config.{k}={v}' for k, v in overrides.items()]
      print(shlex.join(cmd))
      continue
    print(f'sweep point {point_name(overrides)}', file=sys.stderr, flush=True)
    final = run(apply_overrides(config, overrides), subdir)
    rows.append({'point': point_name(overrides), **overrides, **(final or {})})
    _write_csv(os.path.join(workdir, 'sweep.csv'), rows)
  return rows


def _write_csv(path, rows):
  columns = list(dict.fromkeys(k for row in rows for k in row))
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, columns)
    writer.writeheader()
    writer.writerows(rows)


def _explain_flag_error(argv, error):
  """One line for a flag-parsing failure, naming a bad --config.key if any."""
  for arg in argv[1:]:
    if arg.startswith('--config.'):
      key = arg[len('--config.'):].split('=', 1)[0]
      if key.split('.')[-1] in str(error):
        return f'unknown or invalid config key --config.{key} ({error!r})'
  return f'bad command line: {error}'


def main(argv):
  """Parses `argv` and runs; returns the process exit code."""
  # ml_collections finds --config.key overrides in sys.argv, not in argv.
  sys.argv = list(argv)
  try:
    flags.FLAGS(argv)
  except Exception as e:  # pylint: disable=broad-except
    print(f'error: {_explain_flag_error(argv, e)}', file=sys.stderr)
    return 2
  if _CONFIG.value is None or not _WORKDIR.value:
    print('error: --config and --workdir are required', file=sys.stderr)
    return 2
  # Our progress lines go through common.metrics.log; keep library chatter
  # (orbax logs every save at INFO) out of the way.
  logging.set_verbosity(logging.WARNING)
  try:
    if _MULTIHOST.value:
      from common import sharding  # pylint: disable=g-import-not-at-top
      sharding.initialize_multihost()
    config, workdir = _CONFIG.value, _WORKDIR.value
    config_arg = flags.FLAGS['config'].config_filename
    if _SWEEP.value or _SWEEP_DRY_RUN.value:
      sweep(config, config_arg, workdir, argv, _SWEEP_DRY_RUN.value)
      return 0
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'command.txt'), 'w') as f:
      f.write(shlex.join([sys.executable] + argv) + '\n')
    final = run(config, workdir)
    print(json.dumps(final or {}, indent=1))
    return 0
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  except Exception as e:  # pylint: disable=broad-except
    traceback.print_exc()
    print(f'error: {type(e).__name__}: {e}', file=sys.stderr)
    return 1


if __name__ == '__main__':
  sys.exit(main(sys.argv))
