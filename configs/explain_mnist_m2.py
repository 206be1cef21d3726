"""Which parts of a digit M2 looks at: Shapley values of the classifier of
the semi-supervised M2 (vae/ssvae.py, Kingma et al. 2014, arXiv:1406.5298)
on MNIST test digits, players = 4x4-pixel superpixels (49 per image),
background = training digits, by KernelSHAP (Lundberg & Lee 2017,
arXiv:1705.07874). Each explained digit gets a waterfall and a map of its
predicted class's values over the image; one beeswarm for the first
digit's class.

Command:   python launch.py --config=configs/explain_mnist_m2.py:model=runs/m2_100 \
             --config.explain.npz_path=../shared/data/mnist.npz --workdir=runs/explain_m2
           (runs/m2_100: configs/ssvae_mnist.py, see its docstring; without
           model=, that run is trained first into workdir/model, 10 epochs)
Hardware:  2-core CPU (no accelerator).
Wall time: 22.6 s for the values (idle CPU) after the M2 run (5.5 min for
           10 epochs, 100 labels, test error 22.41%).
Result:    20 test digits, 49 players each, 2,048 coalitions x 50 background
           digits: 0.87 s a digit, efficiency error 2e-14, mean standard
           error 0.022 against a mean |phi| of 0.35; the central cells
           carry the class (docs/RESULTS.md).
Smoke:     --config=configs/explain_mnist_m2.py:smoke (M2 on 8x8 digits,
           2x2 superpixels, exact; seconds).

Arguments: model=WORKDIR (a trained M2), method, samples, superpixel
(side in pixels), epochs (when it trains M2 itself).
"""
import ml_collections

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, model='', method='kernel',
                       samples=2048, superpixel=4, epochs=10.0)
  c = ml_collections.ConfigDict()
  c.entry = 'explain.run'
  c.seed = 0                 # Unused: explain.seed draws the background.
  c.model_workdir = a.model
  c.train_config = f'ssvae_mnist:labels=100,epochs={a.epochs:g}'
  c.explain = common.explain_block(
      method=a.method, num_samples=a.samples, superpixel=a.superpixel,
      num_background=50, num_explain=20, num_waterfalls=4, target_class=-1)
  if a.smoke:
    c.train_config = 'ssvae_mnist:smoke'
    c.explain.update(method='exact', superpixel=2, num_background=8,
                     num_explain=3, num_waterfalls=1)
  return c
