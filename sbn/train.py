"""Entry for discrete-latent configs (`config.entry = 'sbn.train'`).

`model.name`: 'sbn' (a sigmoid belief network trained with
`model.estimator`), 'categorical_vae', or 'helmholtz' (an SBN trained by
wake-sleep / reweighted wake-sleep).
"""
from common import data as data_lib
from common import trainer
from common.errors import ConfigError
from sbn import helmholtz
from sbn import models
from sbn import objective as objective_lib


def build(config, dataset):
  """The objective `config.model` describes, for `dataset`'s images."""
  m = config.model
  if dataset.levels < 2:
    raise ConfigError('discrete-latent models need integer images')
  data_dim = dataset.num_dims
  common = dict(eval_k=m.eval_k, eval_chunk=m.eval_chunk,
                num_images=m.num_images)
  if m.name in ('sbn', 'helmholtz'):
    model = models.SBN(data_dim=data_dim, layers=tuple(m.layers),
                       hidden=m.hidden)
    if m.name == 'helmholtz':
      return helmholtz.HelmholtzObjective(
          model, dataset.levels, num_samples=m.num_samples,
          q_update=m.q_update, **common)
  elif m.name == 'categorical_vae':
    model = models.CategoricalVAE(
        data_dim=data_dim, num_variables=m.num_variables,
        num_categories=m.num_categories, hidden=tuple(m.hidden_layers))
  else:
    raise ConfigError(f'unknown discrete-latent model {m.name!r}; use sbn, '
                      'categorical_vae or helmholtz')
  return objective_lib.SBNObjective(
      model, m.estimator, dataset.levels, num_samples=m.num_samples,
      temperature=m.temperature, anneal_rate=m.anneal_rate,
      min_temperature=m.min_temperature, baseline=m.baseline, **common)


def main(config, workdir):
  dataset = data_lib.load(config.data)
  return trainer.fit(config, workdir, build(config, dataset), dataset)
