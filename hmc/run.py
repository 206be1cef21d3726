"""Entry for HMC configs (`config.entry = 'hmc.run'`): adapt, sample, diagnose.

Runs `config.num_chains` chains of `config.kernel` (nuts, hmc or rwmh) on
`config.target` after Stan's window adaptation (or nutpie's, with
`config.adaptation = 'nutpie'`), then writes into the workdir

  draws.npz            draws [chains, draws, d], step sizes, inverse mass
                       matrices and per-draw sampler statistics
  inference_data.nc    the same as an ArviZ InferenceData (when ArviZ is
                       installed)
  summary.txt/.json    per parameter: mean, sd, quantiles, bulk and tail
                       ESS, rank-normalised R-hat
  trace.png, pair.png  trace plots and a pair plot
  final_metrics.json   min ESS, max R-hat, ESS per second and per gradient,
                       acceptance, divergences, compile and run time, and
                       errors of the moments in Monte Carlo standard errors
                       where the target's moments are known
"""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from common import metrics as metrics_lib
from common import record
from common.errors import ConfigError
from hmc import diagnostics
from hmc import sampling
import targets


def vae_latent_posterior(cfg):
  """p(z | x) of the one-layer VAE trained in cfg.workdir, for test image
  cfg.image_index (binarized with a fixed key when its decoder is Bernoulli),
  and the encoder's q(z | x) for that image as (mean, log_scale) [latents]."""
  from common import data as data_lib  # pylint: disable=g-import-not-at-top
  from common import runs  # pylint: disable=g-import-not-at-top
  hint = 'train a VAE first (configs/vae_digits.py or vae_mnist.py)'
  saved = runs.read_config(cfg.workdir, 'vae.workdir', hint)
  runs.check_kind(saved, cfg.workdir, 'vae.workdir', hint)
  data_cfg = saved.data
  if cfg.npz_path:
    data_cfg.npz_path = cfg.npz_path
  dataset = data_lib.load(data_cfg)  # The test image.
  run = runs.load_run(cfg.workdir, 'vae.workdir', hint, dataset=dataset)
  if not 0 <= cfg.image_index < len(dataset.x_test):
    raise ConfigError(f'vae.image_index={cfg.image_index} is outside the '
                      f'{len(dataset.x_test)} test images')
  model, variables = run.objective.model, run.variables
  x, target = model.likelihood.prepare(dataset.x_test[cfg.image_index][None],
                                       jax.random.key(cfg.image_index))

  def log_joint(z):
    return model.apply(variables, z[None].astype(jnp.float32), target,
                       method=model.log_joint)[0].astype(z.dtype)

  mean, log_scale, _ = model.apply(variables, x, method=model.encode)
  return (targets.from_log_joint('vae_latent', log_joint, model.latents[0]),
          (np.asarray(mean[0]), np.asarray(log_scale[0])))


def vae_latent_target(cfg):
  """The target of `vae_latent_posterior`."""
  return vae_latent_posterior(cfg)[0]


def build_target(config):
  if config.target == 'vae_latent':
    return vae_latent_target(config.vae)
  try:
    return targets.get(config.target, config.dim)
  except ConfigError as e:
    raise ConfigError(f'{e}, or vae_latent') from None


def main(config, workdir):
  if config.float64:
    jax.config.update('jax_enable_x64', True)
  dtype = jnp.float64 if config.float64 else jnp.float32
  sampling.check_settings(config.kernel, config.num_warmup, config.num_draws,
                          config.num_steps, config.max_depth,
                          config.target_accept, adaptation=config.adaptation,
                          dense_mass=config.dense_mass,
                          step_size_jitter=config.step_size_jitter)
  target = build_target(config)
  record.commit(config, workdir)  # Settings and target are valid: record.
  init_key, run_key = jax.random.split(jax.random.key(config.seed))
  res = sampling.run_chains(
      run_key, target,
      target.initial(init_key, config.num_chains, dtype), config.kernel,
      config.num_warmup, config.num_draws, config.num_steps, config.max_depth,
      config.dense_mass, config.target_accept, adaptation=config.adaptation,
      step_size_jitter=config.step_size_jitter)
  metrics_lib.log('compiled in %.1f s; %d chains x (%d warm-up + %d draws) in '
                  '%.2f s', res.compile_s, config.num_chains, config.num_warmup,
                  config.num_draws, res.run_s)
  rows = diagnostics.summary(res.draws, target.names)
  final = summarise(res, rows, target)
  table = diagnostics.format_summary(rows)
  metrics_lib.log('\n%s', table)
  metrics_lib.log('final: %s', ' '.join(f'{k}={v:.5g}' for k, v in final.items()))
  if jax.process_index() == 0:
    write_outputs(workdir, res, rows, table, final, target, config)
  return final


