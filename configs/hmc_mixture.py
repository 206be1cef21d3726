"""HMC / NUTS on the mixture 0.25 N(-4, 1) + 0.75 N(4, 1) (mean 2, variance 13);
chains start spread over [-6, 6] so both modes are visited.

Command:   python launch.py --config=configs/hmc_mixture.py --workdir=runs/hmc_mixture
Hardware:  2-core CPU (no accelerator).
Wall time: compile 2.7 s + run 0.06 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws), diagnostics as ArviZ:
           min bulk ESS 8, max R-hat 1.515, 0 divergences, acceptance 0.92,
           2.6 gradients per draw; moment errors: max |z| 1.01 (means), 3.01
           (variances).
           The chains do not cross between the modes (R-hat 1.51):
           HMC cannot jump an 8-sd gap.
Smoke:     --config=configs/hmc_mixture.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh|chees, chains, warmup,
draws, dense (dense mass matrix), adaptation=stan|nutpie, jitter (step-size
jitter, 0..1), float64.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg)
  c = common.hmc_config('mixture')
  return common.apply_hmc_args(c, a)
