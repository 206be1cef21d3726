"""Per-image Gaussian VI on the posterior p(z | x) of a trained one-layer
VAE's latent for one test image, against the encoder's amortised q(z | x)
and NUTS: the amortisation gap (ELBO of the optimised q minus the
encoder's) and the approximation gap (log p(x) minus the optimised ELBO),
after Cremer, Li & Duvenaud (2018, arXiv:1801.03558).

Command:   python launch.py --config=configs/vae_digits.py --workdir=runs/vae_digits
           python launch.py --config=configs/vi_vae_latent.py \\
             --config.vae.workdir=runs/vae_digits --workdir=runs/vi_vae_latent
Hardware:  2-core CPU (no accelerator).
Wall time: 33 s (5000 steps of 8 draws, NUTS reference, evaluation; shared CPU).
Result:    on configs/vae_digits.py (3000 steps, 8 latents), test image 0:
           ELBO of the encoder's q -16.80, of the optimised full-rank q
           -16.39 (amortisation gap 0.40 nats), log p(x) by importance
           sampling -16.29 (approximation gap 0.10); optimised q's means
           within 0.04 NUTS sd, the encoder's within 0.42; mean field:
           -16.51 (gaps 0.28 and 0.20).
Smoke:     --config=configs/vi_vae_latent.py:smoke with --config.vae.workdir.

Arguments: as configs/vi_linear_regression.py, and image (test index).
"""
from configs import common


def get_config(arg=None):
  a = common.vi_args(arg, family='fullrank', samples=8, steps=5000, stl=True,
                     image=0)
  c = common.vi_config('vae_latent')
  c.vae.image_index = a.image
  return common.apply_vi_args(c, a)
