"""A Gaussian mixture (full covariances) on scikit-learn's bundled datasets
(standardised), by CAVI on the Bayesian mixture (Dirichlet weights,
Normal-Wishart components: sklearn's BayesianGaussianMixture model and
defaults), EM (GaussianMixture's) or stochastic VI (Hoffman et al. 2013,
arXiv:1206.7051). From sklearn's random start with the same seed, CAVI and
EM reach sklearn's fixed points (tests/vi/test_mixture.py;
bench/vi_mixture_vs_sklearn.py times both).

Command:   python launch.py --config=configs/vi_gmm.py:algorithm=cavi --workdir=runs/vi_gmm_iris
Hardware:  2-core CPU (no accelerator).
Wall time: 9 s (CAVI), 7 s (EM), 10 s (SVI, 2000 steps), with compiling; shared CPU.
Result:    iris, K = 3, seed 0: CAVI ELBO -440.369 after 37 sweeps; EM mean
           log-likelihood -2.0012 after 26 iterations; SVI (batch 10,
           kappa 0.7, tau 1) ELBO -440.904 after 2000 steps. Agreement
           with scikit-learn: docs/RESULTS.md.
Smoke:     --config=configs/vi_gmm.py:smoke (seconds).

Arguments: algorithm=cavi|em|svi, data=iris|wine|breast_cancer, k
(components), seed; svi: steps, batch, kappa, tau.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, algorithm='cavi', data='iris', k=3,
                       seed=0, steps=2000, batch=10, kappa=0.7, tau=1.0)
  c = common.gmm_config(a.data, a.algorithm, a.k)
  c.seed = a.seed
  s = c.model.svi
  s.num_steps, s.batch_size, s.kappa, s.tau = a.steps, a.batch, a.kappa, a.tau
  if a.smoke:
    c.model.max_iter = 20
    s.num_steps, s.eval_every = 40, 20
  return c
