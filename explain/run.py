"""Entry for explanation configs (`config.entry = 'explain.run'`).

Reopens a trained run with `common.runs.load_run` (with `model_workdir`
empty, it first trains one into `workdir/model`: `train_config`, e.g.
'ssvae_mnist:smoke', when set, else the config's own MLP through
`explain.train`), explains its predictions on test
rows against a background drawn from the training split, and writes into
the workdir:

  shap_values.npz         the values, base values, outputs, rows, stderr
  waterfall_<i>.png       one prediction each (the first `num_waterfalls`)
  beeswarm.png            the summary over every explained row
  image_<i>.png           (image models) the superpixel values over the image
  final_metrics.json      efficiency error, timings, error against exact
                          enumeration where it is affordable

Models it knows how to explain: `explain.train`'s tabular MLP (the
regression output, or a class's log-odds) and M2 of `vae/ssvae.py` (the
classifier's log-probabilities over images, players = superpixels). Any
other JAX function goes through `explain_callable` from Python.
"""
import copy
import importlib
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import data as data_lib
from common import metrics as metrics_lib
from common import record
from common import runs
from common.errors import ConfigError
from explain import gradients
from explain import plots
from explain import game
from explain import shapley

METHODS = ('exact', 'kernel', 'permutation', 'integrated_gradients',
           'expected_gradients')
# Exact enumeration as a reference costs 2^M coalitions per row.
EXACT_CHECK_MAX_PLAYERS = 16


def compute(f, x, background, method, cfg, groups=None, feature_names=None,
            output=None):
  """An Explanation of f at x by `method` with the `explain` block's sizes."""
  if method == 'exact':
    return shapley.exact_shapley(f, x, background, groups=groups,
                                 feature_names=feature_names)
  if method == 'kernel':
    return shapley.kernel_shap(f, x, background, groups=groups,
                               feature_names=feature_names,
                               num_samples=cfg.num_samples, seed=cfg.seed)
  if method == 'permutation':
    return shapley.permutation_shap(f, x, background, groups=groups,
                                    feature_names=feature_names,
                                    num_permutations=cfg.num_permutations,
                                    seed=cfg.seed)
  if groups is not None:
    raise ConfigError(f'{method} attributes single features; use exact, '
                      'kernel or permutation with superpixel groups')
  if method == 'integrated_gradients':
    return gradients.integrated_gradients(
        f, x, np.mean(background, 0), steps=cfg.ig_steps, output=output,
        feature_names=feature_names)
  if method == 'expected_gradients':
    return gradients.expected_gradients(
        f, x, background, num_samples=cfg.num_samples, seed=cfg.seed,
        output=output, feature_names=feature_names)
  raise ConfigError(f'unknown explain.method {method!r}; use one of '
                    f'{", ".join(METHODS)}')


