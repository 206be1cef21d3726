"""PixelCNN (arXiv:1601.06759), Gated PixelCNN (arXiv:1606.05328) and
PixelCNN++ (arXiv:1701.05517): masked and shifted networks, output heads
(softmax, coupled logistic mixture), and exact samplers.

  from common import load_run
  run = load_run('runs/pixelcnn')
  images, passes = run.objective.fast_sample(run.variables, rng, 16)
"""
from pixelcnn.heads import LogisticMixtureHead, SoftmaxHead, make_head
from pixelcnn.models import GatedPixelCNN, PixelCNN
from pixelcnn.objective import PixelCNNObjective
from pixelcnn.pixelcnnpp import PixelCNNPP
from pixelcnn.train import build

__all__ = ['GatedPixelCNN', 'LogisticMixtureHead', 'PixelCNN', 'PixelCNNObjective',
           'PixelCNNPP', 'SoftmaxHead', 'build', 'make_head']
