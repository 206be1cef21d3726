"""Real NVP on MNIST (8-bit, 60k train / 10k test).

Command:   python launch.py --config=configs/realnvp_mnist.py --workdir=runs/mnist
           (offline: add --config.data.npz_path=PATH/mnist.npz)
Hardware:  2-core CPU (shared with another training job).
Wall time: 51 min for a budget run: 1200 steps (1.28 epochs) with 32 features
           instead of 64 (--config.model.features=32 --config.total_epochs=0
           --config.total_steps=1200); the full config (10 epochs, 64 features)
           was not run.
Result:    1.579 bits/dim on the 10k test images (budget run above).
Anchors:   1.67 bits/dim (B. Keng's PyTorch Real NVP), Glow 1.05.
Smoke:     --config=configs/realnvp_mnist.py:smoke

Architecture after B. Keng's MNIST model: 3 scales (28 -> 14 -> 7), residual
s/t networks with 2 blocks of 64 features, batch 64, Adam 1e-3.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False)
  c = common.base_config()
  c.entry = 'flows.train'
  c.data.name = 'mnist'
  c.model = common.realnvp_model(num_scales=3, features=64, num_blocks=2)
  c.batch_size = 64
  c.eval_batch_size = 500
  c.total_epochs = 10.0
  c.log_every_steps = 100
  c.eval_every_steps = 2000
  c.eval_examples = 2000
  c.sample_every_steps = 2000
  c.ckpt_every_steps = 1000
  c.optim.learning_rate = 1e-3
  c.optim.warmup_steps = 200
  c.optim.schedule = 'cosine'
  if a.smoke:
    common.smoke_trainer(c)
    # One scale: the compile dominates a smoke run and grows with the
    # couplings; realnvp_digits' smoke and tests/flows cover two scales.
    c.model = common.realnvp_model(num_scales=1, features=8, num_blocks=1,
                                   num_samples=4)
  return c
