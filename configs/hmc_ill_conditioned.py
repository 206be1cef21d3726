"""HMC / NUTS on a 100-d Gaussian with a random rotation and eigenvalues over
[1e-2, 1e2]; dense=True learns the rotation.

Command:   python launch.py --config=configs/hmc_ill_conditioned.py --workdir=runs/hmc_ill_conditioned
Hardware:  2-core CPU (no accelerator).
Wall time: compile 4.1 s + run 8.34 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws), diagnostics as ArviZ:
           min bulk ESS 2214, max R-hat 1.002, 0 divergences, acceptance 0.86,
           271.2 gradients per draw; moment errors: max |z| 2.61 (means), 2.82
           (variances). With dense=True (learned rotation): min ESS 5296 at
           14.3 gradients per draw, 894 ESS/s.
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
