"""HMC / NUTS on Bayesian logistic regression on scikit-learn's breast-cancer
data (569 x 30, standardised), N(0, 1) prior on 31 coefficients.

Command:   python launch.py --config=configs/hmc_logistic_regression.py --workdir=runs/hmc_logistic_regression
Hardware:  2-core CPU (no accelerator).
Wall time: compile 3.1 s + run 1.54 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws), diagnostics as ArviZ:
           min bulk ESS 4326, max R-hat 1.004, 0 divergences, acceptance 0.92,
           30.5 gradients per draw.
           With adaptation=nutpie,warmup=300: min bulk ESS 4016 in
           0.95 s (4232 ESS/s against 2807).
Smoke:     --config=configs/hmc_logistic_regression.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh|chees, chains, warmup,
draws, dense (dense mass matrix), adaptation=stan|nutpie, jitter (step-size
jitter, 0..1), float64.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg)
  c = common.hmc_config('logistic_regression')
  return common.apply_hmc_args(c, a)
