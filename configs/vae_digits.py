"""VAE on scikit-learn's 8x8 digits, dynamically binarized: the offline default.

Command:   python launch.py --config=configs/vae_digits.py --workdir=runs/vae_digits
Hardware:  2-core CPU (no accelerator).
Wall time: 22 s (3000 steps of batch 50 + compile + final eval; shared CPU).
Result:    test NLL 22.77 nats (-L_1000), negative ELBO 23.42 nats, KL 4.23,
           8/8 active units, on the 297 binarized test digits (64 pixels).
Smoke:     --config=configs/vae_digits.py:smoke (a few seconds).

The IWAE paper's recipe (arXiv:1509.00519) on 1500 train / 297 test digits:
dynamic binarization of the 17 grey levels, a Bernoulli decoder, a tanh MLP.
Same arguments as vae_mnist.py: objective=elbo|iwae, k, posterior=iaf,steps=N,
likelihood=bernoulli|logistic_mixture (the 17 grey levels themselves).
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, objective='elbo', k=1,
                       posterior='gaussian', steps=0, likelihood='bernoulli')
  c = common.base_config()
  c.entry = 'vae.train'
  c.data.name = 'digits'
  c.model = common.vae_model(objective=a.objective, k=a.k, latents=(8,),
                             hidden=((128, 128),), iaf_hidden=(64, 64),
                             eval_k=1000, eval_chunk=250,
                             likelihood=a.likelihood, num_mixtures=3)
  if a.posterior == 'iaf':
    c.model.posterior = 'iaf'
    c.model.iaf_steps = a.steps or 2
  c.batch_size = 50
  c.eval_batch_size = 99
  c.total_steps = 3000
  c.log_every_steps = 250
  c.eval_every_steps = 1000
  c.sample_every_steps = 3000
  c.ckpt_every_steps = 1000
  c.optim.learning_rate = 1e-3
  if a.smoke:
    common.smoke_trainer(c)
    common.smoke_vae(c.model)
  return c
