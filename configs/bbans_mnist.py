"""Bits-back compression (BB-ANS) of 8-bit MNIST with a VAE.

Command:   python launch.py --config=configs/bbans_mnist.py \
             --config.data.npz_path=../shared/data/mnist.npz \
             --config.max_images=1000 --config.chains=100 \
             --workdir=runs/bbans_mnist
Hardware:  2-core CPU (no accelerator).
Wall time: the VAE: 10 epochs (30k steps of batch 20) in 38 min on the
           shared CPU; coding: 99 s to encode and 102 s to decode 1000 test
           images in 100 chains (about 0.1 s per image each way, file
           format 2 before issue 17; format 3, the default now, codes
           about 3,000 / 2,000 8-bit MNIST images/s each way:
           docs/RESULTS.md "BB-ANS speed"; without --config.chains the
           default is now one chain per 250 images, a smaller file).
Result:    on the first 1000 test images (--config.max_images=1000; format 2):
           1.826 bits/dim for the whole file, 1.765 without the initial
           bits, against the VAE's negative ELBO of 1.761 on the same
           images (1.808 on all 10k); gzip 1.590, bz2 1.433, lzma 1.400,
           PNG 2.73, WebP 2.03. The coder is within 0.3% of its model; the
           model, 10 epochs of a one-layer MLP VAE, is far from the paper's
           (-ELBO 1.39, BB-ANS 1.41), so here bz2 and lzma win.
Smoke:     --config=configs/bbans_mnist.py:smoke (a few seconds).

Townsend et al. 2019 (arXiv:1901.04866) Table 3: 1.41 bits/dim (negative
ELBO 1.39; bz2 1.42, gzip 1.64, PNG 2.79, WebP 2.10). The VAE: the IWAE
paper's one-layer MLP (50 latents, 200-200 tanh) with a discretized
logistic mixture decoder, trained by configs/vae_mnist.py for `epochs`
(argument) with `free_bits` nats per latent (without them the flexible
decoder switches z off: KL 0.02 nats after 6000 steps), unless
--config.model_workdir names a trained one.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, epochs=10.0, free_bits=0.25)
  c = common.bbans_config(
      'mnist', 'vae_mnist:likelihood=logistic_mixture,'
      f'epochs={a.epochs},free_bits={a.free_bits}')
  if a.smoke:
    c.vae_config = 'vae_mnist:smoke,likelihood=logistic_mixture'
    c.max_images = 16
    c.chains = 4
  return c
