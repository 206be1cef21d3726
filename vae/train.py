"""Entry for VAE-family configs (`config.entry = 'vae.train'`): builds, then `fit`s.

`model.name` picks the model: 'vae' (VAE/IWAE, optionally with an IAF
posterior) or 'm2' (semi-supervised M2; with `model.m1_workdir` set, M1+M2
on the latent posterior of the VAE trained in that workdir).
"""

import jax
import jax.numpy as jnp
import numpy as np

from common import data as data_lib
from common import runs
from common import trainer
from common.errors import ConfigError
from vae import likelihoods
from vae import model as model_lib
from vae import objective as objective_lib
from vae import ssvae


def _likelihood(model_cfg, dataset):
  return likelihoods.likelihood_from_config(model_cfg.likelihood, dataset.levels,
                                            model_cfg.num_mixtures)


def build(config, dataset):
  """The objective `config.model` describes (VAE or M2), shaped for `dataset`.

  For M1+M2 (`model.m1_workdir` set), `dataset` is M1's features of the
  images (`training_data`).
  """
  model_cfg = config.model
  if model_cfg.name == 'vae':
    return _vae_objective(model_cfg, dataset)
  if model_cfg.name == 'm2':
    return _m2_objective(model_cfg, dataset)
  raise ConfigError(f'unknown VAE-family model {model_cfg.name!r}; use vae or m2')


def _vae_objective(model_cfg, dataset):
  if model_cfg.posterior not in ('gaussian', 'iaf'):
    raise ConfigError(f'unknown posterior {model_cfg.posterior!r}; use gaussian '
                      'or iaf')
  iaf_steps = model_cfg.iaf_steps if model_cfg.posterior == 'iaf' else 0
  if model_cfg.posterior == 'iaf' and iaf_steps < 1:
    raise ConfigError('posterior=iaf needs model.iaf_steps >= 1')
  model = model_lib.VAE(
      data_shape=dataset.example_shape,
      likelihood=_likelihood(model_cfg, dataset),
      architecture=model_cfg.architecture,
      latents=tuple(model_cfg.latents),
      hidden=tuple(tuple(h) for h in model_cfg.hidden),
      conv_features=tuple(model_cfg.conv_features),
      activation=model_cfg.activation, iaf_steps=iaf_steps,
      iaf_hidden=tuple(model_cfg.iaf_hidden),
      iaf_forget_bias=model_cfg.iaf_forget_bias)
  return objective_lib.VAEObjective(
      model, objective=model_cfg.objective, k=model_cfg.k,
      eval_k=model_cfg.eval_k, eval_chunk=model_cfg.eval_chunk,
      num_samples=model_cfg.num_samples,
      # Runs saved before free bits existed have no such key.
      free_bits=model_cfg.get('free_bits', 0.0))


def m1_features(m1_workdir, dataset, batch_size=1000):
  """Replaces images by M1's posterior [mean, log_scale] (float32 [N, 2D]).

  M1 is the VAE trained in `m1_workdir`. Its encoder sees grey levels in
  [0, 1], the expectation of the binarized images it was trained on, so the
  features are deterministic.
  """
  hint = 'train M1 first with configs/vae_mnist.py'
  runs.check_kind(runs.read_config(m1_workdir, 'model.m1_workdir', hint),
                  m1_workdir, 'model.m1_workdir', hint, what='an M1 VAE')
  m1 = runs.load_run(m1_workdir, 'model.m1_workdir', hint)
  model = m1.objective.model
  encode = jax.jit(lambda x: model.apply(
      m1.variables, x.astype(jnp.float32) / (dataset.levels - 1),
      method=model.encode)[:2])

  def features(x):
    parts = [np.concatenate(encode(x[i:i + batch_size]), -1)
             for i in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float32)

  return data_lib.Dataset('m1_features', features(dataset.x_train),
                          features(dataset.x_test), 0, dataset.y_train,
                          dataset.y_test)


def training_data(config, dataset):
  """What the model trains on: the images, or for M1+M2 M1's features of
  them (`main` and `common.runs.load_run` both go through here)."""
  m = config.model
  if m.name != 'm2' or not m.m1_workdir or dataset.name == 'm1_features':
    return dataset
  if dataset.spec_only:
    raise ConfigError('M2 keeps its labelled training subset: rebuild it with '
                      'its data (common.runs.load_run(workdir, dataset=...))')
  return m1_features(m.m1_workdir, dataset)


def _m2_objective(model_cfg, dataset):
  if dataset.spec_only:
    raise ConfigError('M2 keeps its labelled training subset: rebuild it with '
                      'its data (common.runs.load_run(workdir, dataset=...))')
  if dataset.y_train is None or dataset.y_test is None:
    raise ConfigError(f'M2 needs labels; dataset {dataset.name!r} has none')
  features = ''
  if model_cfg.m1_workdir:
    if dataset.name != 'm1_features':
      raise ConfigError('M1+M2 builds on M1\'s features: pass '
                        'training_data(config, dataset)')
    features = 'm1'
    likelihood = likelihoods.GaussianLikelihood()
    data_shape = (dataset.example_shape[0] // 2,)
  else:
    likelihood = _likelihood(model_cfg, dataset)
    data_shape = dataset.example_shape
  idx = ssvae.stratified_subset(dataset.y_train, model_cfg.num_labelled,
                                model_cfg.num_classes, model_cfg.label_seed)
  model = ssvae.M2(data_shape=data_shape, likelihood=likelihood,
                   num_classes=model_cfg.num_classes, latent=model_cfg.latent,
                   hidden=tuple(model_cfg.hidden),
                   activation=model_cfg.activation)
  alpha = model_cfg.alpha_scale * len(dataset.x_train) / model_cfg.num_labelled
  return ssvae.M2Objective(model, dataset.x_train[idx], dataset.y_train[idx],
                           alpha, features)


def main(config, workdir):
  dataset = training_data(config, data_lib.load(config.data))
  return trainer.fit(config, workdir, build(config, dataset), dataset)
