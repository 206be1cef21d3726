"""Real NVP with MLP couplings on 2-D toy densities.

Command:   python launch.py --config=configs/realnvp_2d.py:data=moons --workdir=runs/moons
           (data = moons | circles | 8gaussians | checkerboard | spirals)
Hardware:  2-core CPU.
Wall time: 2 minutes for moons (5000 steps of batch 512, run beside two other
           training jobs).
Result:    moons: 1.775 nats test NLL (5000 held-out points); the density
           and samples show both arcs.
Outputs:   images/density_<step>.png (learnt density on [-4, 4]^2) and
           images/samples_<step>.png (histogram of 5000 samples).
Smoke:     --config=configs/realnvp_2d.py:smoke
Sweep:     launch.py --sweep runs every dataset.
"""
import ml_collections

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, data='moons')
  c = common.base_config()
  c.entry = 'flows.train'
  c.data.name = a.data
  c.data.num_train = 20000
  c.data.num_test = 5000
  c.model = ml_collections.ConfigDict()
  c.model.name = 'realnvp_2d'
  c.model.num_couplings = 8
  c.model.hidden = 128
  c.model.num_layers = 2
  c.model.flow_batch_norm = False
  c.model.bn_momentum = 0.99
  c.model.num_samples = 5000
  c.batch_size = 512
  c.eval_batch_size = 1000
  c.total_steps = 5000
  c.log_every_steps = 250
  c.eval_every_steps = 1000
  c.sample_every_steps = 2500
  c.ckpt_every_steps = 2500
  c.optim.learning_rate = 1e-3
  c.optim.schedule = 'cosine'
  c.optim.warmup_steps = 100
  if a.smoke:
    common.smoke_trainer(c)
    c.data.num_train, c.data.num_test = 256, 64
    c.model.num_couplings, c.model.hidden = 4, 16
    c.model.num_samples = 500
  return c


def get_sweep(arg=None):
  del arg
  return common.product(**{'data.name': ['moons', 'circles', '8gaussians',
                                         'checkerboard', 'spirals']})
