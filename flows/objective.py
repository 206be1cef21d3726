"""Maximum-likelihood objective for flows, as `common.trainer.fit` expects it.

Images (Real NVP, arXiv:1605.08803 Sec. 4.1): uniform dequantization
v = x + u, the logit transform y = logit(alpha + (1 - 2 alpha) v / L), then the
flow. The reported bits/dim include the logit's log-Jacobian, so they are the
exact dequantized code length of the discrete data (common/bpd.py). The
training loss adds `scale_l2` times the squared weight-norm gains (the paper's
"L2 regularization on the weight scale parameters", 5e-5) to the per-image NLL
in nats, and reports the sum in bits/dim.

2-D points: the flow's negative log-likelihood in nats; images of the learnt
density and of samples are written as PNGs.

Binary images with MADE (arXiv:1502.03509): the exact NLL in nats of one mask
set and of the ensemble that averages the probabilities of all mask sets.
"""
import functools

import flax
import jax
import jax.numpy as jnp
import numpy as np

from common import bpd
from common import distributions
from common import metrics as metrics_lib
from common import objective as objective_lib


def weight_scale_l2(params):
  """Sum of squares of every weight-norm gain (leaves named 'scale').

  One reduction over the concatenated gains, not a Python sum of per-leaf
  reductions: that sum is a chain of ~600 scalar adds in the paper-size
  model, and XLA's fusion copies such a cheap chain into every consumer of
  the loss. The trainer's NaN guard consumes the loss in one select per
  state leaf (thousands), so the chain made the optimized HLO quadratic in
  the number of couplings (realnvp_cifar: 20 min of compile on the 2-core CPU,
  against ~3 min with one reduction). Same value up to summation order.
  """
  flat = flax.traverse_util.flatten_dict(params)
  gains = [jnp.ravel(v) for k, v in flat.items() if k[-1] == 'scale']
  if not gains:
    return jnp.zeros(())
  return jnp.sum(jnp.square(jnp.concatenate(gains)))


def flow_log_prob(model, variables, x, train):
  """(log p(x) [B], updated batch statistics); statistics change only in training."""
  if train:
    return model.apply(variables, x, train=True, method=model.log_prob,
                       mutable=['batch_stats'])
  return model.apply(variables, x, method=model.log_prob), {}


class ImageFlowObjective(objective_lib.Objective):
  """Dequantized NLL of a flow on integer images with `levels` values."""

  def __init__(self, model, levels, alpha=0.05, scale_l2=0.0, num_samples=64,
               temperature=1.0):
    self.model = model
    self.levels = levels
    self.alpha = alpha
    self.scale_l2 = scale_l2
    self.num_samples = num_samples
    self.temperature = temperature

  def _to_model_space(self, x, rng):
    v = bpd.uniform_dequantize(rng, x, self.levels)
    return bpd.logit_transform(v, self.levels, self.alpha)

  def init(self, rng, batch):
    y, _ = self._to_model_space(batch['x'], jax.random.key(0))
    return self.model.init(rng, y, train=False, method=self.model.forward)

  def _nll_nats(self, variables, x, rng, train):
    y, log_det_pre = self._to_model_space(x, rng)
    log_py, new_mutables = flow_log_prob(self.model, variables, y, train)
    return -(log_py + log_det_pre), new_mutables

  def log_prob(self, variables, x_int, rng):
    """log p(x) in nats [B] of integer images x_int [B, H, W, C] (values
    < levels), with all the bookkeeping: uniform dequantization by `rng`
    (one draw: an unbiased estimate of a lower bound on the discrete
    log-likelihood, Theis et al. 2016, arXiv:1511.01844) and the logit
    transform's exact log-Jacobian; batch norm in evaluation mode.
    `-log_prob / (H W C log 2)` is the bits/dim the runs report."""
    x_int = jnp.asarray(x_int)
    if x_int.ndim != 4 or not jnp.issubdtype(x_int.dtype, jnp.integer):
      raise ValueError('log_prob takes integer images [B, H, W, C], got '
                       f'{x_int.dtype} {tuple(x_int.shape)}')
    if not isinstance(x_int, jax.core.Tracer) and (
        int(x_int.min()) < 0 or int(x_int.max()) >= self.levels):
      raise ValueError(f'pixel values must be in [0, {self.levels}), got '
                       f'{int(x_int.min())}..{int(x_int.max())}')
    return -self._nll_nats(variables, x_int, rng, train=False)[0]

  def loss(self, variables, batch, rng, train):
    nll, new_mutables = self._nll_nats(variables, batch['x'], rng, train)
    num_dims = int(np.prod(batch['x'].shape[1:]))
    # The penalty joins the per-image NLL in nats, as in the paper's loss, and
    # the sum is reported in bits/dim so that losses compare across datasets.
    reg = self.scale_l2 * weight_scale_l2(variables['params'])
    bits = jnp.mean(bpd.nats_to_bpd(nll, num_dims))
    loss = bpd.nats_to_bpd(jnp.mean(nll) + reg, num_dims)
    return loss, {'bpd': bits, 'scale_l2_nats': reg}, new_mutables

  def evaluate(self, variables, batch, rng):
    nll, _ = self._nll_nats(variables, batch['x'], rng, train=False)
    num_dims = int(np.prod(batch['x'].shape[1:]))
    return {'bpd': bpd.nats_to_bpd(nll, num_dims), 'nll_nats': nll}

  @functools.partial(jax.jit, static_argnums=(0,))
  def sample(self, variables, rng):
    """Samples as integer images (uint8 [N, H, W, C] with values < levels)."""
    y = self.model.apply(variables, rng, self.num_samples, self.temperature,
                         method=self.model.sample)
    v = bpd.inverse_logit_transform(y, self.levels, self.alpha)
    return bpd.quantize(v, self.levels)

  def sample_images(self, variables, rng):
    grid = metrics_lib.image_grid(np.asarray(self.sample(variables, rng)),
                                  self.levels)
    return {'samples': grid}


