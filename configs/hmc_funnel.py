"""HMC / NUTS on Neal's funnel in 10-d: v ~ N(0, 3^2), x_i | v ~ N(0, e^v); the
neck makes divergences expected (a non-centred parameterisation is the cure,
not a tuning).

Command:   python launch.py --config=configs/hmc_funnel.py --workdir=runs/hmc_funnel
Hardware:  2-core CPU (no accelerator).
Wall time: compile 4.4 s + run 0.77 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws), diagnostics as ArviZ:
           min bulk ESS 15, max R-hat 1.231, 25 divergences, acceptance 0.73,
           30.8 gradients per draw; moment errors: max |z| 1.52 (means), 2.27
           (variances). The neck is not explored (R-hat 1.231, 25 divergences):
           the known failure of the centred funnel, reported, not tuned away;
           its heavy-tailed variance has a large standard error, so the
           variance z is small.
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
