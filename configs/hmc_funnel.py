"""HMC / NUTS on Neal's funnel in 10-d: v ~ N(0, 3^2), x_i | v ~ N(0, e^v); the
neck makes divergences expected (a non-centred parameterisation is the cure,
not a tuning).

Command:   python launch.py --config=configs/hmc_funnel.py --workdir=runs/hmc_funnel
Hardware:  2-core CPU (no accelerator).
Wall time: compile 5.4 s + run 0.60 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws): min bulk ESS 52, max
           R-hat 1.201, 10 divergences, acceptance 0.81, 27.1 gradients per
           draw; moment errors: max |z| 2.73 (means), 24.86 (variances). The
           neck is not explored (variance of x off by 25 standard errors):
           the known failure of the centred funnel, reported, not tuned away.
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
