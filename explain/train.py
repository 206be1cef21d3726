"""Entry for the tabular MLP (`config.entry = 'explain.train'`): a Flax MLP
on scikit-learn's diabetes (regression) or breast-cancer (classification)
data, trained by `common.trainer.fit`, for the explainers to explain.

`common.data` holds images and 2-D toys only, so the tabular data sets are
loaded here into a `common.data.Dataset` (float32 features, levels 0) and
passed to `fit`; `explain.run` passes the same object to
`common.runs.load_run`, whose stand-in `common.data.spec` does not know
them (see explain/NOTES.md for the small change to common/data.py that
would let `load_run` reopen these runs unaided).
"""
import numpy as np

from common import data as data_lib
from common import trainer
from common.errors import ConfigError, DataError
from explain import models

# name -> (task, number of classes or 0, feature count)
TABULAR = {'diabetes': ('regression', 0, 10),
           'breast_cancer': ('classification', 2, 30)}


def load_tabular(cfg):
  """The named scikit-learn table split into train/test by `data.seed`
  (a fixed permutation; `data.test_fraction`, default 0.2, held out).

  Returns (Dataset, feature_names).
  """
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  name = cfg.name
  if name not in TABULAR:
    raise DataError(f'unknown tabular data set {name!r}; use one of '
                    f'{", ".join(TABULAR)}')
  raw = (datasets.load_diabetes() if name == 'diabetes'
         else datasets.load_breast_cancer())
  x = raw.data.astype(np.float32)
  names = [str(n) for n in raw.feature_names]
  keep = cfg.get('num_features', 0)  # The first k columns; 0 keeps all.
  if keep:
    if not 0 < keep <= x.shape[1]:
      raise ConfigError(f'data.num_features={keep}; {name} has {x.shape[1]} '
                        'features (0 keeps all)')
    x, names = x[:, :keep], names[:keep]
  task = TABULAR[name][0]
  y = raw.target.astype(np.float32 if task == 'regression' else np.int64)
  fraction = cfg.get('test_fraction', 0.2)
  if not 0 < fraction < 1:
    raise ConfigError(f'data.test_fraction={fraction} must be in (0, 1)')
  perm = np.random.default_rng(cfg.seed).permutation(len(x))
  n_test = max(1, int(round(fraction * len(x))))
  test, train = perm[:n_test], perm[n_test:]
  ds = data_lib.Dataset(name, x[train], x[test], 0, y[train], y[test])
  return ds, names


def build(config, dataset):
  """The MLP objective `config.model` describes, for a tabular `dataset`."""
  name = dataset.name
  if name not in TABULAR:
    raise ConfigError(f'explain.train needs data.name in {sorted(TABULAR)}; '
                      f'got {name!r}')
  if dataset.spec_only:
    raise ConfigError('explain.train cannot rebuild from a stand-in dataset '
                      '(its standardisation comes from the training split); '
                      'pass dataset=explain.train.load_tabular(config.data)[0] '
                      'to common.runs.load_run')
  task, classes, width = TABULAR[name]
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
  dataset, _ = load_tabular(config.data)
  return trainer.fit(config, workdir, build(config, dataset), dataset)