def explain_callable(f, x, background, workdir, cfg, *, groups=None,
                     feature_names=None, output_index=None, images=False):
  """Explains any JAX function f ([n, *shape] -> [n] or [n, K]) at rows x
  against `background` and writes the .npz, the PNGs and returns the
  metrics (what `final_metrics.json` holds). `cfg`: an `explain` block.

  `output_index` picks the output plotted for a multi-output f; by
  default each waterfall shows its row's largest output (its predicted
  class) and the beeswarm the first row's. The gradient methods attribute
  one output only: `output_index` is required for a multi-output f.
  """
  method = cfg.method
  if method == 'exact':
    players = game.player_groups(groups, np.asarray(background).shape[1:])[1]
    if players > shapley.MAX_EXACT_PLAYERS:
      raise ConfigError(f'explain.method=exact with {players} players; use '
                        'kernel or permutation, or larger superpixels')
  gradient_output = output_index if method in ('integrated_gradients',
                                               'expected_gradients') else None
  expl = compute(f, x, background, method, cfg, groups, feature_names,
                 gradient_output)
  metrics = {'method': method, 'num_explained': int(len(expl.data)),
             'num_players': int(expl.values.shape[1]),
             'num_background': int(len(background)),
             'coalitions_per_row': int(expl.num_evaluations),
             'seconds': expl.seconds,
             'seconds_per_row': expl.seconds / len(expl.data),
             'efficiency_max_abs_error': expl.efficiency_error(),
             'base_value': float(np.mean(expl.base_values)),
             'mean_abs_value': float(np.mean(np.abs(expl.values)))}
  if expl.stderr is not None:
    metrics['mean_stderr'] = float(np.nanmean(expl.stderr))
  if (cfg.exact_check and method != 'exact'
      and expl.values.shape[1] <= EXACT_CHECK_MAX_PLAYERS):
    exact = shapley.exact_shapley(f, x, background, groups=groups,
                                  feature_names=feature_names)
    ref = exact.values
    if expl.values.ndim == 2 and ref.ndim == 3:
      ref = ref[..., gradient_output]
    metrics['max_abs_error_vs_exact'] = float(np.max(np.abs(expl.values - ref)))
    metrics['mean_abs_error_vs_exact'] = float(np.mean(np.abs(expl.values - ref)))
    metrics['exact_seconds'] = exact.seconds
  expl.save(os.path.join(workdir, 'shap_values.npz'))
  plot_output = None
  if expl.values.ndim == 3:
    plot_output = (output_index if output_index is not None
                   else int(np.argmax(expl.output[0])))
  for i in range(min(cfg.num_waterfalls, len(expl.data))):
    # One prediction: its own class unless one was asked for.
    row_output = plot_output
    if expl.values.ndim == 3 and output_index is None:
      row_output = int(np.argmax(expl.output[i]))
    plots.waterfall(expl, i, os.path.join(workdir, f'waterfall_{i}.png'),
                    output=row_output, max_display=cfg.max_display)
    if images:
      label = '' if row_output is None else f', output {row_output}'
      plots.image_attribution(expl, i, os.path.join(workdir, f'image_{i}.png'),
                              output=row_output,
                              title=f'{method} Shapley values{label}')
  plots.beeswarm(expl, os.path.join(workdir, 'beeswarm.png'),
                 output=plot_output, max_display=cfg.max_display)
  top = np.argsort(-np.abs(expl.values).mean(axis=tuple(
      a for a in range(expl.values.ndim) if a != 1)))[:cfg.max_display]
  metrics['top_features'] = [expl.feature_names[j] for j in top]
  return metrics


def _train_own_model(config, workdir):
  """Trains this config's MLP (its data/model/optim/trainer keys) into
  workdir/model and returns that directory; a rerun resumes it."""
  model_config = copy.deepcopy(config)
  model_config.entry = 'explain.train'
  with model_config.unlocked():
    for key in ('explain', 'model_workdir', 'train_config'):
      if key in model_config:
        del model_config[key]
  model_dir = os.path.join(workdir, 'model')
  metrics_lib.log('no model_workdir: training the MLP into %s', model_dir)
  runs.run_entry(model_config, model_dir)
  return model_dir


def _train_config(name_arg, workdir, npz_path=''):
  """Trains configs/<name>.py (`'name'` or `'name:arg'`, e.g.
  'ssvae_mnist:smoke') into workdir/model; a rerun resumes it."""
  name, _, arg = name_arg.partition(':')
  try:
    module = importlib.import_module(f'configs.{name}')
  except ImportError as e:
    raise ConfigError(f'train_config={name_arg!r}: no configs/{name}.py') from e
  model_config = module.get_config(arg or None)
  if npz_path and model_config.data.name in data_lib.TFDS_NAMES + ('npz',):
    # The explained images' local copy is the training data too.
    model_config.data.npz_path = npz_path
  model_dir = os.path.join(workdir, 'model')
  metrics_lib.log('no model_workdir: training %s into %s', name_arg, model_dir)
  runs.run_entry(model_config, model_dir)
  return model_dir


