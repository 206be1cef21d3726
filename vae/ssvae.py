"""Semi-supervised learning with deep generative models: M2 and M1+M2
(Kingma, Rezende, Mohamed & Welling 2014, arXiv:1406.5298).

M2: p(y) = Cat(1/10), p(z) = N(0, I), p(x|y, z) a decoder on [z, onehot(y)];
q(z|x, y) = N(mu(x, y), sigma(x, y)) and the classifier q(y|x) = Cat(pi(x)).

  labelled:   L(x, y) = -(E_q(z|x,y)[log p(x|y,z)] + log p(y) - KL(q(z|x,y) || p(z)))   (Eq. 6)
  unlabelled: U(x) = sum_y q(y|x) L(x, y) - H(q(y|x))                                   (Eq. 7)
  J^alpha = sum_labelled L + sum_unlabelled U + alpha * E_labelled[-log q(y|x)]        (Eq. 9)

U sums over all 10 classes explicitly (no sampling of y). Each step sees a
labelled and an unlabelled batch of the same size; the labelled batch is
drawn, inside the step, from a stratified subset held by the objective. With
both sums written as per-example means the classification weight is
alpha = alpha_scale * N / N_labelled (the paper's alpha = 0.1 N applied to the
mean over the N_labelled labelled examples, i.e. alpha_scale = 0.1).

M1+M2: M2 models the latent posterior of a VAE trained on all images (M1);
its data are samples z1 ~ q(z1|x) from M1's encoder, with a Gaussian p(z1|y, z2).
"""
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from common import distributions
from common import objective as objective_lib
from common.errors import ConfigError
from vae import networks


def stratified_subset(labels, num_labelled, num_classes, seed):
  """Indices of num_labelled examples, num_labelled / num_classes per class."""
  if num_labelled % num_classes:
    raise ConfigError(f'{num_labelled} labels do not split evenly over '
                     f'{num_classes} classes')
  rng = np.random.default_rng(seed)
  per_class = num_labelled // num_classes
  picks = []
  for c in range(num_classes):
    members = np.flatnonzero(labels == c)
    if len(members) < per_class:
      raise ConfigError(f'class {c} has {len(members)} examples; need '
                        f'{per_class} for {num_labelled} labels')
    picks.append(rng.choice(members, per_class, replace=False))
  return np.sort(np.concatenate(picks))


class M2(nn.Module):
  """The M2 model: classifier q(y|x), encoder q(z|x,y), decoder p(x|y,z)."""
  data_shape: Sequence[int]
  likelihood: Any
  num_classes: int = 10
  latent: int = 50
  hidden: Sequence[int] = (500,)
  activation: str = 'softplus'

  def setup(self):
    self.classifier = networks.MLP(self.hidden, self.activation)
    self.classifier_out = nn.Dense(self.num_classes)
    self.encoder = networks.GaussianMLP(self.hidden, self.latent, self.activation)
    self.decoder = networks.MLPDecoder(self.hidden, self.data_shape,
                                       self.likelihood.params_per_dim,
                                       self.activation)

  def __call__(self, x, target, y, rng):
    return self.classify(x), self.neg_elbo(x, target, y, rng)

  def classify(self, x):
    """Logits of q(y|x), [B, num_classes]."""
    return self.classifier_out(self.classifier(x))

  def neg_elbo(self, x, target, y, rng):
    """L(x, y) of Eq. 6 with one reparameterised sample and the analytic KL: [B]."""
    return self._neg_elbo(x, target, y,
                          jax.random.normal(rng, (x.shape[0], self.latent)))

  def _neg_elbo(self, x, target, y, eps):
    onehot = jax.nn.one_hot(y, self.num_classes)
    flat = x.reshape(x.shape[0], -1)
    mean, log_scale, _ = self.encoder(jnp.concatenate([flat, onehot], -1))
    z = mean + jnp.exp(log_scale) * eps
    params = self.decoder(jnp.concatenate([z, onehot], -1))
    log_p_x = self.likelihood.log_prob(target, params)
    log_p_y = -np.log(self.num_classes)
    kl = distributions.normal_kl_to_standard(mean, log_scale)
    return -(log_p_x + log_p_y - kl)

  def unlabelled_loss(self, x, target, rng):
    """U(x) of Eq. 7, summing L(x, y) over every class y: [B].

    All classes go through the networks as one batch of C * B; class y draws
    its noise from fold_in(rng, y), exactly as neg_elbo(x, target, y,
    fold_in(rng, y)) would, so the sum is the explicit one.
    """
    logits = self.classify(x)
    b, c = x.shape[0], self.num_classes
    rep = lambda a: jnp.broadcast_to(a, (c,) + a.shape).reshape((c * b,) + a.shape[1:])
    ys = jnp.repeat(jnp.arange(c), b)
    eps = jax.vmap(lambda y: jax.random.normal(
        jax.random.fold_in(rng, y), (b, self.latent)))(jnp.arange(c))
    neg_elbos = self._neg_elbo(rep(x), rep(target), ys,
                               eps.reshape(c * b, self.latent)).reshape(c, b)
    q_y = jax.nn.softmax(logits)
    return (jnp.sum(q_y * neg_elbos.T, -1)
            - distributions.categorical_entropy(logits))

  def generate(self, rng, y):
    z = jax.random.normal(rng, (y.shape[0], self.latent))
    return self.decoder(jnp.concatenate(
        [z, jax.nn.one_hot(y, self.num_classes)], -1))


