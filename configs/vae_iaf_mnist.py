"""VAE with an IAF posterior on dynamically binarized MNIST (Kingma et al. 2016,
arXiv:1606.04934).

Command:   python launch.py --config=configs/vae_iaf_mnist.py:epochs=40 \
             --config.data.npz_path=../shared/data/mnist.npz --workdir=runs/vae_iaf
Hardware:  2-core CPU (no accelerator), shared with other runs.
Wall time: 24.5 min for 40 epochs (steps=4, batch 20); NLL with k=5000 on a
           fixed 1000-image test subset: 6.7 min (bench/evaluate_workdir.py).
Result:    40 epochs, 4 steps: NLL 90.44 nats and -ELBO 95.87 on that subset,
           against 91.82 / 97.87 for the same VAE without IAF (docs/RESULTS.md).
Smoke:     --config=configs/vae_iaf_mnist.py:smoke (a few seconds).

The IWAE paper's 1-layer MLP VAE (so the gain over configs/vae_mnist.py is
the posterior alone) with `steps` IAF steps, each a MADE with two hidden
layers of 320 ELU units conditioned on the encoder's last hidden layer.
(The paper's MNIST numbers use a convolutional ResNet VAE; this is the
smaller MLP setting.) Takes every vae_mnist.py argument; steps defaults to 4.
"""
from configs import common
from configs import vae_mnist


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, objective='elbo', k=1, steps=4,
                       epochs=3280.0, batch=20, data='mnist')
  inner = (f'objective={a.objective},k={a.k},posterior=iaf,steps={a.steps},'
           f'epochs={a.epochs},batch={a.batch},data={a.data}')
  c = vae_mnist.get_config(inner + (',smoke' if a.smoke else ''))
  if a.smoke:
    c.model.iaf_hidden = (16, 16)
  return c
