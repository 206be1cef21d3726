"""Reopen a trained run: `load_run(workdir) -> Run`.

The one way back from a workdir to a model: it reads the run's
config.json, imports its family (`config.entry`, e.g. `vae.train`), rebuilds
the objective with the family's `build(config, dataset)` on a stand-in
dataset of the right shapes (`common.data.spec`: no data is read, except a
local .npz whose shapes only the file knows), and restores the evaluation
variables (EMA parameters where the run kept them) from the newest
checkpoint, verified against its checksums. The VAE that HMC samples the
posterior of, the VAE that bits-back coding compresses with, M1 under M1+M2
and the benchmarks all come through here.
"""
import copy
import dataclasses
import importlib
import json
import os
import tempfile
from typing import Any

import ml_collections

from common import data as data_lib
from common import record
from common import trainer
from common.errors import ConfigError


@dataclasses.dataclass
class Run:
  """A trained run, ready for evaluation and inference."""
  workdir: str
  config: ml_collections.ConfigDict
  objective: Any                    # common.objective.Objective
  variables: dict                   # {'params': ..., other collections}
  dataset: data_lib.Dataset | None  # What the model was built for: a
                                    # spec_only stand-in, the data the caller
                                    # gave (as the family trains on it), or
                                    # None for a data-free objective.


def run_entry(config, workdir, command=None):
  """Runs `config.entry`'s main in `workdir`: what launch.py does for a
  config, and what any code that trains a config (coding.run's VAE, tests)
  calls. The entry commits the run record (config.json, and command.txt
  with `command`) once its inputs are valid; one that does not is recorded
  here when it finishes."""
  check_workdir(workdir)
  record.check_same_experiment(config, workdir)
  try:
    entry = importlib.import_module(config.entry)
  except ImportError as e:
    raise ConfigError(f'cannot import config.entry {config.entry!r}: {e}') from e
  with record.command_line(command):
    final = entry.main(config, workdir)
    record.commit(config, workdir)
  return final


def check_workdir(workdir):
  """Fails unless `workdir` is, or can be created as, a writable directory."""
  path = os.path.abspath(workdir)
  if os.path.exists(path) and not os.path.isdir(path):
    raise ConfigError(f'workdir {workdir} is a file, not a directory')
  existing = path
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise ConfigError(f'cannot create workdir {workdir}: {existing} is a file')
  try:  # os.access is not enough: root passes it on read-only file systems.
    fd, probe = tempfile.mkstemp(prefix='.write-test-', dir=existing)
    os.close(fd)
    os.remove(probe)
  except OSError as e:
    what = 'is not writable' if existing == path else (
        f'cannot be created ({existing} is not writable)')
    raise ConfigError(f'workdir {workdir} {what}: {e.strerror}') from None


def read_config(workdir, flag='workdir', hint='train it first'):
  """The config.json of the run in `workdir`, or a clear error naming `flag`."""
  path = os.path.join(workdir, 'config.json') if workdir else ''
  if not path or not os.path.exists(path):
    raise ConfigError(f'{flag}={workdir!r} has no config.json; {hint}')
  try:
    with open(path) as f:
      return ml_collections.ConfigDict(json.load(f))
  except ValueError as e:
    raise ConfigError(f'{path} is not valid JSON: {e}') from None


def check_kind(config, workdir, flag, hint, entry='vae.train', model='vae',
               what='a VAE'):
  """Stops in one line unless the saved `config` of the run in `workdir`
  (pointed to by `flag`) is an `entry` run of `model.name` `model`: a
  workdir holding another kind of run (another family, or no model at all)
  is refused before anything is rebuilt from it."""
  name = (config.get('model') or {}).get('name')
  if config.get('entry') != entry or name != model:
    held = ' / '.join(str(v) for v in (config.get('entry'), name) if v)
    raise ConfigError(f'{flag}={workdir} holds a {held or "nameless"} run, '
                      f'not {what}; {hint}')


def family(config):
  """The family module (`config.entry`) that builds this config's objective."""
  try:
    module = importlib.import_module(config.entry)
  except ImportError as e:
    raise ConfigError(f'cannot import entry {config.entry!r}: {e}') from e
  if not hasattr(module, 'build'):
    raise ConfigError(f'entry {config.entry!r} trains no model (it has no '
                      'build(config, dataset))')
  return module


def apply_overrides(config, overrides):
  """A copy of `config` with {'a.b': value} overrides; unknown keys fail.

  A string value for a non-string key is converted to the key's type
  ('model.eval_k=100' from a command line).
  """
  config = copy.deepcopy(config)
  for key, value in dict(overrides).items():
    *parents, leaf = key.split('.')
    node = config
    try:
      for p in parents:
        node = node[p]
      if leaf not in node:
        raise KeyError(leaf)
      old = node[leaf]
      if isinstance(value, str) and not isinstance(old, str):
        value = _parse_like(old, value)
      node[leaf] = value
    except (KeyError, AttributeError, TypeError, ValueError) as e:
      raise ConfigError(f'override {key}={value!r} is invalid: {e}') from None
  return config


def _parse_like(old, text):
  """`text` as a value of `old`'s type (bool: true/false/yes/no/1/0)."""
  if isinstance(old, bool):
    booleans = {'1': True, 'true': True, 'yes': True,
                '0': False, 'false': False, 'no': False}
    if text.lower() not in booleans:
      raise ValueError(f'{text!r} is not a boolean')
    return booleans[text.lower()]
  if isinstance(old, (int, float)):
    return type(old)(text)
  raise ValueError(f'a {type(old).__name__} cannot be set from the string '
                   f'{text!r}')


def load_run(workdir, flag='workdir', hint='train it first', dataset=None,
             overrides=None):
  """The trained run in `workdir` (see the module docstring).

  Args:
    flag, hint: name the setting that pointed here and the remedy, for the
      error when the workdir holds no run.
    dataset: the run's data, if the caller has it (some objectives need it
      to be rebuilt: M2 keeps its labelled subset); default: a stand-in.
    overrides: {'model.eval_k': 100, 'data.npz_path': ...} applied to the
      saved config first (evaluation settings; not the model's shape).
  """
  config = read_config(workdir, flag, hint)
  if overrides:
    config = apply_overrides(config, overrides)
  module = family(config)
  if dataset is None and config.get('data') is not None:
    dataset = data_lib.spec(config.data)
  if dataset is not None and hasattr(module, 'training_data'):
    # What the family trains on, when it is not the data itself (M1+M2:
    # M1's features of the images).
    dataset = module.training_data(config, dataset)
  objective = module.build(config, dataset)
  if not objective.needs_data:
    dataset = None
  variables = trainer.restore_variables(config, workdir, objective, dataset)
  return Run(workdir, config, objective, variables, dataset)
