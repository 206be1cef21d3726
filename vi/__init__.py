"""Variational inference as a library, in the functional style of `hmc`
(pure init / step functions, NamedTuple states, the caller jits).

  * Black-box VI with Gaussian families (vi/bbvi.py): mean-field or
    full-rank q, the reparameterised ELBO gradient (ADVI-style, optional
    sticking-the-landing) or the score-function one with
    Rao-Blackwellisation and per-factor control variates (Ranganath et al.
    2014); `fit` runs a whole optimisation in one compiled scan.
  * Stochastic VI for conjugate-exponential models (vi/svi.py): the
    Robbins-Monro step size and the natural-gradient update.

`vi.train` is the config entry for black-box VI (not imported here).

  import jax, numpy as np, targets, vi
  t = targets.linear_regression()
  res = vi.fit(jax.random.key(0), t.logdensity_flat, np.zeros(t.dim),
               family='fullrank', num_samples=8, stl=True)
  res.mean, res.std                   # The Gaussian q's moments.
  vi.elbo_estimate(jax.random.key(1), res.params, t.logdensity_flat)
"""
from vi.bbvi import check_initial
from vi.bbvi import check_settings
from vi.bbvi import covariance
from vi.bbvi import elbo_estimate
from vi.bbvi import elbo_surrogate
from vi.bbvi import entropy
from vi.bbvi import fit
from vi.bbvi import Info
from vi.bbvi import init
from vi.bbvi import init_params
from vi.bbvi import log_q
from vi.bbvi import make_optimizer
from vi.bbvi import mean_and_std
from vi.bbvi import Result
from vi.bbvi import sample
from vi.bbvi import State
from vi.bbvi import step
from vi.svi import check_schedule
from vi.svi import natural_gradient
from vi.svi import step_size

__all__ = [
    # Black-box VI.
    'fit', 'Result', 'init', 'step', 'State', 'Info', 'elbo_surrogate',
    'elbo_estimate', 'init_params', 'sample', 'log_q', 'entropy',
    'mean_and_std', 'covariance', 'make_optimizer', 'check_settings',
    'check_initial',
    # Stochastic VI.
    'check_schedule', 'step_size', 'natural_gradient',
]
