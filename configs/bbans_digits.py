"""Bits-back compression (BB-ANS) of the 8x8 digits: the offline default.

Command:   python launch.py --config=configs/bbans_digits.py --workdir=runs/bbans_digits
Hardware:  2-core CPU (no accelerator).
Wall time: MEASURED
Result:    MEASURED
Smoke:     --config=configs/bbans_digits.py:smoke (a few seconds).

Trains its own small VAE first (configs/vae_digits.py with a discretized
logistic mixture decoder over the 17 grey levels) unless
--config.model_workdir names one, then codes all 297 test digits losslessly
in 99 chains (Townsend et al. 2019, arXiv:1901.04866), decodes and checks
them, and compares bits/dim with the model's negative ELBO and with gzip,
bz2, lzma, PNG and WebP on the same images.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False)
  c = common.bbans_config('digits', 'vae_digits:likelihood=logistic_mixture',
                          chains=99)
  if a.smoke:
    c.vae_config = 'vae_digits:smoke,likelihood=logistic_mixture'
    c.max_images = 18
    c.chains = 6
  return c
