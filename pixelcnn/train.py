"""Entry for PixelCNN-family configs (`config.entry = 'pixelcnn.train'`).

`model.name` picks the network: 'pixelcnn' (arXiv:1601.06759),
'gated_pixelcnn' (arXiv:1606.05328) or 'pixelcnnpp' (arXiv:1701.05517);
`model.head` its output distribution ('softmax' over the dataset's levels, or
'logistic_mixture', PixelCNN++'s).
"""
from common import data as data_lib
from common import trainer
from common.errors import ConfigError
from pixelcnn import heads
from pixelcnn import models
from pixelcnn import objective as objective_lib
from pixelcnn import pixelcnnpp


def build_objective(m, dataset):
  """The network, head and objective that model block `m` describes."""
  if dataset.levels < 2 or len(dataset.example_shape) != 3:
    raise ConfigError('PixelCNN models need integer images [H, W, C]; '
                      f'dataset {dataset.name!r} is not one')
  channels = dataset.example_shape[-1]
  if m.head not in ('softmax', 'logistic_mixture'):
    raise ConfigError(f'unknown model.head {m.head!r}; use softmax or '
                      'logistic_mixture')
  head = heads.make_head(m.head, dataset.levels, channels, m.num_mixtures)
  if m.num_classes and dataset.y_train is None:
    raise ConfigError(f'model.num_classes={m.num_classes} needs labels, and '
                      f'dataset {dataset.name!r} has none')
  if m.name == 'pixelcnn':
    net = models.PixelCNN(head, m.features, m.depth, m.first_kernel,
                          m.output_features, m.output_layers)
    if m.num_classes:
      raise ConfigError('class conditioning is implemented for '
                        'gated_pixelcnn and pixelcnnpp')
  elif m.name == 'gated_pixelcnn':
    net = models.GatedPixelCNN(head, m.features, m.depth, m.kernel,
                               m.first_kernel, m.num_classes, m.output_features)
  elif m.name == 'pixelcnnpp':
    if m.head != 'logistic_mixture':
      raise ConfigError('pixelcnnpp conditions on whole pixels; it needs '
                        'model.head=logistic_mixture (the channel coupling)')
    pixelcnnpp.check_image_size(*dataset.example_shape[:2], m.num_scales)
    net = pixelcnnpp.PixelCNNPP(head, m.features, m.depth, m.num_scales,
                                m.dropout, m.num_classes)
  else:
    raise ConfigError(f'unknown PixelCNN model {m.name!r}; use pixelcnn, '
                      'gated_pixelcnn or pixelcnnpp')
  if m.name != 'pixelcnnpp' and m.head != 'softmax':
    raise ConfigError(f'{m.name} groups its channels by colour for a softmax '
                      'head; use model.head=softmax')
  return objective_lib.PixelCNNObjective(net, head, dataset.example_shape,
                                         m.num_classes, m.num_samples)


def main(config, workdir):
  dataset = data_lib.load(config.data)
  objective = build_objective(config.model, dataset)
  return trainer.fit(config, workdir, objective, dataset)
