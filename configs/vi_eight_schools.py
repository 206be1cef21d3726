"""Gaussian VI on the non-centred eight schools model (Rubin 1981), over
(mu, log tau, theta_tilde[8]), checked against NUTS draws from `hmc`. The
posterior of log tau is skewed with a heavy left tail, so a Gaussian q
(mean-field or full-rank) underestimates its spread: the summary shows by
how much.

Command:   python launch.py --config=configs/vi_eight_schools.py --workdir=runs/vi_eight_schools
Hardware:  2-core CPU (no accelerator).
Wall time: see docs/RESULTS.md (variational inference).
Result:    see docs/RESULTS.md.
Smoke:     --config=configs/vi_eight_schools.py:smoke (seconds).

Arguments: as configs/vi_linear_regression.py.
"""
from configs import common


def get_config(arg=None):
  a = common.vi_args(arg, family='fullrank', samples=8, steps=10_000, stl=True)
  return common.apply_vi_args(common.vi_config('eight_schools'), a)
