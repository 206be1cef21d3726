"""Gaussian VI on Bayesian linear regression (scikit-learn's diabetes data,
442 x 10 standardised, and a bias; N(0, 1) prior, noise sd 0.7), whose
posterior is Gaussian in closed form: full-rank VI must recover it exactly,
mean-field VI its means and the variances 1 / Lambda_ii (Bishop PRML 10.1.2).

Command:   python launch.py --config=configs/vi_linear_regression.py --workdir=runs/vi_linear_regression
Hardware:  2-core CPU (no accelerator).
Wall time: see docs/RESULTS.md (variational inference).
Result:    see docs/RESULTS.md.
Smoke:     --config=configs/vi_linear_regression.py:smoke (seconds).

Arguments (every VI config): family=meanfield|fullrank,
estimator=reparam|score, samples (draws per step), steps, lr,
optimizer=adam|adagrad|sgd, stl (sticking the landing).
"""
from configs import common


def get_config(arg=None):
  a = common.vi_args(arg, family='fullrank', samples=8, steps=5000, stl=True)
  return common.apply_vi_args(common.vi_config('linear_regression'), a)