class PointFlowObjective(objective_lib.Objective):
  """NLL in nats of a flow on continuous 2-D points."""

  def __init__(self, model, num_samples=5000, extent=4.0, resolution=200):
    self.model = model
    self.num_samples = num_samples
    self.extent = extent
    self.resolution = resolution

  def init(self, rng, batch):
    return self.model.init(rng, batch['x'], train=False,
                           method=self.model.forward)

  def loss(self, variables, batch, rng, train):
    del rng
    log_p, new_mutables = flow_log_prob(self.model, variables, batch['x'], train)
    nll = -jnp.mean(log_p)
    return nll, {'nll_nats': nll}, new_mutables

  def evaluate(self, variables, batch, rng):
    del rng
    return {'nll_nats': -self.model.apply(variables, batch['x'],
                                          method=self.model.log_prob)}

  @functools.partial(jax.jit, static_argnums=(0,))
  def _density_and_samples(self, variables, rng):
    ticks = jnp.linspace(-self.extent, self.extent, self.resolution)
    yy, xx = jnp.meshgrid(-ticks, ticks, indexing='ij')  # Row 0 is the top.
    grid = jnp.stack([xx.ravel(), yy.ravel()], -1)
    log_p = self.model.apply(variables, grid, method=self.model.log_prob)
    samples = self.model.apply(variables, rng, self.num_samples,
                               method=self.model.sample)
    return log_p.reshape(self.resolution, self.resolution), samples

  def sample_images(self, variables, rng):
    log_p, samples = jax.device_get(self._density_and_samples(variables, rng))
    density = np.exp(log_p - np.max(log_p))
    counts, _, _ = np.histogram2d(
        -samples[:, 1], samples[:, 0], bins=self.resolution,
        range=[[-self.extent, self.extent]] * 2)
    return {'density': heat_map(density),
            'samples': heat_map(counts / max(counts.max(), 1))}


def heat_map(values):
  """Maps values in [0, 1] to an RGB uint8 image (dark blue -> yellow)."""
  v = np.clip(np.nan_to_num(values), 0.0, 1.0)[..., None]
  low = np.array([20, 20, 60], np.float32)
  mid = np.array([200, 40, 90], np.float32)
  high = np.array([255, 240, 80], np.float32)
  rgb = np.where(v < 0.5, low + (mid - low) * (2 * v),
                 mid + (high - mid) * (2 * v - 1))
  return rgb.astype(np.uint8)


class MadeObjective(objective_lib.Objective):
  """Exact NLL in nats of MADE on binary images (or dynamically binarized ones).

  Training draws one mask set per minibatch (order/connectivity-agnostic
  training, paper Sec. 3.3). Evaluation reports the first mask set alone
  (`nll_nats`) and, with several sets, the ensemble
  -log (1/M) sum_m p_m(x) (`nll_ensemble_nats`).
  """

  def __init__(self, model, image_shape, levels, num_samples=64):
    self.model = model
    self.image_shape = tuple(image_shape)
    self.levels = levels
    self.num_samples = num_samples

  def _binary(self, x, rng):
    return bpd.binarize(rng, x, self.levels).reshape(x.shape[0], -1)

  def _log_prob(self, variables, x, mask_index):
    logits = self.model.apply(variables, x, mask_index)[:, 0]
    return distributions.bernoulli_log_prob(x, logits)

  def init(self, rng, batch):
    return self.model.init(rng, self._binary(batch['x'], jax.random.key(0)))

  def loss(self, variables, batch, rng, train):
    del train
    bin_rng, mask_rng = jax.random.split(rng)
    x = self._binary(batch['x'], bin_rng)
    mask_index = jax.random.randint(mask_rng, (), 0, self.model.num_masks)
    nll = -jnp.mean(self._log_prob(variables, x, mask_index))
    return nll, {'nll_nats': nll}, {}

  def evaluate(self, variables, batch, rng):
    x = self._binary(batch['x'], rng)
    out = {'nll_nats': -self._log_prob(variables, x, 0)}
    m = self.model.num_masks
    if m > 1:
      log_p = jax.lax.map(lambda k: self._log_prob(variables, x, k),
                          jnp.arange(m))
      out['nll_ensemble_nats'] = -(jax.nn.logsumexp(log_p, 0) - np.log(m))
    return out

  @functools.partial(jax.jit, static_argnums=(0,))
  def sample(self, variables, rng):
    """Binary samples [N, *image_shape], one dimension per network pass."""
    order = self.model.sampling_order(0)
    x = jnp.zeros((self.num_samples, self.model.num_inputs))

    def body(i, x):
      d = jnp.asarray(order)[i]
      logits = self.model.apply(variables, x, 0)[:, 0, d]
      bit = jax.random.bernoulli(jax.random.fold_in(rng, i), jax.nn.sigmoid(logits))
      return x.at[:, d].set(bit.astype(x.dtype))

    x = jax.lax.fori_loop(0, self.model.num_inputs, body, x)
    return x.reshape(self.num_samples, *self.image_shape).astype(jnp.uint8)

  def sample_images(self, variables, rng):
    return {'samples': metrics_lib.image_grid(
        np.asarray(self.sample(variables, rng)), 2)}
