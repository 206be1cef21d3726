"""Variational autoencoders: VAE and IWAE (arXiv:1312.6114, 1509.00519),
IAF posteriors (arXiv:1606.04934), semi-supervised M1/M2 (arXiv:1406.5298).

  from common import load_run
  run = load_run('runs/vae')                       # a trained VAE
  mean, log_scale = run.objective.encode(run.variables, images)
  x = run.objective.decode(run.variables, mean, rng)
"""
from vae.likelihoods import (BernoulliLikelihood, DecoderLikelihood,
                             GaussianLikelihood, LogisticMixtureLikelihood,
                             likelihood_from_config)
from vae.model import VAE
from vae.objective import VAEObjective
from vae.ssvae import M2, M2Objective
from vae.train import build

__all__ = ['BernoulliLikelihood', 'DecoderLikelihood', 'GaussianLikelihood',
           'LogisticMixtureLikelihood', 'M2', 'M2Objective', 'VAE',
           'VAEObjective', 'build', 'likelihood_from_config']
