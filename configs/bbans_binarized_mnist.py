"""Bits-back compression (BB-ANS) of binarized MNIST with a Bernoulli VAE.

Command:   python launch.py --config=configs/bbans_binarized_mnist.py \
             --config.data.npz_path=../shared/data/binarized_mnist.npz \
             --config.model_workdir=runs/vae_k1_e40 --config.chains=100 \
             --workdir=runs/bbans_bmnist
Hardware:  2-core CPU (no accelerator).
Wall time: encode 23 s, decode 26 s for the 10k test images in 100
           chains (2-core CPU, shared), plus loading and baselines, before
           issue 17; with file format 3 the compressor now codes about
           17,000 / 21,000 images/s (encode / decode) in the default 40
           chains (docs/RESULTS.md "BB-ANS speed").
Result:    with runs/vae_k1_e40 (configs/vae_mnist.py, 40 epochs, trained on
           dynamically binarized MNIST; file format 2): 0.1875 bits/dim
           for the whole file, 0.1814 without the initial bits, against the
           model's negative ELBO of 0.1809 on the same images; gzip 0.357,
           bz2 0.246, lzma 0.312, PNG 1.37, WebP 0.84. Lossless.
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
