"""VAE / IWAE on dynamically binarized MNIST (Burda et al. 2016, arXiv:1509.00519).

Command:   python launch.py --config=configs/vae_mnist.py:objective=iwae,k=5,epochs=40 \
             --config.data.npz_path=../shared/data/mnist.npz --workdir=runs/iwae5
Hardware:  2-core CPU (no accelerator), shared with other runs.
Wall time: 40 epochs (passes 0-3 of the schedule) of batch 20: VAE k=1 7.5 min
           of training + 12.5 min for the k=5000 test NLL; IWAE k=5 8.7 + 10 min.
Result:    test NLL (-L_5000, all 10k test images) after 40 of the paper's
           3280 epochs: VAE k=1 91.99 nats (19 active units), IWAE k=5 90.61
           (22 active units); paper 86.76 and 85.54 after 3280 epochs.
Smoke:     --config=configs/vae_mnist.py:smoke (a few seconds).

Arguments (`file.py:a=1,b=2`): objective=elbo|iwae, k (samples in the
training bound; the paper's 1, 5, 50), layers=1|2 (the paper's 1- and
2-stochastic-layer MLPs), posterior=gaussian|iaf with steps=N, epochs (the
paper's 3280 = 3^0 + ... + 3^7 passes of the IWAE schedule), batch (20 in the
paper), data=mnist|binarized_mnist (the fixed Larochelle binarization,
about 2 nats harder), likelihood=bernoulli|logistic_mixture (the latter
models the 8-bit pixels, `mixtures` components each; bits/dim reported),
free_bits (nats per latent dimension, Kingma et al. 2016; against posterior
collapse with that strong decoder).
Test NLL is -L_5000.
"""
from common.errors import ConfigError
from configs import common

_TRAIN_SIZE = {'mnist': 60000, 'binarized_mnist': 50000}


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, objective='elbo', k=1, layers=1,
                       posterior='gaussian', steps=0, epochs=3280.0, batch=20,
                       data='mnist', likelihood='bernoulli', mixtures=5,
                       free_bits=0.0)
  c = common.base_config()
  c.entry = 'vae.train'
  if a.data not in _TRAIN_SIZE:
    raise ConfigError(f'data must be mnist or binarized_mnist, got {a.data!r}')
  c.data.name = a.data
  c.model = common.vae_layers(common.vae_model(
      objective=a.objective, k=a.k, likelihood=a.likelihood,
      num_mixtures=a.mixtures, free_bits=a.free_bits), a.layers)
  if a.posterior == 'iaf':
    c.model.posterior = 'iaf'
    c.model.iaf_steps = a.steps or 2
  c.batch_size = a.batch
  c.eval_batch_size = 100
  c.total_epochs = a.epochs
  c.log_every_steps = 1000
  c.eval_every_steps = 0
  c.eval_examples = 1000
  c.sample_every_steps = 0
  c.ckpt_every_steps = 5000
  common.iwae_optim(c, _TRAIN_SIZE[a.data] // a.batch)
  if a.smoke:
    common.smoke_trainer(c)
    common.smoke_vae(c.model)
  return c


def get_sweep(arg=None):
  """The IWAE paper's Table 1 grid for MNIST."""
  del arg
  return common.product(**{'model.objective': ['elbo', 'iwae'],
                           'model.k': [1, 5, 50]})
