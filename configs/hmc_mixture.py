"""HMC / NUTS on the mixture 0.25 N(-4, 1) + 0.75 N(4, 1) (mean 2, variance 13);
chains start spread over [-6, 6] so both modes are visited.

Command:   python launch.py --config=configs/hmc_mixture.py --workdir=runs/hmc_mixture
Hardware:  2-core CPU (no accelerator).
Wall time: MEASURED
Result:    MEASURED
Smoke:     --config=configs/hmc_mixture.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh, chains, warmup, draws,
dense (dense mass matrix), float64.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg)
  c = common.hmc_config('mixture')
  return common.apply_hmc_args(c, a)
