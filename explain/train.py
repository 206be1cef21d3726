"""Entry for the tabular MLP (`config.entry = 'explain.train'`): a Flax MLP
on scikit-learn's diabetes (regression) or breast-cancer (classification)
data (`common.data`'s tables), trained by `common.trainer.fit`, for the
explainers to explain. `common.runs.load_run` reopens it unaided.
"""
import numpy as np

from common import data as data_lib
from common import trainer
from common.errors import ConfigError, DataError
from explain import models


def build(config, dataset):
  """The MLP objective `config.model` describes, for a tabular `dataset`."""
  name = dataset.name
  if name not in data_lib.TABULAR:
    raise ConfigError('explain.train needs data.name in '
                      f'{sorted(data_lib.TABULAR)}; got {name!r}')
  task, classes, width = data_lib.TABULAR[name]
  width = config.data.get('num_features', 0) or width
  if dataset.x_train.ndim != 2 or dataset.x_train.shape[1] != width:
    raise DataError(f'{name} rows have shape {dataset.x_train.shape[1:]}; '
                    f'expected ({width},)')
  m = config.model
  model = models.MLP(hidden=tuple(m.hidden), activation=m.activation,
                     outputs=1 if task == 'regression' else classes)
  x = dataset.x_train.astype(np.float64)
  scale = x.std(0)
  kw = {}
  if task == 'regression':
    y = dataset.y_train.astype(np.float64)
    kw = dict(y_mean=y.mean(), y_scale=y.std())
  return models.TabularObjective(model, task, x.mean(0),
                                 np.where(scale > 0, scale, 1.0), **kw)


def main(config, workdir):
  dataset = data_lib.load(config.data)
  return trainer.fit(config, workdir, build(config, dataset), dataset)
