"""Shapley values of an MLP on scikit-learn's diabetes data (regression,
10 features; Lundberg & Lee 2017, arXiv:1705.07874): trains the MLP
(one hidden layer of 32, 400 steps) into workdir/model, then explains every
test prediction (88 rows) against 100 training rows by exact enumeration
(1,024 coalitions), writing shap_values.npz, waterfall and beeswarm PNGs.

Command:   python launch.py --config=configs/explain_diabetes.py --workdir=runs/explain_diabetes
Hardware:  2-core CPU (no accelerator).
Wall time: 6.0 s (idle CPU; training 400 steps and the values).
Result:    MLP test MSE 2912 (abs error 43.4); exact values for the 88
           test rows in 0.60 s (6.8 ms a row), efficiency error 2e-13;
           bmi, s5 and bp matter most (mean |phi| over rows).
Smoke:     --config=configs/explain_diabetes.py:smoke (seconds).

Arguments (every explain config): method=exact|kernel|permutation|
integrated_gradients|expected_gradients, samples (KernelSHAP coalitions
per row), model=WORKDIR (explain a trained explain.train run instead of
training one).
"""
from configs import common


def get_config(arg=None):
  return common.explain_config('diabetes', arg, hidden=(32,), steps=400,
                               method='exact')
