"""Discrete-latent models trained with the `estimators` package: sigmoid
belief networks (linear and nonlinear, as in the REBAR and RELAX papers),
a categorical VAE, and Helmholtz machines trained by (reweighted)
wake-sleep.

  import sbn
  model = sbn.SBN(data_dim=784, layers=(200,), hidden=0)
  objective = sbn.SBNObjective(model, 'relax', levels=2)   # any estimator
  variables = objective.init(jax.random.key(0), {'x': images})
  grads, metrics, state = objective.grads(variables, {'x': images}, key)

`sbn.train` is the config entry (not imported here).
"""
from sbn.helmholtz import HelmholtzObjective
from sbn.models import CategoricalVAE
from sbn.models import SBN
from sbn.objective import SBNObjective

__all__ = ['SBN', 'CategoricalVAE', 'SBNObjective', 'HelmholtzObjective']
