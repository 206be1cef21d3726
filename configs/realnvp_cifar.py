"""Real NVP on CIFAR-10, the paper's setup (arXiv:1605.08803 Sec. 4.1).

Command:   python launch.py --config=configs/realnvp_cifar.py --workdir=runs/cifar
           (offline: --config.data.npz_path=PATH/cifar10.npz, or a prepared
           tfds directory with --config.data.data_dir=DIR)
Hardware:  2-core CPU. As configured this is an accelerator job: ~2.5 images/s
           (26 s per step of 64) after a 3 min compile on the shared CPU
           (bench/train_throughput.py; 20.5 min before the scale penalty
           became one reduction, see flows/objective.weight_scale_l2).
Wall time: the full config was not run. A budget run with 32 features and 2
           blocks, 700 steps on the 10k-image train subset: 47 min.
Result:    budget run: 4.230 bits/dim on the 10k test images (docs/RESULTS.md).
Paper:     3.49 bits/dim test (B. Keng's PyTorch port: 3.79 after 15 epochs).
Smoke:     --config=configs/realnvp_cifar.py:smoke

Multi-scale Real NVP: 3 scales, couplings with residual s/t networks of 8
blocks and 64 features, weight normalisation, batch norm inside s/t and on the
flow path; batch 64, Adam 1e-3, L2 5e-5 on the weight-norm gains; random
horizontal flips.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False)
  c = common.base_config()
  c.entry = 'flows.train'
  c.data.name = 'cifar10'
  c.data.hflip = True
  c.model = common.realnvp_model(num_scales=3, features=64, num_blocks=8,
                                 scale_l2=5e-5)
  c.batch_size = 64
  c.eval_batch_size = 500
  c.total_epochs = 100.0
  c.log_every_steps = 100
  c.eval_every_steps = 5000
  c.eval_examples = 2000
  c.sample_every_steps = 5000
  c.ckpt_every_steps = 2000
  c.optim.learning_rate = 1e-3
  c.optim.warmup_steps = 500
  c.optim.schedule = 'constant'
  if a.smoke:
    common.smoke_trainer(c)
    # One scale: the compile dominates a smoke run and grows with the
    # couplings; realnvp_digits' smoke and tests/flows cover two scales.
    c.model = common.realnvp_model(num_scales=1, features=8, num_blocks=1,
                                   num_samples=4)
  return c


def get_sweep(arg=None):
  del arg
  return common.product(**{'model.num_blocks': [4, 8],
                           'optim.learning_rate': [5e-4, 1e-3]})
