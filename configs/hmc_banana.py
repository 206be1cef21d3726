"""HMC / NUTS on the Inference Gym's banana: x0 ~ N(0, 10^2), x1 | x0 ~ N(0.03
(x0^2 - 100), 1).

Command:   python launch.py --config=configs/hmc_banana.py --workdir=runs/hmc_banana
Hardware:  2-core CPU (no accelerator).
Wall time: MEASURED
Result:    MEASURED
Smoke:     --config=configs/hmc_banana.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh, chains, warmup, draws,
dense (dense mass matrix), float64.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg)
  c = common.hmc_config('banana')
  return common.apply_hmc_args(c, a)
