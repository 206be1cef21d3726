"""Entry for black-box VI configs (`config.entry = 'vi.train'`).

A Gaussian q (mean-field or full-rank, vi/bbvi.py) fitted to one of the
shared targets (`targets`, or `vae_latent`: the posterior of a trained
VAE's latent for one test image) by the project's one training loop: the
objective is data-free, so checkpoints, resume, the NaN guard and the
metrics come from `common.trainer.fit`. After training, the workdir also
holds

  elbo.png            the ELBO per logged step (the per-step estimates'
                      mean) and at each evaluation (`model.eval_samples`
                      fresh draws)
  summary.txt/.json   per coordinate: the VI mean and sd, and the
                      reference's (exact moments where the target has
                      them, else NUTS draws from `hmc`)
  final_metrics.json  the final ELBO and its standard error, and the
                      moment errors against the reference: the largest
                      |mean_vi - mean_ref| / sd_ref and sd_vi / sd_ref
For `vae_latent` also the amortisation gap (Cremer, Li & Duvenaud 2018,
arXiv:1801.03558): the ELBO of the encoder's q(z|x), of the per-image
optimised q, and log p(x) by importance sampling with the optimised q.
"""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from common import metrics as metrics_lib
from common import objective as objective_lib
from common import trainer
from common.errors import ConfigError
from vi import bbvi


class VIObjective(objective_lib.Objective):
  """The negative ELBO of a Gaussian q over `target`'s flat position."""

  needs_data = False
  encoder_q = None  # vae_latent: the encoder's (mean, log_scale) for the image.

  def __init__(self, target, position, *, family='meanfield',
               estimator='reparam', num_samples=1, init_scale=0.1, stl=False,
               rao_blackwell=True, control_variate=True, eval_samples=10_000):
    bbvi.check_settings(family, estimator, num_samples, stl)
    self.target, self.family = target, family
    self.position = np.asarray(position, np.float32)
    self.init_scale, self.eval_samples = init_scale, eval_samples
    self.options = dict(estimator=estimator, num_samples=num_samples, stl=stl,
                        rao_blackwell=rao_blackwell,
                        control_variate=control_variate)

  def init(self, rng, batch):
    del rng, batch
    return {'params': bbvi.init_params(jnp.asarray(self.position), self.family,
                                       self.init_scale)}

  def loss(self, variables, batch, rng, train):
    elbo = bbvi.elbo_surrogate(rng, variables['params'],
                               self.target.logdensity_flat, **self.options)
    return -elbo, {'elbo': jax.lax.stop_gradient(elbo)}, {}

  def evaluate(self, variables, batch, rng):
    elbo, se = bbvi.elbo_estimate(rng, variables['params'],
                                  self.target.logdensity_flat,
                                  self.eval_samples)
    return {'elbo': elbo, 'elbo_se': se}


def build_target(config):
  """(target, the encoder's (mean, log_scale) for vae_latent else None)."""
  from hmc import run as hmc_run  # pylint: disable=g-import-not-at-top
  import targets  # pylint: disable=g-import-not-at-top
  if config.target == 'vae_latent':
    return hmc_run.vae_latent_posterior(config.vae)
  try:
    return targets.get(config.target, config.dim), None
  except ConfigError as e:
    raise ConfigError(f'{e}, or vae_latent') from None


def initial_position(config, target):
  m = config.model
  if m.init == 'zeros':
    position = np.zeros(target.dim, np.float32)
  elif m.init == 'random':  # Stan's: uniform in [-init_scale, init_scale].
    key = jax.random.fold_in(jax.random.key(config.seed), 1)  # Not the trainer's.
    position = np.asarray(target.initial(key, 1)).reshape(-1)
  else:
    raise ConfigError(f'model.init={m.init!r}: use zeros or random')
  bbvi.check_initial(target.logdensity_flat, position, f'target {target.name!r}')
  return position


def build(config, dataset):
  del dataset  # Data-free.
  m = config.model
  target, encoder_q = build_target(config)
  objective = VIObjective(
      target, initial_position(config, target), family=m.family,
      estimator=m.estimator, num_samples=m.num_samples,
      init_scale=m.init_scale, stl=m.stl, rao_blackwell=m.rao_blackwell,
      control_variate=m.control_variate, eval_samples=m.eval_samples)
  objective.encoder_q = encoder_q  # vae_latent: the encoder's q(z | x).
  return objective


def nuts_reference(config, target):
  """Means and sds of NUTS draws (the project's `hmc`), and their settings."""
  from hmc import sampling  # pylint: disable=g-import-not-at-top
  n = config.nuts
  init_key, run_key = jax.random.split(jax.random.key(config.seed + 1))
  res = sampling.run_chains(run_key, target,
                            target.initial(init_key, n.chains), 'nuts',
                            n.warmup, n.draws)
  draws = np.asarray(res.draws, np.float64).reshape(-1, target.dim)
  return draws.mean(0), draws.std(0), (f'NUTS, {n.chains} chains x {n.draws} '
                                       f'draws after {n.warmup} warm-up')


def moment_errors(mean, std, ref_mean, ref_std):
  z = np.abs(mean - ref_mean) / ref_std
  ratio = std / ref_std
  return {'max_mean_error_in_sd': float(z.max()),
          'rms_mean_error_in_sd': float(np.sqrt(np.mean(z**2))),
          'min_sd_ratio': float(ratio.min()), 'max_sd_ratio': float(ratio.max())}


