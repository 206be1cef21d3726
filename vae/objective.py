"""VAE objectives for `common.trainer.fit`: ELBO or IWAE training, and the
importance-sampled test NLL.

Training maximises the ELBO (with the analytic Gaussian KL of
arXiv:1312.6114 when the posterior is a single diagonal Gaussian layer,
otherwise its k-sample Monte Carlo mean) or the IWAE bound L_k
(arXiv:1509.00519). Evaluation reports, per test example, the negative ELBO,
-L_k at the training k, and the NLL estimate -L_{eval_k} (k = 5000 in the
IWAE paper), all in nats, plus bits/dim when the likelihood is exact on the
integer data (`likelihood.reports_bpd`); the active-units count is computed
once over the test set at the end.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from common import bpd
from common import distributions
from common import metrics as metrics_lib
from common import objective as objective_lib
from common.errors import ConfigError
from vae import bounds


class VAEObjective(objective_lib.Objective):
  """Trains a vae.model.VAE with the ELBO or the IWAE bound."""

  def __init__(self, model, objective='elbo', k=1, eval_k=5000, eval_chunk=500,
               num_samples=64, free_bits=0.0):
    if objective not in ('elbo', 'iwae'):
      raise ConfigError(f'unknown VAE objective {objective!r}; use elbo or iwae')
    if k < 1 or eval_k < 1:
      raise ConfigError('k and eval_k must be positive')
    self.model = model
    self.likelihood = model.likelihood
    self.objective = objective
    self.k = k
    self.eval_k = eval_k
    self.eval_chunk = min(eval_chunk, eval_k)
    self.num_samples = num_samples
    # Free bits (Kingma et al. 2016, arXiv:1606.04934 Sec. 4 / App. C.8):
    # each latent dimension's batch-mean KL counts as at least this many
    # nats in the training loss, so a strong decoder cannot switch z off.
    self.free_bits = free_bits
    self.num_dims = int(np.prod(model.data_shape))
    # The closed-form KL applies to one diagonal-Gaussian layer only.
    self.analytic_kl = len(model.latents) == 1 and not model.iaf_steps

  def _terms(self, variables, x_in, target, rng, k):
    return self.model.apply(variables, x_in, target, rng, k)

  def init(self, rng, batch):
    x_in, target = self.likelihood.prepare(batch['x'], jax.random.key(0))
    return self.model.init(rng, x_in, target, jax.random.key(1), 1)

  def _elbo(self, terms):
    """Per-example ELBO estimate [B] and its KL part [B]."""
    if self.analytic_kl:
      kl = distributions.normal_kl_to_standard(terms['q_mean'],
                                               terms['q_log_scale'])
      return jnp.mean(terms['log_p_x'], 0) - kl, kl
    kl = jnp.mean(terms['log_q_z'] - terms['log_p_z'], 0)
    return bounds.elbo(bounds.log_weights(terms)), kl

  def elbo(self, variables, x_in, target, rng):
    """Per-example ELBO [B] of prepared inputs (what the bits-back coder
    compares its rate with)."""
    return self._elbo(self._terms(variables, x_in, target, rng, 1))[0]

  def loss(self, variables, batch, rng, train):
    del train
    prep_rng, rng = jax.random.split(rng)
    x_in, target = self.likelihood.prepare(batch['x'], prep_rng)
    terms = self._terms(variables, x_in, target, rng, self.k)
    elbo, kl = self._elbo(terms)
    if self.objective == 'iwae':
      bound = bounds.iwae_bound(bounds.log_weights(terms))
    else:
      bound = elbo
    loss = -jnp.mean(bound)
    if self.free_bits > 0:
      if not self.analytic_kl or self.objective != 'elbo':
        raise ConfigError('free_bits needs the ELBO objective with one '
                          'Gaussian stochastic layer')
      kl_dims = distributions.normal_kl_to_standard_per_dim(
          terms['q_mean'], terms['q_log_scale']).mean(0)
      loss = loss + jnp.sum(jnp.maximum(kl_dims, self.free_bits) - kl_dims)
    metrics = {'bound_nats': -loss, 'elbo_nats': jnp.mean(elbo),
               'kl_nats': jnp.mean(kl)}
    if self.likelihood.reports_bpd:
      metrics['bound_bpd'] = bpd.nats_to_bpd(loss, self.num_dims)
    return loss, metrics, {}

  def evaluate(self, variables, batch, rng):
    prep_rng, rng, nll_rng = jax.random.split(rng, 3)
    x_in, target = self.likelihood.prepare(batch['x'], prep_rng)
    terms = self._terms(variables, x_in, target, rng, self.k)
    elbo, kl = self._elbo(terms)
    log_w_fn = lambda r, c: bounds.log_weights(
        self._terms(variables, x_in, target, r, c))
    log_px = bounds.chunked_iwae_bound(log_w_fn, nll_rng, self.eval_k,
                                       self.eval_chunk)
    out = {'neg_elbo_nats': -elbo, 'kl_nats': kl,
           f'neg_iwae{self.k}_nats': -bounds.iwae_bound(bounds.log_weights(terms)),
           'nll_nats': -log_px}
    if self.likelihood.reports_bpd:
      out['bpd'] = bpd.nats_to_bpd(-log_px, self.num_dims)
      out['neg_elbo_bpd'] = bpd.nats_to_bpd(-elbo, self.num_dims)
    return out

  @functools.partial(jax.jit, static_argnums=(0,))
  def encode(self, variables, x):
    """(mean, log_scale) [B, D] of the encoder's Gaussian q(z_1 | x) (with an
    IAF posterior: its base distribution, before the IAF steps) for raw data
    x [B, *data_shape] (integer images as stored; the likelihood turns them
    into the encoder's input deterministically)."""
    mean, log_scale, _ = self.model.apply(
        variables, self.likelihood.encoder_input(x), method=self.model.encode)
    return mean, log_scale

  @functools.partial(jax.jit, static_argnums=(0,))
  def decode(self, variables, z, rng):
    """Data x ~ p(x | z_1) [B, *data_shape] for latents z [B, D] (a sample
    of the decoder's likelihood; its parameters are `model.decode`)."""
    params = self.model.apply(variables, z, method=self.model.decode)
    return self.likelihood.sample(rng, params)

  @functools.partial(jax.jit, static_argnums=(0,))
  def _posterior_means(self, variables, x, rng):
    x_in, _ = self.likelihood.prepare(x, rng)
    mean, _, _ = self.model.apply(variables, x_in, method=self.model.encode)
    return mean

  def dataset_metrics(self, variables, dataset, batch_size=500):
    """Active units of q(z_1|x) over the test set (IWAE paper Sec. 5.2)."""
    x = dataset.x_test
    rng = jax.random.key(0)
    means = [np.asarray(self._posterior_means(
        variables, x[i:i + batch_size], jax.random.fold_in(rng, i)))
             for i in range(0, len(x), batch_size)]
    return {'active_units': bounds.active_units(np.concatenate(means))}

  @functools.partial(jax.jit, static_argnums=(0,))
  def _generate(self, variables, rng):
    gen_rng, x_rng = jax.random.split(rng)
    params = self.model.apply(variables, gen_rng, self.num_samples,
                              method=self.model.generate)
    return self.likelihood.picture(x_rng, params)

  def sample_images(self, variables, rng):
    images = np.asarray(self._generate(variables, rng))
    return {'samples': metrics_lib.image_grid(images,
                                              self.likelihood.picture_levels)}
