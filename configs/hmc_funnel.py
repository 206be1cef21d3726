"""HMC / NUTS on Neal's funnel in 10-d: v ~ N(0, 3^2), x_i | v ~ N(0, e^v); the
neck makes divergences expected (a non-centred parameterisation is the cure,
not a tuning).

Command:   python launch.py --config=configs/hmc_funnel.py --workdir=runs/hmc_funnel
Hardware:  2-core CPU (no accelerator).
Wall time: MEASURED
Result:    MEASURED
Smoke:     --config=configs/hmc_funnel.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh, chains, warmup, draws,
dense (dense mass matrix), float64, dim.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg, dim=10)
  c = common.hmc_config('funnel')
  c.dim = a.dim
  return common.apply_hmc_args(c, a)
