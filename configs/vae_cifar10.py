"""Convolutional VAE on CIFAR-10 with a discretized logistic mixture decoder.

Command:   python launch.py --config=configs/vae_cifar10.py \
             --config.data.npz_path=../shared/data/cifar10_train10k.npz,../shared/data/cifar10_test.npz \
             --workdir=runs/vae_cifar
Hardware:  2-core CPU (no accelerator).
Wall time: about 3.8 s per step of batch 64 on the CPU (9.26M parameters):
           a CPU budget run of 120 steps (--config.total_steps=120
           --config.total_epochs=0 --config.optim.warmup_steps=10
           --config.model.eval_k=1) took 10 min including the final
           evaluation on all 10k test images. A full run is a GPU job.
Result:    that budget run (0.8 epochs): test -ELBO 7.254 bits/dim (uniform:
           8), still falling steeply; no converged number measured.
Smoke:     --config=configs/vae_cifar10.py:smoke (a few seconds).

Encoder: two stages of (3x3 conv, 3x3 stride-2 conv) with 64 and 128
channels, a dense layer of 512 and 128 Gaussian latents; the decoder mirrors
it and outputs a 5-component discretized logistic mixture per sub-pixel
(PixelCNN++, arXiv:1701.05517), so the reported bits/dim are exact discrete
code lengths: `neg_elbo_bpd` (the bound) and `bpd` (-L_k with eval_k
importance samples). Arguments: posterior=gaussian|iaf, steps, epochs.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, posterior='gaussian', steps=0,
                       epochs=100.0)
  c = common.base_config()
  c.entry = 'vae.train'
  c.data.name = 'cifar10'
  c.data.hflip = True
  c.model = common.vae_model(
      architecture='conv', latents=(128,), hidden=((512,),),
      conv_features=(64, 128), activation='elu', likelihood='logistic_mixture',
      num_mixtures=5, iaf_hidden=(512, 512), eval_k=100, eval_chunk=10)
  if a.posterior == 'iaf':
    c.model.posterior = 'iaf'
    c.model.iaf_steps = a.steps or 2
  c.batch_size = 64
  c.eval_batch_size = 100
  c.total_epochs = a.epochs
  c.log_every_steps = 100
  c.eval_every_steps = 2000
  c.eval_examples = 500
  c.sample_every_steps = 2000
  c.ckpt_every_steps = 2000
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  c.optim.warmup_steps = 200
  c.optim.grad_clip_norm = 200.0
  if a.smoke:
    common.smoke_trainer(c)
    c.model.conv_features = (8, 16)
    c.model.hidden = ((32,),)
    c.model.latents = (8,)
    c.model.iaf_hidden = (16,)
    c.model.eval_k = 4
    c.model.eval_chunk = 2
    c.model.num_samples = 4
  return c
