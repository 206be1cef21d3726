"""Bits-back compression (BB-ANS) of binarized MNIST with a Bernoulli VAE.

Command:   python launch.py --config=configs/bbans_binarized_mnist.py \
             --config.data.npz_path=../shared/data/binarized_mnist.npz \
             --config.model_workdir=runs/vae_k1_e40 --workdir=runs/bbans_bmnist
Hardware:  2-core CPU (no accelerator).
Wall time: MEASURED
Result:    MEASURED
Smoke:     --config=configs/bbans_binarized_mnist.py:smoke (a few seconds).

Townsend et al. 2019 (arXiv:1901.04866) Table 3: 0.19 bits/dim (negative
ELBO 0.19; bz2 0.25, gzip 0.33, PNG 0.78, WebP 0.44). Any one-layer
Bernoulli VAE codes binary images; without --config.model_workdir the config
trains configs/vae_mnist.py on the fixed binarization for `epochs`.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, epochs=10.0)
  c = common.bbans_config(
      'binarized_mnist', f'vae_mnist:data=binarized_mnist,epochs={a.epochs}')
  if a.smoke:
    c.vae_config = 'vae_mnist:smoke,data=binarized_mnist'
    c.max_images = 16
    c.chains = 4
  return c
