"""Real NVP on scikit-learn's 8x8 digits: the embedded offline default.

Command:   python launch.py --config=configs/realnvp_digits.py --workdir=runs/digits
Hardware:  2-core CPU (no accelerator).
Wall time: 1 min 15 s for the README command on a fresh clone (venv install
           from the local wheel cache + 2000 steps of batch 64 + compile +
           final eval), 2026-11-30.
Result:    2.074 bits/dim on the 297 test digits (final, whole test split),
           1.87 train; uniform over 17 levels would be log2(17) = 4.09.
Smoke:     --config=configs/realnvp_digits.py:smoke (a few seconds).

Multi-scale Real NVP (arXiv:1605.08803) on 1500 train / 297 test digits with
17 grey levels, uniformly dequantized and logit-transformed.
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False)
  c = common.base_config()
  c.entry = 'flows.train'
  c.data.name = 'digits'
  # Small on purpose: 1500 training images; wider models overfit (the test
  # bpd of 32 features x 2 blocks rose from 2.05 at step 500 to 2.58 at 2500).
  c.model = common.realnvp_model(num_scales=2, features=16, num_blocks=1)
  c.batch_size = 64
  c.eval_batch_size = 100
  c.total_steps = 2000
  c.log_every_steps = 100
  c.eval_every_steps = 250
  c.sample_every_steps = 1000
  c.ckpt_every_steps = 1000
  c.optim.learning_rate = 1e-3
  c.optim.warmup_steps = 100
  c.optim.schedule = 'cosine'
  if a.smoke:
    common.smoke_trainer(c)
    c.model = common.realnvp_model(num_scales=2, features=8, num_blocks=1,
                                   num_samples=16)
  return c


def get_sweep(arg=None):
  del arg
  return common.product(**{'optim.learning_rate': [3e-4, 1e-3, 3e-3]})
