"""Runs one experiment, or a sweep, from a config file.

  python launch.py --config=configs/<x>.py[:arg] --workdir=DIR [--config.key=value ...]
  python launch.py --config=configs/<x>.py --workdir=DIR --sweep           # runs every point
  python launch.py --config=configs/<x>.py --workdir=DIR --sweep_dry_run   # prints commands
  python launch.py ... --multihost    # TPU pods, SLURM/MPI GPU clusters

It checks the config file, its arguments and the workdir, imports
`config.entry` and calls its `main(config, workdir)`, which writes
config.json and command.txt once its data and checkpoint have been validated
(common/record.py). The same workdir always resumes. Failures the user can
fix end with one line `error: ...` and a non-zero exit code (2 for a bad
command line: flags, the config file or its arguments, the workdir; 1 for
the rest), and a command line rejected here creates no workdir. There is no
math here.
"""
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

from common import runs
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


# The entry path (check the workdir, import config.entry, run its main with
# the command recorded); tests and coding.run use the same one.
run = runs.run_entry
check_workdir = runs.check_workdir


def check_config_arg(config_arg):
  """Loads the config file and calls get_config(arg) to report errors early.

  ml_collections would defer a missing file to the first access of the
  config and wrap an argument error in a traceback; here each is one line.
  """
  path, _, arg = config_arg.partition(':')
  if not os.path.isfile(path):
    raise ConfigError(f'config file not found: {path}')
  module = _load_config_module(config_arg)
  if not hasattr(module, 'get_config'):
    raise ConfigError(f'{path} defines no get_config()')
  try:
    # As ml_collections calls it: with the argument only if there is a ':'.
    module.get_config(*([arg] if ':' in config_arg else []))
  except UserError as e:
    raise ConfigError(f'--config={config_arg}: {e}') from None


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
  passthrough = _config_overrides(argv)
  # Printed commands run as printed: this interpreter and this launcher.
  launcher = [sys.executable, argv[0] if argv[0].endswith('.py') else 'launch.py']
  rows = []
  for overrides in points:
    subdir = os.path.join(workdir, point_name(overrides))
    cmd = [*launcher, f'--config={config_arg}', f'--workdir={subdir}',
           *passthrough, *(f'--config.{k}={v}' for k, v in overrides.items())]
    if dry_run:
      print(shlex.join(cmd))
      continue
    print(f'sweep point {point_name(overrides)}', file=sys.stderr, flush=True)
    final = run(runs.apply_overrides(config, overrides), subdir, shlex.join(cmd))
    rows.append({'point': point_name(overrides), **overrides, **(final or {})})
    _write_csv(os.path.join(workdir, 'sweep.csv'), rows)
  return rows


def _config_overrides(argv):
  """The --config.key=value overrides in argv, each as one argument (absl
  also takes '--config.key value'; a value never starts with '--')."""
  out, args = [], argv[1:]
  for i, arg in enumerate(args):
    if not arg.startswith(('--config.', '--noconfig.')):
      continue
    if ('=' not in arg and arg.startswith('--config.') and i + 1 < len(args)
        and not args[i + 1].startswith('--')):
      arg = f'{arg}={args[i + 1]}'
    out.append(arg)
  return out


def _write_csv(path, rows):
  columns = list(dict.fromkeys(k for row in rows for k in row))
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, columns)
    writer.writeheader()
    writer.writerows(rows)


def _flag_value(argv, name):
  """The value of the last --name=V or --name V in argv (as absl takes it),
  or None."""
  value = None
  for i, arg in enumerate(argv[1:], 1):
    if arg.startswith(f'--{name}='):
      value = arg.split('=', 1)[1]
    elif arg == f'--{name}' and i + 1 < len(argv):
      value = argv[i + 1]
  return value


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
    config_arg = _flag_value(argv, 'config')
    if config_arg:
      check_config_arg(config_arg)
    if _flag_value(argv, 'workdir'):
      check_workdir(_flag_value(argv, 'workdir'))
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
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
    final = run(config, workdir, shlex.join([sys.executable] + argv))
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
