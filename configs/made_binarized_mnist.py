"""MADE on binarized MNIST (Germain et al. 2015, arXiv:1502.03509).

Command:   python launch.py --config=configs/made_binarized_mnist.py \
             --config.data.npz_path=../shared/data/binarized_mnist.npz --workdir=runs/made
Hardware:  2-core CPU (no accelerator), shared with other runs.
Wall time: 193 s for 50 epochs with one mask set (25k steps of batch 100 +
           final eval); 643 s with masks=32.
Result:    50 epochs: one mask set 91.17 nats (train 86.5; paper 88.40 with
           early stopping); masks=32, ensemble 94.00 (one set alone 95.19;
           still underfitting, paper 86.64 after far longer training).
Smoke:     --config=configs/made_binarized_mnist.py:smoke (a few seconds).

The fixed (Larochelle) binarization: 50k train (the validation 10k unused),
10k test. Arguments: masks=N (mask sets for connectivity-agnostic training;
the paper's best used 32, averaged at test time), ordering=natural|random
(random: each mask set also draws its own input ordering), hidden=W (one
hidden layer of W ReLU units; the paper's Table 6 model has 500), epochs.
Reports the exact test NLL in nats: `nll_nats` for the first mask set and
`nll_ensemble_nats` for the average over all sets.
"""
import ml_collections

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, masks=1, ordering='natural',
                       hidden=500, layers=1, epochs=100.0)
  c = common.base_config()
  c.entry = 'flows.train'
  c.data.name = 'binarized_mnist'
  m = c.model = ml_collections.ConfigDict()
  m.name = 'made'
  m.hidden = (a.hidden,) * a.layers
  m.num_masks = a.masks
  m.ordering = a.ordering
  m.direct = True
  m.mask_seed = 0
  m.num_samples = 64
  c.batch_size = 100
  c.eval_batch_size = 500
  c.total_epochs = a.epochs
  c.log_every_steps = 500
  c.eval_every_steps = 5000
  c.eval_examples = 2000
  c.sample_every_steps = 0
  c.ckpt_every_steps = 5000
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  if a.smoke:
    common.smoke_trainer(c)
    m.hidden = (32,)
    m.num_masks = 4
    m.num_samples = 4
  return c
