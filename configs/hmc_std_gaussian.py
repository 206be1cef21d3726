"""HMC / NUTS on standard Gaussian N(0, I); dimension via dim=D (default 10).

Command:   python launch.py --config=configs/hmc_std_gaussian.py --workdir=runs/hmc_std_gaussian
Hardware:  2-core CPU (no accelerator).
Wall time: compile 3.0 s + run 0.10 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws), diagnostics as ArviZ:
           min bulk ESS 6610, max R-hat 1.002, 0 divergences, acceptance 0.87,
           6.4 gradients per draw; moment errors: max |z| 0.96 (means), 1.02
           (variances).
Smoke:     --config=configs/hmc_std_gaussian.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh|chees, chains, warmup,
draws, dense (dense mass matrix), adaptation=stan|nutpie, jitter (step-size
jitter, 0..1), float64, dim.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg, dim=10)
  c = common.hmc_config('std_gaussian')
  c.dim = a.dim
  return common.apply_hmc_args(c, a)
