"""A VAE with 20 categorical latents of 10 classes on binarized MNIST
(Jang, Gu & Poole 2017, arXiv:1611.01144), trained with Gumbel-Softmax,
straight-through Gumbel-Softmax or REINFORCE.

Command:   python launch.py --config=configs/catvae_binarized_mnist.py:estimator=gumbel_softmax,epochs=20 \\
             --config.model.eval_k=200 --config.data.npz_path=../shared/data/binarized_mnist.npz \\
             --workdir=runs/est/catvae_gumbel_softmax
Hardware:  2-core CPU (no accelerator).
Wall time: 2.9 min for 20 epochs (10,000 steps of batch 100) with
           gumbel_softmax (3.8 straight_through_gumbel, 5.9 reinforce;
           shared CPU).
Result:    20 epochs (epochs=20): test -ELBO 116.35 (Gumbel-Softmax), 116.35
           (straight-through Gumbel), 148.84 (REINFORCE); test NLL bound
           99.16, 103.91, 132.62. Jang et al. report 101.5 for
           Gumbel-Softmax after far longer training (the default, 100
           epochs, was not run here).
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
