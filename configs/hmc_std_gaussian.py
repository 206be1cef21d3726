"""HMC / NUTS on standard Gaussian N(0, I); dimension via dim=D (default 10).

Command:   python launch.py --config=configs/hmc_std_gaussian.py --workdir=runs/hmc_std_gaussian
Hardware:  2-core CPU (no accelerator).
Wall time: MEASURED
Result:    MEASURED
Smoke:     --config=configs/hmc_std_gaussian.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh, chains, warmup, draws,
dense (dense mass matrix), float64, dim.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg, dim=10)
  c = common.hmc_config('std_gaussian')
  c.dim = a.dim
  return common.apply_hmc_args(c, a)
