"""Sigmoid belief networks on binarized MNIST, trained with any gradient
estimator (the REBAR and RELAX benchmarks: Tucker et al. 2017,
arXiv:1703.07370; Grathwohl et al. 2018, arXiv:1711.00123; VIMCO: Mnih &
Rezende 2016, arXiv:1602.06725).

Command:   python launch.py --config=configs/sbn_binarized_mnist.py:layers=linear1,estimator=relax,epochs=20 \\
             --config.model.eval_k=200 --config.data.npz_path=../shared/data/binarized_mnist.npz \\
             --workdir=runs/est/linear1_relax     (bench/estimator_runs.sh runs them all)
Hardware:  2-core CPU (no accelerator).
Wall time: 4.4 min for 20 epochs (41,660 steps) of linear1 with relax
           (0.7-9.2 min for the other estimators and layers; shared CPU).
Result:    20 epochs, seed 0, ELBO of the final model on the whole training
           split: linear1 relax -126.82 (test -ELBO 126.63, test NLL bound
           115.02 with 200 samples), rebar -127.28, disarm -129.88, nvil
           -136.79, reinforce -141.97; linear2 rebar -123.28; nonlinear
           relax -140.42; linear3 vimco K=5 test NLL 128.45. Far short of
           the papers' best training ELBOs (RELAX -111.20 on linear1, after
           much longer training): docs/RESULTS.md has every estimator.
Smoke:     --config=configs/sbn_binarized_mnist.py:smoke (a few seconds).

Arguments: layers=linear1 (one linear layer of 200) | linear2 (200-200) |
nonlinear (one layer of 200 between two 200-unit tanh layers) | linear3
(200-200-200, VIMCO's); estimator=reinforce | nvil | muprop | rebar | relax
| arm | disarm | vimco | concrete | straight_through |
straight_through_mean | straight_through_gumbel; samples=K (vimco); epochs;
batch (24 as in the REBAR code); lr. The fixed (Larochelle) binarization,
50k train, 10k test.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, layers='linear1', estimator='relax',
                       samples=5, epochs=100.0, batch=24, lr=3e-4)
  layers, hidden = common.sbn_layers(a.layers)
  return common.sbn_config(common.sbn_model(
      'sbn', layers=layers, hidden=hidden, estimator=a.estimator,
      num_samples=a.samples), a)


def get_sweep(arg=None):
  """Every estimator on one SBN, the same budget and seed."""
  del arg
  return common.product(**{'model.estimator': [
      'reinforce', 'nvil', 'muprop', 'rebar', 'relax', 'arm', 'disarm',
      'concrete', 'straight_through_gumbel']})
