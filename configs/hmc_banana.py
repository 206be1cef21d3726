"""HMC / NUTS on the Inference Gym's banana: x0 ~ N(0, 10^2), x1 | x0 ~ N(0.03
(x0^2 - 100), 1).

Command:   python launch.py --config=configs/hmc_banana.py --workdir=runs/hmc_banana
Hardware:  2-core CPU (no accelerator).
Wall time: compile 2.6 s + run 0.14 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws), diagnostics as ArviZ:
           min bulk ESS 272, max R-hat 1.028, 13 divergences, acceptance 0.88,
           9.8 gradients per draw; moment errors: max |z| 1.40 (means), 5.73
           (variances).
           The curved ridge makes one 4-chain run noisy (13
           divergences at its tips).
Smoke:     --config=configs/hmc_banana.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh|chees, chains, warmup,
draws, dense (dense mass matrix), adaptation=stan|nutpie, jitter (step-size
jitter, 0..1), float64.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg)
  c = common.hmc_config('banana')
  return common.apply_hmc_args(c, a)
