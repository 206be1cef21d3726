"""Gated PixelCNN on CIFAR-10 (van den Oord et al. 2016, arXiv:1606.05328).

Command:   python launch.py --config=configs/gated_pixelcnn_cifar.py \
             --config.data.npz_path=../shared/data/cifar10_train10k.npz,../shared/data/cifar10_test.npz \
             --workdir=runs/gated_cifar
Hardware:  2-core CPU (no accelerator).
Wall time: 52 s per step of batch 32 on the 2-core CPU (0.61 images/s,
           22.4M parameters): a full run is a GPU job. A CPU budget run of
           30 steps of batch 8 (--config.batch_size=8 --config.total_steps=30
           --config.total_epochs=0 --config.model.num_samples=0) took 17 min
           on the shared CPU.
Result:    that budget run (240 training images seen): 7.226 bits/dim on
           100 random test images (uniform: 8; train 7.99 -> 7.26). No
           converged number measured; the paper reports 3.03.
Smoke:     --config=configs/gated_pixelcnn_cifar.py:smoke (a few seconds).

Vertical and horizontal stacks of gated layers (no blind spot), RGB colour
groups in the horizontal stack, a 256-way softmax per sub-pixel; the paper
reports 3.03 bits/dim. Its CIFAR-10 layer sizes are not given in full; we
use 15 gated layers (model.gated_layers) of 5x5 (model.kernel; 7x7 first,
model.first_kernel) with 192 channels (64 per colour) per stack
(model.stack_channels). Arguments: conditional (class-conditional on the
label, Sec. 2.3), epochs.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, conditional=False, epochs=100.0)
  c = common.base_config()
  c.entry = 'pixelcnn.train'
  c.data.name = 'cifar10'
  c.model = common.pixelcnn_model('gated_pixelcnn', stack_channels=192,
                                  gated_layers=15, first_kernel=7, kernel=5,
                                  output_features=1024,
                                  num_classes=10 if a.conditional else 0)
  c.batch_size = 32
  c.eval_batch_size = 50
  c.total_epochs = a.epochs
  c.log_every_steps = 100
  c.eval_every_steps = 5000
  c.eval_examples = 500
  c.sample_every_steps = 20000
  c.ckpt_every_steps = 2000
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  c.optim.warmup_steps = 500
  c.optim.grad_clip_norm = 100.0
  if a.smoke:
    common.smoke_trainer(c)
    common.smoke_pixelcnn(c.model)
  return c
