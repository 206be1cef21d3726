"""What every model family shares: data, the training loop, checkpoints,
the run record and `load_run`, the objective contract and the errors.

  from common import load_run
  run = load_run('runs/digits')          # config, objective, variables
"""
from common.data import Dataset, load as load_data, spec as data_spec
from common.errors import (CheckpointError, ConfigError, DataError,
                           NonFiniteLossError, UserError)
from common.objective import Objective
from common.runs import Run, load_run, read_config
from common.trainer import fit

__all__ = ['CheckpointError', 'ConfigError', 'DataError', 'Dataset',
           'NonFiniteLossError', 'Objective', 'Run', 'UserError', 'data_spec',
           'fit', 'load_data', 'load_run', 'read_config']