class M2Objective(objective_lib.Objective):
  """J^alpha with balanced labelled/unlabelled batches; test error at eval."""

  def __init__(self, model, x_labelled, y_labelled, alpha, features=''):
    self.model = model
    self.likelihood = model.likelihood
    self.x_labelled = np.asarray(x_labelled)
    self.y_labelled = np.asarray(y_labelled, np.int32)
    self.alpha = alpha
    self.features = features  # 'm1': the data are [mean, log_scale] of M1.

  def _prepare(self, x, rng):
    """(network input, likelihood target) for a raw batch."""
    if self.features == 'm1':
      # M1's posterior as [mean, log_scale]: one fresh draw z1 ~ q(z1|x).
      mean, log_scale = jnp.split(x, 2, axis=-1)
      z1 = distributions.diagonal_normal_sample(rng, mean, log_scale)
      return z1, z1
    # Images: the networks see grey levels in [0, 1] (deterministic at test
    # time, so the test error has no binarization noise); the Bernoulli
    # likelihood scores a dynamically binarized draw. q may condition on
    # anything, so the bound stays a bound on log p(x_bin).
    _, target = self.likelihood.prepare(x, rng)
    return x.astype(jnp.float32) / (self.likelihood.levels - 1), target

  def init(self, rng, batch):
    x_in, target = self._prepare(batch['x'], jax.random.key(0))
    y = jnp.zeros(x_in.shape[0], jnp.int32)
    return self.model.init(rng, x_in, target, y, jax.random.key(1))

  def loss(self, variables, batch, rng, train):
    del train
    pick_rng, u_rng, l_rng, u_elbo_rng, l_elbo_rng = jax.random.split(rng, 5)
    b = batch['x'].shape[0]
    idx = jax.random.randint(pick_rng, (b,), 0, len(self.y_labelled))
    x_l, y_l = jnp.asarray(self.x_labelled)[idx], jnp.asarray(self.y_labelled)[idx]
    xu_in, xu_t = self._prepare(batch['x'], u_rng)
    xl_in, xl_t = self._prepare(x_l, l_rng)
    apply = lambda *a, method: self.model.apply(variables, *a, method=method)
    u = apply(xu_in, xu_t, u_elbo_rng, method=self.model.unlabelled_loss)
    l = apply(xl_in, xl_t, y_l, l_elbo_rng, method=self.model.neg_elbo)
    logits_l = apply(xl_in, method=self.model.classify)
    ce = -distributions.categorical_log_prob(y_l, logits_l)
    loss = jnp.mean(l) + jnp.mean(u) + self.alpha * jnp.mean(ce)
    return loss, {'labelled_nats': jnp.mean(l), 'unlabelled_nats': jnp.mean(u),
                  'labelled_ce': jnp.mean(ce),
                  'labelled_error': jnp.mean(jnp.argmax(logits_l, -1) != y_l)}, {}

  def evaluate(self, variables, batch, rng):
    prep_rng, rng = jax.random.split(rng)
    x_in, target = self._prepare(batch['x'], prep_rng)
    logits = self.model.apply(variables, x_in, method=self.model.classify)
    y = batch['y'].astype(jnp.int32)
    u = self.model.apply(variables, x_in, target, rng,
                         method=self.model.unlabelled_loss)
    return {'error': (jnp.argmax(logits, -1) != y).astype(jnp.float32),
            'ce': -distributions.categorical_log_prob(y, logits),
            'neg_bound_nats': u}
