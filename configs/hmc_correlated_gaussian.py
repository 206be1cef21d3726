"""HMC / NUTS on 2-D Gaussian with unit variances and correlation 0.9.

Command:   python launch.py --config=configs/hmc_correlated_gaussian.py --workdir=runs/hmc_correlated_gaussian
Hardware:  2-core CPU (no accelerator).
Wall time: compile 2.7 s + run 0.11 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws), diagnostics as ArviZ:
           min bulk ESS 885, max R-hat 1.002, 0 divergences, acceptance 0.93,
           7.1 gradients per draw; moment errors: max |z| 0.64 (means), 0.75
           (variances).
Smoke:     --config=configs/hmc_correlated_gaussian.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh|chees, chains, warmup,
draws, dense (dense mass matrix), adaptation=stan|nutpie, jitter (step-size
jitter, 0..1), float64.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg)
  c = common.hmc_config('correlated_gaussian')
  return common.apply_hmc_args(c, a)
