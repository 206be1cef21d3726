"""HMC / NUTS on the posterior p(z | x) of a trained one-layer VAE for one test
image (vae=WORKDIR, image=N).

Command:   python launch.py --config=configs/hmc_vae_latent.py:vae=runs/vae_k1_e40,npz_path=../shared/data/mnist.npz --workdir=runs/hmc_vae_latent
Hardware:  2-core CPU (no accelerator).
Wall time: compile 8.3 s + run 6.23 s (warm-up and draws, 4 chains)
Result:    NUTS, 4 chains x (1000 warm-up + 1000 draws): min bulk ESS 3657,
           max R-hat 1.007, 0 divergences, acceptance 0.89, 14.8 gradients
           per draw, for test image 0 under the 50-latent Bernoulli VAE of
           runs/vae_k1_e40 (configs/vae_mnist.py, 40 epochs).
Smoke:     --config=configs/hmc_vae_latent.py:smoke (a few seconds).

Arguments (every HMC config): kernel=nuts|hmc|rwmh|chees, chains, warmup,
draws, dense (dense mass matrix), adaptation=stan|nutpie, jitter (step-size
jitter, 0..1), float64, vae, image, npz_path.
"""
from configs import common


def get_config(arg=None):
  a = common.hmc_args(arg, vae='', image=0, npz_path='')
  c = common.hmc_config('vae_latent')
  c.vae.workdir, c.vae.image_index = a.vae, a.image
  c.vae.npz_path = a.npz_path
  return common.apply_hmc_args(c, a)
