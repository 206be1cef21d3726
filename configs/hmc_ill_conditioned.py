"""HMC / NUTS on a 100-d Gaussian with a random rotation and eigenvalues over
[1e-2, 1e2]; dense=True learns the rotation.

Command:   python launch.py --config=configs/hmc_ill_conditioned.py --workdir=runs/hmc_ill_conditioned
Hardware:  2-core CPU (no accelerator).
Wall time: MEASURED
Result:    MEASURED
Smoke:     --config=configs/hmc_ill_conditioned.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh, chains, warmup, draws,
dense (dense mass matrix), float64, dim.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg, dim=100)
  c = common.hmc_config('ill_conditioned')
  c.dim = a.dim
  return common.apply_hmc_args(c, a)
