"""Semi-supervised M2 and M1+M2 on MNIST (Kingma et al. 2014, arXiv:1406.5298).

Command:   python launch.py --config=configs/ssvae_mnist.py:labels=100,epochs=10 \
             --config.data.npz_path=../shared/data/mnist.npz --workdir=runs/m2_100
Hardware:  2-core CPU (no accelerator), shared with other runs.
Wall time: M2, 10 epochs: 5.5 min on the idle CPU (18.9 steps/s), 15 min
           shared (one decoder pass per class per unlabelled image).
           M1+M2, 30 epochs: 10 min.
Result:    100 labels, test error: M2 22.41% after 10 epochs; M1+M2 17.38%
           after 30 (still falling); paper 11.97% and 3.33% (docs/RESULTS.md).
Smoke:     --config=configs/ssvae_mnist.py:smoke (a few seconds).

Arguments: labels=100|600|1000|3000 (a stratified labelled subset drawn from
label_seed), m1=WORKDIR for M1+M2 (M2 on the latent posterior of the VAE
trained in WORKDIR, e.g. by configs/vae_mnist.py), epochs. The paper's M2: one
hidden layer of 500 softplus units in every network, 50 latents, the
classification weight alpha = 0.1 N. Reports the test error (`error`).
"""
import ml_collections

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, labels=100, m1='', epochs=100.0,
                       label_seed=0)
  c = common.base_config()
  c.entry = 'vae.train'
  c.data.name = 'mnist'
  m = c.model = ml_collections.ConfigDict()
  m.name = 'm2'
  m.latent = 50
  m.hidden = (500,)
  m.activation = 'softplus'
  m.likelihood = 'bernoulli'
  m.num_mixtures = 5
  m.num_classes = 10
  m.num_labelled = a.labels
  m.alpha_scale = 0.1
  m.label_seed = a.label_seed
  m.m1_workdir = a.m1
  c.batch_size = 100
  c.eval_batch_size = 500
  c.total_epochs = a.epochs
  c.log_every_steps = 500
  c.eval_every_steps = 3000
  c.eval_examples = 10000
  c.sample_every_steps = 0
  c.ckpt_every_steps = 3000
  c.optim.learning_rate = 3e-4
  if a.smoke:
    common.smoke_trainer(c)
    c.data.name = 'digits'
    m.num_labelled = 20
    m.hidden = (32,)
    m.latent = 4
  return c
