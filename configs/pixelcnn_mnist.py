"""PixelCNN on MNIST: binarized (the paper's 81.30 nats) or 8-bit.

Command:   python launch.py --config=configs/pixelcnn_mnist.py \
             --config.data.npz_path=../shared/data/binarized_mnist.npz --workdir=runs/pixelcnn_bmnist
           (8-bit: --config=configs/pixelcnn_mnist.py:levels=256 with
            --config.data.npz_path=../shared/data/mnist.npz)
Hardware:  2-core CPU (no accelerator).
Wall time: 28 min for 1 epoch (781 steps of batch 64, about 0.5 steps/s on
           the shared CPU) + the evaluation on all 10k test images.
Result:    binarized, 1 epoch (:epochs=1), 180k parameters (features 32,
           7 blocks): test NLL 94.02 nats (0.173 bits/dim), still falling
           (train 94.4 at the end); paper 81.30 after full training.
Smoke:     --config=configs/pixelcnn_mnist.py:smoke (a few seconds).

van den Oord et al. 2016 (arXiv:1601.06759) Table 4 report 81.30 nats for
PixelCNN on binarized MNIST. The network: a 7x7 mask-A convolution, residual
blocks of masked 1x1 / 3x3 / 1x1 convolutions, two 1x1 ReLU layers and a
softmax over the dataset's levels (2, or 256 for 8-bit). Arguments:
levels=2|256, model=pixelcnn|gated_pixelcnn, features, depth, epochs.
Reports the exact test NLL in nats (`nll_nats`) and bits/dim (`bpd`).
"""
from common.errors import ConfigError
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, levels=2, model='pixelcnn',
                       features=32, depth=7, epochs=10.0)
  c = common.base_config()
  c.entry = 'pixelcnn.train'
  if a.levels == 2:
    c.data.name = 'binarized_mnist'
  elif a.levels == 256:
    c.data.name = 'mnist'
  else:
    raise ConfigError(f'levels must be 2 or 256, got {a.levels}')
  c.model = common.pixelcnn_model(a.model, features=a.features, depth=a.depth,
                                  first_kernel=7, kernel=5,
                                  output_features=256)
  c.batch_size = 64
  c.eval_batch_size = 250
  c.total_epochs = a.epochs
  c.log_every_steps = 100
  c.eval_every_steps = 2000
  c.eval_examples = 1000
  c.sample_every_steps = 5000
  c.ckpt_every_steps = 1000
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  c.optim.warmup_steps = 100
  if a.smoke:
    common.smoke_trainer(c)
    common.smoke_pixelcnn(c.model)
  return c
