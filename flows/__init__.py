"""Normalizing flows: bijectors, Real NVP (arXiv:1605.08803), MADE
(arXiv:1502.03509), and their maximum-likelihood objectives.

  from flows import RealNVP, ImageFlowObjective
  objective = ImageFlowObjective(RealNVP(data_shape=(8, 8, 1)), levels=17)
  variables = objective.init(rng, {'x': images})
  nats = objective.log_prob(variables, images, rng)   # [B]

`flows.build(config, dataset)` builds what a config describes; a trained
run comes back with `common.load_run(workdir)`.
"""
from flows.bijectors import AffineCoupling, FlowBatchNorm, Squeeze
from flows.made import MADE
from flows.objective import ImageFlowObjective, MadeObjective, PointFlowObjective
from flows.realnvp import RealNVP, RealNVP2D
from flows.train import build

__all__ = ['AffineCoupling', 'FlowBatchNorm', 'ImageFlowObjective', 'MADE',
           'MadeObjective', 'PointFlowObjective', 'RealNVP', 'RealNVP2D',
           'Squeeze', 'build']
