"""The PixelCNN family's objective for `common.trainer.fit`: exact discrete
negative log-likelihood in nats and bits/dim, and sample grids from the
cached sampler (pixelcnn/cached.py; the naive and fast samplers stay
available and draw the same images for the same key).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from common import bpd
from common import distributions
from common import metrics as metrics_lib
from common import objective as objective_lib
from pixelcnn import sampling


class PixelCNNObjective(objective_lib.Objective):
  """Maximum likelihood for any network of the family and its output head."""

  def __init__(self, model, head, data_shape, num_classes=0, num_samples=16):
    self.model = model
    self.head = head
    self.data_shape = tuple(data_shape)
    self.num_dims = int(np.prod(data_shape))
    self.num_classes = num_classes
    self.num_samples = num_samples

  def _labels(self, batch):
    return batch.get('y') if self.num_classes else None

  def log_prob_terms(self, variables, x, y=None, x_in=None, train=False,
                     rng=None):
    """log P(x_ijc | x_<ijc) per sub-pixel, [B, H, W, C].

    `x_in` (default: x's bin centres) is what the network and the channel
    coupling read; the causality tests differentiate with respect to it.
    """
    if x_in is None:
      x_in = distributions.to_unit_interval_centres(x, self.head.levels)
    rngs = {'dropout': rng} if train else {}
    raw = self.model.apply(variables, x_in, y, train=train, rngs=rngs)
    return self.head.log_prob_terms(raw, x, x_in)

  def init(self, rng, batch):
    params_rng, dropout_rng = jax.random.split(rng)
    x_in = distributions.to_unit_interval_centres(batch['x'], self.head.levels)
    # PixelCNN++'s weight norm sets its gains and biases from this batch.
    return self.model.init({'params': params_rng, 'dropout': dropout_rng},
                           x_in, self._labels(batch), train=False)

  def _nll(self, variables, batch, rng, train):
    terms = self.log_prob_terms(variables, batch['x'], self._labels(batch),
                                train=train, rng=rng)
    return -distributions.sum_per_example(terms)

  def loss(self, variables, batch, rng, train):
    nll = jnp.mean(self._nll(variables, batch, rng, train))
    return nll, {'nll_nats': nll, 'bpd': bpd.nats_to_bpd(nll, self.num_dims)}, {}

  def evaluate(self, variables, batch, rng):
    nll = self._nll(variables, batch, rng, False)
    return {'nll_nats': nll, 'bpd': bpd.nats_to_bpd(nll, self.num_dims)}

  def _apply_fn(self, variables, y):
    return lambda x_in: self.model.apply(variables, x_in, y, train=False)

  def sample_labels(self, n):
    return jnp.arange(n) % self.num_classes if self.num_classes else None

  @functools.partial(jax.jit, static_argnums=(0, 3, 4))
  def naive_sample(self, variables, rng, n, num_steps=None):
    """One forward pass per step; `num_steps` stops early (for timing)."""
    shape = (n, *self.data_shape)
    return sampling.naive_sample(
        self._apply_fn(variables, self.sample_labels(n)), self.head,
        self.head.noise(rng, shape), shape, num_steps)

  @functools.partial(jax.jit, static_argnums=(0, 3))
  def fast_sample(self, variables, rng, n):
    """(samples, forward passes used); equal to `naive_sample` for the same key."""
    shape = (n, *self.data_shape)
    return sampling.fast_sample(
        self._apply_fn(variables, self.sample_labels(n)), self.head,
        self.head.noise(rng, shape), shape)

  @functools.partial(jax.jit, static_argnums=(0, 3, 4))
  def cached_sample(self, variables, rng, n, verify=True):
    """(samples, full passes of the check): activation caches
    (arXiv:1704.06001), checked by a full pass; equal to `naive_sample` for
    the same key, and the fastest of the three."""
    shape = (n, *self.data_shape)
    return sampling.cached_sample(
        self.model, variables, self.head, self.head.noise(rng, shape), shape,
        self.sample_labels(n), verify)

  @functools.partial(jax.jit, static_argnums=(0,))
  def sample_mismatches(self, variables, rng, images):
    """Sub-pixels of `images` that differ from `naive_sample(variables, rng,
    n)`'s, counted with one forward pass (`sampling.fixed_point_mismatches`)."""
    shape = images.shape
    return sampling.fixed_point_mismatches(
        self._apply_fn(variables, self.sample_labels(shape[0])), self.head,
        self.head.noise(rng, shape), images)

  def sample_images(self, variables, rng):
    if not self.num_samples:  # Budget runs on slow hardware skip sampling.
      return {}
    images, _ = self.cached_sample(variables, rng, self.num_samples)
    return {'samples': metrics_lib.image_grid(np.asarray(images),
                                              self.head.levels)}
