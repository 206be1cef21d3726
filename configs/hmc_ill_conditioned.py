"""HMC / NUTS on a 100-d Gaussian with a random rotation and eigenvalues over
[1e-2, 1e2]; dense=True learns the rotation.

Command:   python launch.py --config=configs/hmc_ill_conditioned.py --workdir=runs/hmc_ill_conditioned
Hardware:  2-core CPU (no accelerator).
Wall time: compile 3.1 s + run 8.53 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws), diagnostics as ArviZ:
           min bulk ESS 2282, max R-hat 1.003, 0 divergences, acceptance 0.88,
           292.5 gradients per draw; moment errors: max |z| 3.56 (means), 3.04
           (variances).
           With dense=True (learned rotation): min ESS 5576 at
           14.9 gradients per draw, 877 ESS/s.
Smoke:     --config=configs/hmc_ill_conditioned.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh|chees, chains, warmup,
draws, dense (dense mass matrix), adaptation=stan|nutpie, jitter (step-size
jitter, 0..1), float64, dim.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg, dim=100)
  c = common.hmc_config('ill_conditioned')
  c.dim = a.dim
  return common.apply_hmc_args(c, a)
