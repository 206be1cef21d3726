"""Gaussian VI on the non-centred eight schools model (Rubin 1981), over
(mu, log tau, theta_tilde[8]), checked against NUTS draws from `hmc`. The
posterior of log tau is skewed with a heavy left tail, so a Gaussian q
(mean-field or full-rank) underestimates its spread: the summary shows by
how much.

Command:   python launch.py --config=configs/vi_eight_schools.py --workdir=runs/vi_eight_schools
Hardware:  2-core CPU (no accelerator).
Wall time: 26 s (10,000 steps of 8 draws, NUTS reference, evaluation; shared CPU).
Result:    full rank: ELBO 7.70; means within 0.06 NUTS sd; sds 0.64-1.03
           of NUTS's, the smallest that of log tau (0.74 vs 1.16);
           family=meanfield: 7.66, the same errors.
Smoke:     --config=configs/vi_eight_schools.py:smoke (seconds).

Arguments: as configs/vi_linear_regression.py.
"""
from configs import common


def get_config(arg=None):
  a = common.vi_args(arg, family='fullrank', samples=8, steps=10_000, stl=True)
  return common.apply_vi_args(common.vi_config('eight_schools'), a)