def summarise(res, rows, target):
  """Scalar results of a run (what final_metrics.json holds)."""
  ess_bulk = np.array([r['ess_bulk'] for r in rows])
  grads = float(np.sum(res.info.num_grad_evals) + np.sum(
      res.warmup_info.num_grad_evals))
  out = {
      'min_ess_bulk': float(np.min(ess_bulk)),
      'min_ess_tail': float(min(r['ess_tail'] for r in rows)),
      'max_rhat': float(max(r['rhat'] for r in rows)),
      'mean_accept': float(np.mean(res.info.acceptance_prob)),
      'divergences': int(np.sum(res.info.is_divergent)),
      'grad_evals': grads,
      'grad_evals_per_draw': float(np.mean(res.info.num_grad_evals)),
      'min_ess_per_s': float(np.min(ess_bulk) / res.run_s),
      'min_ess_per_grad': float(np.min(ess_bulk) / grads),
      'compile_s': res.compile_s, 'run_s': res.run_s,
      'step_size': float(np.mean(res.step_size))}
  if getattr(res, 'trajectory_length', None) is not None:  # ChEES-HMC's T.
    out['trajectory_length'] = float(np.mean(res.trajectory_length))
  if target.mean is not None:
    z_mean, z_var = diagnostics.moment_z(res.draws, target.mean, target.var)
    out['max_abs_z_mean'] = float(np.max(np.abs(z_mean)))
    out['max_abs_z_var'] = float(np.max(np.abs(z_var)))
  return out


def write_outputs(workdir, res, rows, table, final, target, config):
  os.makedirs(workdir, exist_ok=True)
  stats = {f'sample_{k}': np.asarray(v) for k, v in res.info._asdict().items()}
  np.savez(os.path.join(workdir, 'draws.npz'), draws=res.draws,
           names=np.array(target.names), step_size=res.step_size,
           inverse_mass=res.inverse_mass, **stats)
  with open(os.path.join(workdir, 'summary.txt'), 'w') as f:
    f.write(table + '\n')
  with open(os.path.join(workdir, 'summary.json'), 'w') as f:
    json.dump([{k: (float(v) if k != 'name' else v) for k, v in r.items()}
               for r in rows], f, indent=1)
  with open(os.path.join(workdir, 'final_metrics.json'), 'w') as f:
    json.dump(final, f, indent=1)
  _write_inference_data(workdir, res, target)
  _plot(workdir, res.draws, target, config.plot_params)


def _write_inference_data(workdir, res, target):
  try:
    import arviz  # pylint: disable=g-import-not-at-top
  except ImportError:
    metrics_lib.log('ArviZ not installed: skipping inference_data.nc')
    return
  idata = arviz.from_dict(
      posterior={'x': res.draws},
      sample_stats={'acceptance_rate': np.asarray(res.info.acceptance_prob),
                    'diverging': np.asarray(res.info.is_divergent),
                    'energy': np.asarray(res.info.energy),
                    'n_steps': np.asarray(res.info.num_grad_evals),
                    'tree_depth': np.asarray(res.info.tree_depth)},
      coords={'x_dim_0': target.names}, dims={'x': ['x_dim_0']})
  idata.to_netcdf(os.path.join(workdir, 'inference_data.nc'))


def _plot(workdir, draws, target, num_params):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  k = min(num_params, draws.shape[-1])
  fig, axes = plt.subplots(k, 2, figsize=(10, 2.2 * k), squeeze=False)
  for i in range(k):
    for c in range(draws.shape[0]):
      axes[i, 0].plot(draws[c, :, i], lw=0.5)
      axes[i, 1].hist(draws[c, :, i], bins=40, histtype='step', density=True)
    axes[i, 0].set_ylabel(target.names[i])
  axes[0, 0].set_title('trace (one colour per chain)')
  axes[0, 1].set_title('marginal')
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, 'trace.png'), dpi=80)
  plt.close(fig)
  i, j = target.pair
  fig, ax = plt.subplots(figsize=(5, 5))
  flat = draws.reshape(-1, draws.shape[-1])
  if i == j:
    ax.hist(flat[:, i], bins=80, density=True)
    ax.set_xlabel(target.names[i])
  else:
    ax.scatter(flat[:, i], flat[:, j], s=2, alpha=0.3)
    ax.set_xlabel(target.names[i])
    ax.set_ylabel(target.names[j])
  ax.set_title(target.name)
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, 'pair.png'), dpi=80)
  plt.close(fig)
