"""The objective a config's training entry builds, and trained runs, for the
bench scripts."""
from common import data as data_lib
from common import trainer


def build_objective(config, dataset):
  """`config.entry`'s own builder applied to `config.model` and `dataset`."""
  if config.entry == 'vae.train' and config.model.name == 'vae':
    from vae import train  # pylint: disable=g-import-not-at-top
    return train.build_vae_objective(config.model, dataset)
  if config.entry == 'flows.train':
    from flows import train  # pylint: disable=g-import-not-at-top
    return train.build_objective(config.model, dataset)
  if config.entry == 'pixelcnn.train':
    from pixelcnn import train  # pylint: disable=g-import-not-at-top
    return train.build_objective(config.model, dataset)
  raise ValueError(f'cannot rebuild entry {config.entry} / {config.model.name}')


def load_run(workdir, overrides=(), npz_path=''):
  """(config, dataset, objective, eval variables) of the trained run in `workdir`.

  `overrides` are 'model.key=value' strings applied to its config.json
  (evaluation settings such as model.eval_k); `npz_path` replaces the
  run's data path.
  """
  config = trainer.read_run_config(workdir)
  for item in overrides:
    key, value = item.split('=', 1)
    node = config
    *path, leaf = key.split('.')
    for p in path:
      node = node[p]
    node[leaf] = type(node[leaf])(value)
  if npz_path:
    config.data.npz_path = npz_path
  dataset = data_lib.load(config.data)
  objective = build_objective(config, dataset)
  variables = trainer.restore_variables(config, workdir, objective, dataset)
  return config, dataset, objective, variables
