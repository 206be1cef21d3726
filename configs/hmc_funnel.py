"""HMC / NUTS on Neal's funnel in 10-d: v ~ N(0, 3^2), x_i | v ~ N(0, e^v); the
neck makes divergences expected (a non-centred parameterisation is the cure,
not a tuning).

Command:   python launch.py --config=configs/hmc_funnel.py --workdir=runs/hmc_funnel
Hardware:  2-core CPU (no accelerator).
Wall time: compile 3.0 s + run 0.86 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws), diagnostics as ArviZ:
           min bulk ESS 34, max R-hat 1.112, 4 divergences, acceptance 0.88,
           45.2 gradients per draw; moment errors: max |z| 0.96 (means), 5.09
           (variances).
           The neck is not explored (R-hat 1.112, 4 divergences):
           the known failure of the centred funnel, reported, not tuned away.
Smoke:     --config=configs/hmc_funnel.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh|chees, chains, warmup,
draws, dense (dense mass matrix), adaptation=stan|nutpie, jitter (step-size
jitter, 0..1), float64, dim.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg, dim=10)
  c = common.hmc_config('funnel')
  c.dim = a.dim
  return common.apply_hmc_args(c, a)
