"""PixelCNN on MNIST: binarized (the paper's 81.30 nats) or 8-bit.

Command:   python launch.py --config=configs/pixelcnn_mnist.py \
             --config.data.npz_path=../shared/data/binarized_mnist.npz --workdir=runs/pixelcnn_bmnist
           (8-bit: --config=configs/pixelcnn_mnist.py:levels=256 with
            --config.data.npz_path=../shared/data/mnist.npz)
Hardware:  2-core CPU (no accelerator).
Wall time: 28 min for 1 epoch (781 steps of batch 64, about 0.5 steps/s on
           the shared CPU) + the evaluation on all 10k test images.
Result:    binarized, 1 epoch (:epochs=1), 180k parameters (model.hidden 32,
           model.residual_blocks 7): test NLL 94.02 nats (0.173 bits/dim),
           still falling (train 94.4 at the end); paper 81.30 after full
           training.
Smoke:     --config=configs/pixelcnn_mnist.py:smoke (a few seconds).

van den Oord et al. 2016 (arXiv:1601.06759) Table 4 report 81.30 nats for
PixelCNN on binarized MNIST. The network: a 7x7 mask-A convolution, residual
blocks of masked 1x1 / 3x3 / 1x1 convolutions, two 1x1 ReLU layers and a
softmax over the dataset's levels (2, or 256 for 8-bit). Arguments:
levels=2|256, model=pixelcnn|gated_pixelcnn, epochs. Sizes are model keys,
e.g. --config.model.hidden=64 --config.model.residual_blocks=12 (pixelcnn),
model.stack_channels and model.gated_layers (gated_pixelcnn);
configs/common.py `pixelcnn_model` lists every key. Reports the exact test
NLL in nats (`nll_nats`) and bits/dim (`bpd`).
"""
from common.errors import ConfigError
from configs import common

# Each network's model keys here (the rest: pixelcnn_model's defaults).
_SIZES = {
    'pixelcnn': dict(hidden=32, residual_blocks=7, first_kernel=7,
                     output_features=256),
    'gated_pixelcnn': dict(stack_channels=32, gated_layers=7, first_kernel=7,
                           kernel=5, output_features=256),
}


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, levels=2, model='pixelcnn',
                       epochs=10.0)
  c = common.base_config()
  c.entry = 'pixelcnn.train'
  if a.levels == 2:
    c.data.name = 'binarized_mnist'
  elif a.levels == 256:
    c.data.name = 'mnist'
  else:
    raise ConfigError(f'levels must be 2 or 256, got {a.levels}')
  if a.model not in _SIZES:
    raise ConfigError(f'model must be {" or ".join(_SIZES)}, got {a.model!r}')
  c.model = common.pixelcnn_model(a.model, **_SIZES[a.model])
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
