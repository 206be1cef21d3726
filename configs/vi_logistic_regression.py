"""Gaussian VI on Bayesian logistic regression (scikit-learn's breast-cancer
data, 569 x 30 standardised, N(0, 1) prior on 31 coefficients), checked
against NUTS draws from `hmc`.

Default: score-function black-box VI as Ranganath, Gerrish & Blei (2014,
arXiv:1401.0118) ran it: mean-field, Rao-Blackwellised, the per-factor
optimal control-variate scale, AdaGrad. `estimator=reparam` gives
ADVI-style reparameterised VI (`family=fullrank` for a dense covariance).

Command:   python launch.py --config=configs/vi_logistic_regression.py --workdir=runs/vi_logistic_regression
Hardware:  2-core CPU (no accelerator).
Wall time: 31 s (10,000 steps of 16 draws, NUTS reference, evaluation; shared CPU).
Result:    score-function BBVI: ELBO -39.17 +- 0.07; means within 0.26
           posterior sd of NUTS's, sds 0.41-0.73 of NUTS's (mean field
           underestimates the correlated posterior). ADVI-style mean field
           (estimator=reparam,optimizer=adam,lr=0.01,samples=8,stl=True):
           -39.06, the same moment errors; full rank: -26.99, means within
           0.04 sd, sds 0.93-1.03 of NUTS's.
Smoke:     --config=configs/vi_logistic_regression.py:smoke (seconds).

Arguments: as configs/vi_linear_regression.py.
"""
from configs import common


def get_config(arg=None):
  a = common.vi_args(arg, estimator='score', samples=16, steps=10_000,
                     optimizer='adagrad', lr=0.1)
  return common.apply_vi_args(common.vi_config('logistic_regression'), a)
