"""PixelCNN++ on CIFAR-10, the paper's setup (Salimans et al. 2017, arXiv:1701.05517).

Command:   python launch.py --config=configs/pixelcnnpp_cifar.py \
             --config.data.npz_path=../shared/data/cifar10_train10k.npz,../shared/data/cifar10_test.npz \
             --workdir=runs/pixelcnnpp_cifar
Hardware:  2-core CPU (no accelerator).
Wall time: 31.5 s per step of batch 16 on the 2-core CPU (0.51 images/s,
           53.66M parameters, 56 s compile): a full run is a GPU job. A CPU
           budget run of 15 steps of batch 8 (--config.batch_size=8
           --config.total_steps=15 --config.total_epochs=0
           --config.model.num_samples=0 --config.optim.ema_decay=0) took
           14 min on the shared CPU.
Result:    that budget run (120 training images seen): 7.101 bits/dim on
           100 random test images (uniform: 8; train 9.19 -> 7.60). No
           converged number measured; the paper reports 2.92.
Smoke:     --config=configs/pixelcnnpp_cifar.py:smoke (a few seconds).

6 stages of 5 gated resnet blocks (model.resnet_blocks; 3 resolutions
down, 3 up: model.num_scales) with 160 filters (model.filters),
concat_elu, dropout 0.5, weight norm with data-dependent init, a
10-component discretized logistic mixture with linear RGB coupling; Adam at
1e-3 decayed by 0.999995 per step, and an EMA of the parameters (decay
0.9995, as in the reference code) for evaluation and sampling. The paper
reports 2.92 bits/dim. Arguments: conditional (class-conditional), epochs.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, conditional=False, epochs=500.0)
  c = common.base_config()
  c.entry = 'pixelcnn.train'
  c.data.name = 'cifar10'
  c.model = common.pixelcnn_model('pixelcnnpp', filters=160, resnet_blocks=5,
                                  num_scales=3, num_mixtures=10, dropout=0.5,
                                  num_classes=10 if a.conditional else 0)
  c.batch_size = 64
  c.eval_batch_size = 50
  c.total_epochs = a.epochs
  c.log_every_steps = 100
  c.eval_every_steps = 5000
  c.eval_examples = 500
  c.sample_every_steps = 20000
  c.ckpt_every_steps = 2000
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'exponential'
  c.optim.decay_rate = 0.999995
  c.optim.ema_decay = 0.9995
  if a.smoke:
    common.smoke_trainer(c)
    common.smoke_pixelcnn(c.model)
  return c
