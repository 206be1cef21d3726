"""HMC / NUTS on the posterior p(z | x) of a trained one-layer VAE for one test
image (vae=WORKDIR, image=N).

Command:   python launch.py --config=configs/hmc_vae_latent.py:vae=runs/vae_k1_e40,npz_path=../shared/data/mnist.npz --workdir=runs/hmc_vae_latent
Hardware:  2-core CPU (no accelerator).
Wall time: MEASURED
Result:    MEASURED
Smoke:     --config=configs/hmc_vae_latent.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh, chains, warmup, draws,
dense (dense mass matrix), float64, vae, image, npz_path.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg, vae='', image=0, npz_path='')
  c = common.hmc_config('vae_latent')
  c.vae.workdir, c.vae.image_index = a.vae, a.image
  c.vae.npz_path = a.npz_path
  return common.apply_hmc_args(c, a)
