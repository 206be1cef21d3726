"""Bits-back compression (BB-ANS) of the 8x8 digits: the offline default.

Command:   python launch.py --config=configs/bbans_digits.py --workdir=runs/bbans_digits
Hardware:  2-core CPU (no accelerator).
Wall time: 16 s on the idle CPU, 2026-11-30: 10 s to train the VAE (3000
           steps), then 0.6 s to encode and 0.1 s to decode the 297 test
           digits (file format 3).
Result:    2.175 bits/dim for the whole file (header and initial bits
           included; 2.155 without the initial bits) against the VAE's
           negative ELBO of 2.051 on the same digits (format 2 from the same
           model: 2.170); gzip 3.10, bz2 2.75, lzma 2.77, PNG 14.1, WebP 7.94
           (per-image headers dominate 8x8 images). Lossless decode checked.
Smoke:     --config=configs/bbans_digits.py:smoke (a few seconds).

Trains its own small VAE first (configs/vae_digits.py with a discretized
logistic mixture decoder over the 17 grey levels) unless
--config.model_workdir names one, then codes all 297 test digits losslessly
in 3 chains (Townsend et al. 2019, arXiv:1901.04866), decodes and checks
them, and compares bits/dim with the model's negative ELBO and with gzip,
bz2, lzma, PNG and WebP on the same images.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False)
  # Few chains: each one pays its own initial bits and final head, which
  # only amortise over many images (297 here).
  c = common.bbans_config('digits', 'vae_digits:likelihood=logistic_mixture',
                          chains=3)
  if a.smoke:
    c.vae_config = 'vae_digits:smoke,likelihood=logistic_mixture'
    c.max_images = 18
    c.chains = 3
  return c
