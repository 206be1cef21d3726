"""Gaussian VI on Bayesian linear regression (scikit-learn's diabetes data,
442 x 10 standardised, and a bias; N(0, 1) prior, noise sd 0.7), whose
posterior is Gaussian in closed form: full-rank VI must recover it exactly,
mean-field VI its means and the variances 1 / Lambda_ii (Bishop PRML 10.1.2).

Command:   python launch.py --config=configs/vi_linear_regression.py --workdir=runs/vi_linear_regression
Hardware:  2-core CPU (no accelerator).
Wall time: 13 s (5000 steps of 8 draws, evaluation; shared CPU).
Result:    full rank: ELBO -241.3586 (10,000 draws, standard error 0.0000:
           q is the posterior), the closed-form log evidence -241.3586;
           means and sds equal the exact ones to 0.000 sd and 1.000.
           family=meanfield: ELBO -245.14; means within 0.066 sd; sds
           0.14-1.00 of the exact ones (mean field's 1 / sqrt(Lambda_ii)).
Smoke:     --config=configs/vi_linear_regression.py:smoke (seconds).

Arguments (every VI config): family=meanfield|fullrank,
estimator=reparam|score, samples (draws per step), steps, lr,
optimizer=adam|adagrad|sgd, stl (sticking the landing).
"""
from configs import common


def get_config(arg=None):
  a = common.vi_args(arg, family='fullrank', samples=8, steps=5000, stl=True)
  return common.apply_vi_args(common.vi_config('linear_regression'), a)
