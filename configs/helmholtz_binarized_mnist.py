"""A Helmholtz machine (sigmoid belief network and recognition network) on
binarized MNIST, trained by wake-sleep (Hinton et al. 1995) or reweighted
wake-sleep (Bornschein & Bengio 2015, arXiv:1406.2751).

Command:   python launch.py --config=configs/helmholtz_binarized_mnist.py:samples=5,q=both,epochs=20 \\
             --config.model.eval_k=200 --config.data.npz_path=../shared/data/binarized_mnist.npz \\
             --workdir=runs/est/helmholtz_rws5
Hardware:  2-core CPU (no accelerator).
Wall time: 3.7 min (wake-sleep), 4.8 min (samples=5,q=both), 20 epochs of
           batch 24 on linear1 (shared CPU).
Result:    linear1, 20 epochs: wake-sleep test -ELBO 136.74, test NLL bound
           122.16 (200 samples); reweighted wake-sleep K=5 (q=both) 143.89
           and 115.49 (NVIL paper, much longer training: wake-sleep about
           120.7 nats for SBN 200, 107.7 for 200-200).
Smoke:     --config=configs/helmholtz_binarized_mnist.py:smoke (a few seconds).

Arguments: layers=linear1 | linear2 | nonlinear | linear3 (as
sbn_binarized_mnist); samples=1 (wake-sleep) or K (RWS); q=sleep | wake |
both (the recognition update; wake needs K > 1); epochs; batch; lr.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, layers='linear1', samples=1,
                       q='sleep', epochs=100.0, batch=24, lr=3e-4)
  layers, hidden = common.sbn_layers(a.layers)
  return common.sbn_config(common.sbn_model(
      'helmholtz', layers=layers, hidden=hidden, num_samples=a.samples,
      q_update=a.q), a)
