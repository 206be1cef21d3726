"""A VAE with 20 categorical latents of 10 classes on binarized MNIST
(Jang, Gu & Poole 2017, arXiv:1611.01144), trained with Gumbel-Softmax,
straight-through Gumbel-Softmax or REINFORCE.

Command:   python launch.py --config=configs/catvae_binarized_mnist.py:estimator=gumbel_softmax \\
             --config.data.npz_path=../shared/data/binarized_mnist.npz --workdir=runs/catvae_gs
Hardware:  2-core CPU (no accelerator).
Wall time: see docs/RESULTS.md (discrete latents).
Result:    see docs/RESULTS.md: test -ELBO (Jang et al.'s metric; they
           report about 101.5 for Gumbel-Softmax) and the test NLL bound.
Smoke:     --config=configs/catvae_binarized_mnist.py:smoke (a few seconds).

Arguments: estimator=gumbel_softmax | straight_through_gumbel | reinforce
(moving-average baseline) | muprop | rebar | relax | nvil; epochs; batch
(100, Jang et al.'s); lr; tau0 and rate of the annealed temperature
tau = max(0.5, tau0 exp(-rate t)) (Jang et al.: r in {1e-5, 1e-4}).
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, estimator='gumbel_softmax',
                       epochs=100.0, batch=100, lr=1e-3, tau0=1.0, rate=3e-5)
  return common.sbn_config(common.sbn_model(
      'categorical_vae', estimator=a.estimator, temperature=a.tau0,
      anneal_rate=a.rate, min_temperature=0.5), a)
