"""Entry for flow configs (`config.entry = 'flows.train'`): builds, then `fit`s.

`build(config, dataset)` is the family's objective builder (as every
family's `train.build`): `common.runs.load_run` rebuilds trained runs with it.
"""
from common import data as data_lib
from common import trainer
from common.errors import ConfigError
from flows import made
from flows import objective as objective_lib
from flows import realnvp


def build(config, dataset):
  """The objective of the model `config.model.name` names, shaped for `dataset`."""
  model_cfg = config.model
  if model_cfg.name == 'realnvp':
    if dataset.levels == 0:
      raise ConfigError('model realnvp needs integer images; use realnvp_2d '
                        f'for the continuous dataset {dataset.name!r}')
    model = realnvp.RealNVP(
        data_shape=dataset.example_shape, num_scales=model_cfg.num_scales,
        features=model_cfg.features, num_blocks=model_cfg.num_blocks,
        net_norm=model_cfg.net_norm, flow_batch_norm=model_cfg.flow_batch_norm,
        bn_momentum=model_cfg.bn_momentum)
    return objective_lib.ImageFlowObjective(
        model, dataset.levels, alpha=model_cfg.alpha,
        scale_l2=model_cfg.scale_l2, num_samples=model_cfg.num_samples,
        temperature=model_cfg.temperature)
  if model_cfg.name == 'realnvp_2d':
    if dataset.levels != 0 or dataset.example_shape != (2,):
      raise ConfigError('model realnvp_2d needs a 2-D toy dataset')
    model = realnvp.RealNVP2D(
        data_shape=(2,), num_couplings=model_cfg.num_couplings,
        hidden=model_cfg.hidden, num_layers=model_cfg.num_layers,
        flow_batch_norm=model_cfg.flow_batch_norm,
        bn_momentum=model_cfg.bn_momentum)
    return objective_lib.PointFlowObjective(model, model_cfg.num_samples)
  if model_cfg.name == 'made':
    if dataset.levels < 2:
      raise ConfigError('model made needs integer images (binary, or 8-bit '
                        'ones it binarizes dynamically)')
    model = made.MADE(
        num_inputs=dataset.num_dims, hidden=tuple(model_cfg.hidden),
        num_masks=model_cfg.num_masks, ordering=model_cfg.ordering,
        direct=model_cfg.direct, mask_seed=model_cfg.mask_seed)
    return objective_lib.MadeObjective(model, dataset.example_shape,
                                       dataset.levels, model_cfg.num_samples)
  raise ConfigError(f'unknown flow model {model_cfg.name!r}; use realnvp, '
                    'realnvp_2d or made')


def main(config, workdir):
  dataset = data_lib.load(config.data)
  objective = build(config, dataset)
  return trainer.fit(config, workdir, objective, dataset)