def amortisation_gap(config, target, params, encoder_q):
  """ELBOs of the encoder's and the optimised q, and log p(x) (IWAE with
  the optimised q and `model.eval_samples` samples)."""
  key = jax.random.key(config.seed + 2)
  logp = target.logdensity_flat
  encoder = {'mean': jnp.asarray(encoder_q[0]),
             'log_scale': jnp.asarray(encoder_q[1])}
  elbo_enc, _ = bbvi.elbo_estimate(key, encoder, logp, config.model.eval_samples)
  elbo_opt, _ = bbvi.elbo_estimate(key, params, logp, config.model.eval_samples)
  z = bbvi.sample(jax.random.fold_in(key, 1), params, config.model.eval_samples)
  log_w = jax.lax.map(logp, z) - bbvi.log_q(params, z)
  log_px = jax.nn.logsumexp(log_w) - jnp.log(log_w.shape[0])
  return {'elbo_encoder': float(elbo_enc), 'elbo_optimised': float(elbo_opt),
          'log_px_iwae': float(log_px),
          'amortisation_gap': float(elbo_opt - elbo_enc),
          'approximation_gap': float(log_px - elbo_opt)}


def main(config, workdir):
  objective = build(config, None)
  final = trainer.fit(config, workdir, objective)
  params = trainer.restore_variables(config, workdir, objective, None)['params']
  target = objective.target
  mean, std = (np.asarray(a, np.float64) for a in bbvi.mean_and_std(params))
  if target.mean is not None and target.var is not None:
    ref_mean, ref_std, ref = target.mean, np.sqrt(target.var), 'exact'
  elif config.nuts.compare:
    ref_mean, ref_std, ref = nuts_reference(config, target)
  else:
    ref_mean = ref_std = ref = None
  extra = {}
  if ref is not None:
    extra.update({f'vi/{k}': v for k, v in
                  moment_errors(mean, std, ref_mean, ref_std).items()})
  if objective.encoder_q is not None:
    extra.update({f'vi/{k}': v for k, v in amortisation_gap(
        config, target, params, objective.encoder_q).items()})
    if ref is not None:  # The amortised q's moments against the same reference.
      enc_mean, enc_log_scale = (np.asarray(a, np.float64) for a in objective.encoder_q)
      extra.update({f'vi/encoder_{k}': v for k, v in moment_errors(
          enc_mean, np.exp(enc_log_scale), ref_mean, ref_std).items()})
  final.update(extra)
  if jax.process_index() == 0:
    write_outputs(workdir, target, mean, std, ref_mean, ref_std, ref, final)
  if extra:
    metrics_lib.log('vi: %s', ' '.join(f'{k}={v:.4g}' for k, v in extra.items()))
  return final


def write_outputs(workdir, target, mean, std, ref_mean, ref_std, ref, final):
  rows = []
  for i, name in enumerate(target.names):
    row = {'name': name, 'mean': float(mean[i]), 'sd': float(std[i])}
    if ref is not None:
      row.update({'ref_mean': float(ref_mean[i]), 'ref_sd': float(ref_std[i])})
    rows.append(row)
  with open(os.path.join(workdir, 'summary.json'), 'w') as f:
    json.dump({'reference': ref, 'rows': rows}, f, indent=1)
  header = f'{"name":>16s} {"mean":>10s} {"sd":>9s}'
  if ref is not None:
    header += f' {"ref mean":>10s} {"ref sd":>9s}   (reference: {ref})'
  lines = [header]
  for r in rows:
    line = f'{r["name"]:>16s} {r["mean"]:10.4f} {r["sd"]:9.4f}'
    if ref is not None:
      line += f' {r["ref_mean"]:10.4f} {r["ref_sd"]:9.4f}'
    lines.append(line)
  with open(os.path.join(workdir, 'summary.txt'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  with open(os.path.join(workdir, 'final_metrics.json')) as f:
    saved = json.load(f)
  saved.update({k: v for k, v in final.items() if k.startswith('vi/')})
  with open(os.path.join(workdir, 'final_metrics.json'), 'w') as f:
    json.dump(saved, f, indent=1)
  _plot_elbo(workdir)


def _plot_elbo(workdir):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  train, evals = [], []
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    for line in f:
      r = json.loads(line)
      if 'train/elbo' in r:
        train.append((r['step'], r['train/elbo']))
      if 'eval/elbo' in r:
        evals.append((r['step'], r['eval/elbo']))
  fig, ax = plt.subplots(figsize=(6, 4))
  if train:
    ax.plot(*zip(*train), label='training estimate (mean per log interval)')
  if evals:
    ax.plot(*zip(*evals), 'o', label='evaluation (many samples)')
  ax.set_xlabel('step')
  ax.set_ylabel('ELBO')
  if train:
    # The first steps' ELBO can be far below the rest; show the approach.
    values = np.array([v for _, v in train + evals])
    low, high = np.percentile(values, 5), values.max()
    pad = 0.1 * (high - low) + 1e-6
    ax.set_ylim(low - pad, high + pad)
  ax.legend()
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, 'elbo.png'), dpi=90)
  plt.close(fig)
