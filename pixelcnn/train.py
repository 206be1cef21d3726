"""Entry for PixelCNN-family configs (`config.entry = 'pixelcnn.train'`).

`model.name` picks the network: 'pixelcnn' (arXiv:1601.06759),
'gated_pixelcnn' (arXiv:1606.05328) or 'pixelcnnpp' (arXiv:1701.05517);
`model.head` its output distribution ('softmax' over the dataset's levels, or
'logistic_mixture', PixelCNN++'s). The network is built from the rest of
the model block by keyword (`NETWORKS[name].from_config`); the keys of each
network are documented in configs/common.py `pixelcnn_model`.
"""
from common import data as data_lib
from common import trainer
from common.errors import ConfigError
from pixelcnn import heads
from pixelcnn import models
from pixelcnn import objective as objective_lib
from pixelcnn import pixelcnnpp

NETWORKS = {
    'pixelcnn': models.PixelCNN,
    'gated_pixelcnn': models.GatedPixelCNN,
    'pixelcnnpp': pixelcnnpp.PixelCNNPP,
}


def build(config, dataset):
  """The objective (network, head and likelihood) of run config `config`
  (its `model` block) on `dataset`; the family's builder."""
  m = config.model
  if dataset.levels < 2 or len(dataset.example_shape) != 3:
    raise ConfigError('PixelCNN models need integer images [H, W, C]; '
                      f'dataset {dataset.name!r} is not one')
  if m.name not in NETWORKS:
    raise ConfigError(f'unknown PixelCNN model {m.name!r}; use '
                      f'{", ".join(NETWORKS)}')
  if m.name == 'pixelcnnpp' and m.head != 'logistic_mixture':
    raise ConfigError('pixelcnnpp conditions on whole pixels; it needs '
                      'model.head=logistic_mixture (the channel coupling)')
  if m.name != 'pixelcnnpp' and m.head != 'softmax':
    raise ConfigError(f'{m.name} groups its channels by colour for a softmax '
                      'head; use model.head=softmax')
  head = heads.make_head(m.head, dataset.levels, dataset.example_shape[-1],
                         m.get('num_mixtures', heads.NUM_MIXTURES))
  net = NETWORKS[m.name].from_config(m, head)
  num_classes = getattr(net, 'num_classes', 0)
  if num_classes and dataset.y_train is None:
    raise ConfigError(f'model.num_classes={num_classes} needs labels, and '
                      f'dataset {dataset.name!r} has none')
  if m.name == 'pixelcnnpp':
    pixelcnnpp.check_image_size(*dataset.example_shape[:2], net.num_scales)
  return objective_lib.PixelCNNObjective(net, head, dataset.example_shape,
                                         num_classes, m.num_samples)


def main(config, workdir):
  dataset = data_lib.load(config.data)
  objective = build(config, dataset)
  return trainer.fit(config, workdir, objective, dataset)