def _tabular_model(run_cfg, cfg, model_dir):
  run = runs.load_run(model_dir, 'model_workdir')
  objective, variables, dataset = run.objective, run.variables, run.dataset
  names = list(dataset.feature_names)
  if objective.task == 'regression':
    f = lambda z: objective.predict(variables, z)
  else:
    c = cfg.target_class
    classes = objective.model.outputs
    if not 0 <= c < classes:
      raise ConfigError(f'explain.target_class={c} but the model has '
                        f'{classes} classes')

    def f(z):
      # The class's log-odds, log p(c) - log(1 - p(c)): additive where
      # probabilities saturate, what shap's `link='logit'` explains.
      # From the logits, so a confident prediction stays finite.
      logits = objective.predict(variables, z)
      others = jnp.where(jnp.arange(classes) == c, -jnp.inf, logits)
      return logits[:, c] - jax.nn.logsumexp(others, axis=1)
  return f, dataset, names, None, False


def _m2_model(run_cfg, cfg, model_dir):
  """M2's classifier on images: f(images) = log p(y | x) [n, classes]."""
  if run_cfg.model.m1_workdir:
    raise ConfigError('M1+M2 classifies M1\'s latent features, not pixels; '
                      'explain an M2 trained on images')
  data_cfg = copy.deepcopy(run_cfg.data)
  if cfg.npz_path and data_cfg.name in data_lib.TFDS_NAMES + ('npz',):
    data_cfg.npz_path = cfg.npz_path
  dataset = data_lib.load(data_cfg)  # M2 rebuilds its labelled subset.
  run = runs.load_run(model_dir, 'model_workdir', dataset=dataset)
  objective, variables = run.objective, run.variables
  scale = objective.likelihood.levels - 1

  def f(images):
    logits = objective.model.apply(variables, images.astype(jnp.float32) / scale,
                                   method=objective.model.classify)
    return jax.nn.log_softmax(logits)
  groups = shapley.superpixels(dataset.example_shape, cfg.superpixel)
  cols = groups[0].max() + 1
  names = [f'cell ({j // cols}, {j % cols})' for j in range(groups.max() + 1)]
  return f, dataset, names, groups, True


def main(config, workdir):
  cfg = config.explain
  if cfg.method not in METHODS:
    raise ConfigError(f'unknown explain.method {cfg.method!r}; use one of '
                      f'{", ".join(METHODS)}')
  model_dir = config.model_workdir
  if not model_dir:
    model_dir = (_train_config(config.train_config, workdir, cfg.npz_path)
                 if config.get('train_config') else
                 _train_own_model(config, workdir))
  run_cfg = runs.read_config(model_dir, 'model_workdir')
  if run_cfg.entry == 'explain.train':
    f, dataset, names, groups, images = _tabular_model(run_cfg, cfg, model_dir)
  elif run_cfg.entry == 'vae.train' and run_cfg.model.name == 'm2':
    f, dataset, names, groups, images = _m2_model(run_cfg, cfg, model_dir)
  else:
    raise ConfigError(f'model_workdir={model_dir} holds a {run_cfg.entry} run; '
                      'explain.run explains explain.train MLPs and vae.train '
                      'M2 classifiers (other JAX functions: '
                      'explain.run.explain_callable)')
  background = shapley.sample_background(dataset.x_train, cfg.num_background,
                                         cfg.seed)
  x = dataset.x_test
  if cfg.num_explain:
    x = x[:cfg.num_explain]
  if images:
    x, background = x.astype(np.float32), background.astype(np.float32)
  record.commit(config, workdir)  # Model and data are valid: record the run.
  start = time.time()
  final = explain_callable(
      f, x, background, workdir, cfg, groups=groups, feature_names=names,
      output_index=None if cfg.target_class < 0 or not images
      else cfg.target_class, images=images)
  final['total_seconds'] = time.time() - start
  final['model_workdir'] = model_dir
  metrics_lib.log('final: %s', ' '.join(
      f'{k}={v:.5g}' if isinstance(v, float) else f'{k}={v}'
      for k, v in final.items() if k != 'top_features'))
  if jax.process_index() == 0:
    with open(os.path.join(workdir, 'final_metrics.json'), 'w') as fh:
      json.dump(final, fh, indent=1)
  return final
