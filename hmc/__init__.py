"""Hamiltonian Monte Carlo as a library: leapfrog, HMC / NUTS / random-walk
kernels, ChEES-HMC for many chains, Stan's and nutpie's warm-ups, many
chains in one jitted call, and ESS / R-hat diagnostics. `hmc.run` is the
config entry (not imported here); target densities live in the top-level
`targets` package.

  import jax, targets, hmc
  t = targets.diagonal_gaussian({'mu': 0., 'theta': np.zeros(8)}, 1.0)
  res = hmc.run_chains(jax.random.key(0), t.logdensity,
                       t.initial(jax.random.key(1), chains=4))
  res.named_draws['theta']                 # [4, 1000, 8]
  hmc.summary(res.draws, res.names)        # mean, sd, quantiles, ESS, R-hat
  # Continue from the last draws without warm-up, with the adapted step
  # size and metric of each chain:
  last = jax.vmap(res.unravel)(res.draws[:, -1])
  more = hmc.run_chains(jax.random.key(2), t.logdensity, last, num_warmup=0,
                        step_size=res.step_size, inverse_mass=res.inverse_mass)
"""
from hmc.adaptation import adapt_and_sample
from hmc.adaptation import find_reasonable_step_size
from hmc.adaptation import run_warmup
from hmc.adaptation import Scheme
from hmc.adaptation import stan_scheme
from hmc.adaptation import window_schedule
from hmc.diagnostics import ess
from hmc.diagnostics import ess_bulk
from hmc.diagnostics import ess_tail
from hmc.diagnostics import format_summary
from hmc.diagnostics import moment_z
from hmc.diagnostics import rhat
from hmc.diagnostics import split_rhat
from hmc.diagnostics import summary
from hmc.integrators import IntegratorState
from hmc.integrators import leapfrog
from hmc.integrators import leapfrog_step
from hmc.integrators import Metric
from hmc.kernel import hmc_step
from hmc.kernel import Info
from hmc.kernel import init
from hmc.kernel import nuts_step
from hmc.kernel import rwmh_step
from hmc.kernel import State
from hmc.nutpie import nutpie_scheme
from hmc.sampling import check_positions
from hmc.sampling import check_settings
from hmc.sampling import KERNELS
from hmc.sampling import make_step_fn
from hmc.sampling import Result
from hmc.sampling import run_chains

__all__ = [
    # Many chains, adapted and sampled.
    'run_chains', 'Result', 'check_positions', 'check_settings',
    'make_step_fn', 'KERNELS',
    # Kernels on flat positions.
    'init', 'hmc_step', 'nuts_step', 'rwmh_step', 'State', 'Info',
    'leapfrog', 'leapfrog_step', 'Metric', 'IntegratorState',
    # Warm-up schemes (Stan's windows, nutpie's draws and gradients) and
    # their drivers.
    'Scheme', 'stan_scheme', 'nutpie_scheme', 'adapt_and_sample',
    'run_warmup', 'window_schedule', 'find_reasonable_step_size',
    # Diagnostics.
    'ess', 'ess_bulk', 'ess_tail', 'rhat', 'split_rhat', 'summary',
    'moment_z',
    'format_summary',
]
