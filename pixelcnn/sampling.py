"""Exact ancestral sampling for the PixelCNN family: naive, fast and cached.

All three samplers draw every random number up front (`head.noise`) and turn a
sub-pixel's parameters into its value with the deterministic `head.sample`,
so the value of each sub-pixel is a fixed function of the values before it.

* `naive_sample`: one full forward pass per generation step (per sub-pixel
  for softmax heads, per pixel for PixelCNN++), in a `lax.fori_loop`:
  H * W * C (or H * W) passes whatever the image.
* `fast_sample`: fixed-point (Jacobi) iteration x <- sample(net(x)) over
  every position at once, in a `lax.while_loop` until nothing changes.
  Causality makes it exact: after pass n the first n steps hold their final
  values, so the loop stops after at most as many passes as the naive one,
  and its fixed point is the unique one, the naive sample (same noise, same
  values). Every pass after the first that changes nothing is saved work;
  in practice far fewer passes than steps are needed, because a changed
  context rarely changes the sampled value of the next sub-pixel. This is
  the scheme of the Flax PixelCNN++ example and of Song et al. 2021
  (arXiv:2002.03629); it needs no per-layer code, so it works unchanged
  for all three networks, and it is also the cached sampler's check.
* `cached_sample`: the activation caches of Ramachandran et al. 2017
  (arXiv:1704.06001, pixelcnn/cached.py): one generation step per
  sub-pixel like the naive sampler, but each step computes every layer only
  at the positions the new value makes computable, reading the rest from
  per-layer caches: far less work per step. The same operations on the
  same values, but not in the same order: XLA sums a convolution in an
  order that depends on its shape, so a cached activation can differ from
  the full pass's in the last bits (raw outputs by up to ~2e-5), and a
  sub-pixel that close to a decision boundary can flip (3 of 12,288 in one
  4-image batch of paper-size PixelCNN++ at 256 levels, whose sampled
  values lay within 5e-4 of a bin edge). So the cached image is then
  checked, and if need be repaired, by the fixed-point iteration of
  `fast_sample` started from it: one full pass confirms an exact image,
  and from any start the iteration ends at the unique fixed point, the
  naive sample. The result is the naive sampler's image, always.
"""
import jax
import jax.numpy as jnp

from common import distributions
from common.errors import ConfigError
from pixelcnn import cached as cached_lib
from pixelcnn import heads as heads_lib
from pixelcnn import models
from pixelcnn import pixelcnnpp


def _net_fn(apply_fn, head, levels):
  return lambda x: apply_fn(distributions.to_unit_interval_centres(x, levels))


def naive_sample(apply_fn, head, noise, shape, num_steps=None):
  """Samples [B, H, W, C] (int32) with one forward pass per generation step.

  Args:
    apply_fn: centres [B, H, W, C] -> raw output map (labels, if any, and
      variables bound by the caller).
    head: the model's output head.
    noise: `head.noise(rng, shape)`.
    shape: (B, H, W, C).
    num_steps: only the first this many steps (default all): for timing one
      pass on networks too slow to sample in full.
  """
  net = _net_fn(apply_fn, head, head.levels)
  step_of = heads_lib.step_index(shape[1:], head.steps_per_pixel)
  if num_steps is None:
    num_steps = int(step_of.max()) + 1
  step_of = jnp.asarray(step_of)

  def body(t, x):
    return jnp.where(step_of == t, head.sample(net(x), noise), x)

  return jax.lax.fori_loop(0, num_steps, body, jnp.zeros(shape, jnp.int32))


def fast_sample(apply_fn, head, noise, shape, init=None):
  """The same samples as `naive_sample`, by fixed-point iteration from
  `init` (zeros by default; any start reaches the same fixed point).

  Returns (samples [B, H, W, C] int32, number of forward passes).
  """
  net = _net_fn(apply_fn, head, head.levels)
  step_of = heads_lib.step_index(shape[1:], head.steps_per_pixel)
  max_passes = int(step_of.max()) + 2  # + 1 pass that confirms the fixed point.

  def cond(carry):
    _, changed, passes = carry
    return changed & (passes < max_passes)

  def body(carry):
    x, _, passes = carry
    new = head.sample(net(x), noise)
    return new, jnp.any(new != x), passes + 1

  start = jnp.zeros(shape, jnp.int32) if init is None else init
  x, _, passes = jax.lax.while_loop(
      cond, body, (start, jnp.array(True), jnp.array(0)))
  return x, passes


def fixed_point_mismatches(apply_fn, head, noise, x):
  """How many sub-pixels of `x` [B, H, W, C] one forward pass would sample
  differently with this noise. Zero iff `x` is `naive_sample`'s image: by
  causality the naive sample is the unique fixed point (see `fast_sample`),
  and a full pass computes every position exactly as the naive sampler's
  pass at that step does (the later values it sees have weight zero). One
  pass checks a whole image whose naive sampling would take too long.
  """
  net = _net_fn(apply_fn, head, head.levels)
  return jnp.sum(head.sample(net(x), noise) != x)


def _cached_plan(model, params, head, shape, y):
  """The cached computation of `model` (one-line errors for what it lacks)."""
  from pixelcnn import cached_pp  # pylint: disable=g-import-not-at-top
  if len(shape) != 4 or shape[-1] != head.channels:
    raise ConfigError(f'cached_sample needs shape (batch, height, width, '
                      f'{head.channels}), got {tuple(shape)}')
  if isinstance(model, models.PixelCNN):
    make = cached_lib.pixelcnn_plan
  elif isinstance(model, models.GatedPixelCNN):
    make = cached_lib.gated_plan
  elif isinstance(model, pixelcnnpp.PixelCNNPP):
    pixelcnnpp.check_image_size(shape[1], shape[2], model.num_scales)
    make = cached_pp.pixelcnnpp_plan
  else:
    raise ConfigError(f'cached_sample supports PixelCNN, GatedPixelCNN and '
                      f'PixelCNNPP, not {type(model).__name__}')
  if getattr(model, 'num_classes', 0) and y is None:
    raise ConfigError(f'a class-conditional {type(model).__name__} needs labels y')
  if model.head != head:
    raise ConfigError(f'the head {head} is not the network\'s {model.head}')
  return make(model, params, tuple(shape), head.levels, y)


def cached_sample(model, variables, head, noise, shape, y=None, verify=True):
  """The same samples as `naive_sample`, with per-layer activation caches
  (arXiv:1704.06001; pixelcnn/cached.py), checked and if need be repaired
  by full forward passes (`fast_sample` from the cached image; see the
  module docstring for why rounding makes that necessary).

  Args:
    model: a `PixelCNN`, `GatedPixelCNN` or `PixelCNNPP` (dropout is off).
    variables: its variables; the weights are read from `variables['params']`.
    head: the model's output head.
    noise: `head.noise(rng, shape)`.
    shape: (B, H, W, C).
    y: labels [B] of a class-conditional network.
    verify: False returns the cached image unchecked (for measuring how
      often rounding flips a value).
  Returns (samples [B, H, W, C] int32, full forward passes of the check:
  1 when the cached image was already the naive one, 0 without `verify`).
  """
  plan = _cached_plan(model, variables['params'], head, shape, y)
  x = cached_lib.sample_with_plan(plan, head, noise, tuple(shape))
  if not verify:
    return x, jnp.array(0)
  apply_fn = lambda x_in: model.apply(variables, x_in, y, train=False)
  return fast_sample(apply_fn, head, noise, tuple(shape), init=x)
