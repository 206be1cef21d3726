"""The run record: `config.json` and `command.txt` in the workdir.

An entry commits the record only once its config, data and (for a resumed
run) checkpoint have been validated, so a run that stops on bad input leaves
no record behind, and a workdir's `config.json` always describes what its
checkpoints hold. When a run restarts with another config (other overrides),
the earlier record is kept as `config.<n>.json` and `command.<n>.txt`
(n = 1, 2, ... in order), never overwritten.

`launch.py` sets the command line with `command_line(...)`; runs started from
Python write no `command.txt`. A restart with the same config keeps the
first command that produced it (a differently spelled command line for the
same config is not recorded).

A resumed run must build the same model: `check_resumable` compares the
keys that shape the saved state (`entry`, `model.*`, `data.name`,
`data.levels`) with the saved config before anything is compiled and stops
with one line listing every difference; a checkpoint whose arrays differ
for another reason (the optimizer, EMA) is reported by `mismatch_error`
with every key that differs. Every entry, trained or not, first passes
`check_same_experiment` (`runs.run_entry`): a workdir whose saved config has
another entry, model, data or target is refused before anything in it is
overwritten.
"""
import contextlib
import contextvars
import json
import os

import jax

from common.errors import ConfigError

_COMMAND = contextvars.ContextVar('command', default=None)

# Keys whose values shape the train state; a resumed run may change any other.
STATE_KEYS = ('entry', 'model', 'data.name', 'data.levels')
# Keys that name the experiment a workdir holds (also for entries without a
# train state: HMC's and VI's target); a rerun there may change any other.
EXPERIMENT_KEYS = STATE_KEYS + ('target', 'dim')


@contextlib.contextmanager
def command_line(command):
  """Runs inside this context record `command` (a string) in command.txt."""
  token = _COMMAND.set(command)
  try:
    yield
  finally:
    _COMMAND.reset(token)


def as_dict(config):
  """The config as plain JSON values (tuples become lists, as saved)."""
  return json.loads(config.to_json_best_effort())


def saved_config(workdir):
  """The workdir's saved config.json as a dict, or None."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      return json.load(f)
  except ValueError as e:
    raise ConfigError(f'{path} is not valid JSON ({e}); restore it or move '
                      'the workdir away') from e


def check_same_experiment(config, workdir):
  """Stops if `workdir` holds another experiment (another entry, model,
  data or target) than `config`, before its results are overwritten."""
  saved = saved_config(workdir)
  if saved is None:
    return
  diffs = differences(_select(saved, EXPERIMENT_KEYS),
                      _select(as_dict(config), EXPERIMENT_KEYS))
  if diffs:
    raise ConfigError(
        f'workdir {workdir} holds another experiment: its saved config.json '
        f'differs in {_describe(diffs)}. Use another workdir (or the saved '
        'values)')


def check_resumable(config, workdir):
  """Stops if `config` would build another state than the saved run's."""
  saved = saved_config(workdir)
  if saved is None:
    return
  diffs = differences(_select(saved), _select(as_dict(config)))
  if diffs:
    raise ConfigError(
        f'cannot resume {workdir}: the model config differs from its saved '
        f'config.json in {_describe(diffs)}. Use the saved values or another '
        'workdir')


def mismatch_error(config, workdir, reason):
  """The ConfigError for a checkpoint that holds another train state than
  `config` builds (e.g. EMA or gradient clipping switched on): `reason`,
  and every key in which the config differs from the saved one."""
  saved = saved_config(workdir)
  diffs = differences(saved, as_dict(config)) if saved is not None else []
  if saved is None:
    keys = 'it has no config.json to compare the config with'
  elif diffs:
    keys = f'the config differs from its saved config.json in {_describe(diffs)}'
  else:
    keys = 'the config is the same as the saved config.json (the code changed?)'
  return ConfigError(f'cannot resume {workdir}: {reason}; {keys}. Use the saved '
                     'values or another workdir')


def _describe(diffs):
  shown = '; '.join(f'{k}: {a} (saved) vs {b} (now)' for k, a, b in diffs[:8])
  more = f'; and {len(diffs) - 8} more' if len(diffs) > 8 else ''
  return f'{len(diffs)} key(s): {shown}{more}'


def commit(config, workdir):
  """Writes config.json (and command.txt), keeping a differing earlier pair."""
  if jax.process_index() != 0:
    return
  os.makedirs(workdir, exist_ok=True)
  config_path = os.path.join(workdir, 'config.json')
  command_path = os.path.join(workdir, 'command.txt')
  command = _COMMAND.get()
  saved = saved_config(workdir)
  if saved is not None and saved == as_dict(config):
    if command and not os.path.exists(command_path):
      _write(command_path, command + '\n')
    return
  if saved is not None:
    n = 1
    while os.path.exists(os.path.join(workdir, f'config.{n}.json')):
      n += 1
    os.replace(config_path, os.path.join(workdir, f'config.{n}.json'))
    if os.path.exists(command_path):
      os.replace(command_path, os.path.join(workdir, f'command.{n}.txt'))
  _write(config_path, config.to_json_best_effort(indent=1))
  if command:
    _write(command_path, command + '\n')


def differences(a, b, prefix=''):
  """[(dotted key, value in a, value in b)] where nested dicts a, b differ."""
  out = []
  for key in sorted(set(a) | set(b), key=str):
    name = f'{prefix}{key}'
    va, vb = a.get(key, '<absent>'), b.get(key, '<absent>')
    if isinstance(va, dict) and isinstance(vb, dict):
      out += differences(va, vb, name + '.')
    elif va != vb:
      out.append((name, va, vb))
  return out


def _select(config_dict, keys=STATE_KEYS):
  out = {}
  for key in keys:
    *parents, leaf = key.split('.')
    src, dst = config_dict, out
    for p in parents:
      src = src.get(p, {}) if isinstance(src, dict) else {}
      dst = dst.setdefault(p, {})
    if isinstance(src, dict) and leaf in src:
      dst[leaf] = src[leaf]
  return out


def _write(path, text):
  """Writes whole or not at all (a temporary file renamed into place)."""
  tmp = path + '.partial'
  with open(tmp, 'w') as f:
    f.write(text)
  os.replace(tmp, path)
