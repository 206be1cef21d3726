"""PixelCNN family against oracles: causality by exact gradients, no blind
spot, exact sampling (fast = naive), the head's sampler against its own
enumerated likelihood, and weight norm's data-dependent initialisation."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import distributions
from pixelcnn import heads
from pixelcnn import layers
from pixelcnn import masks
from pixelcnn import models
from pixelcnn import objective as objective_lib
from pixelcnn import pixelcnnpp

SHAPE = (6, 6, 3)
LEVELS = 4


def _objective(name, shape=SHAPE, levels=LEVELS):
  c = shape[-1]
  if name == 'pixelcnn':
    head = heads.SoftmaxHead(levels, c)
    net = models.PixelCNN(head, hidden=12, num_blocks=2, first_kernel=5,
                          output_features=48, output_layers=1)
    return objective_lib.PixelCNNObjective(net, head, shape)
  if name == 'gated_pixelcnn':
    head = heads.SoftmaxHead(levels, c)
    net = models.GatedPixelCNN(head, features=12, num_layers=4, kernel=3,
                               first_kernel=5, num_classes=3,
                               output_features=48)
    return objective_lib.PixelCNNObjective(net, head, shape, num_classes=3)
  head = heads.LogisticMixtureHead(levels, c, 3)
  net = pixelcnnpp.PixelCNNPP(head, features=8, num_resnet=1, num_scales=2,
                              dropout=0.5)
  return objective_lib.PixelCNNObjective(net, head, shape)


def _init(obj, n=4):
  rng = jax.random.key(0)
  batch = {'x': jax.random.randint(rng, (n, *obj.data_shape), 0, obj.head.levels)}
  if obj.num_classes:
    batch['y'] = jnp.arange(n) % obj.num_classes
  return obj.init(rng, batch), batch


VARIANTS = ['pixelcnn', 'gated_pixelcnn', 'pixelcnnpp']


def test_masks_follow_the_paper():
  groups = masks.group_ids(6, 3)  # RRGGBB
  np.testing.assert_array_equal(groups, [0, 0, 1, 1, 2, 2])
  a = masks.conv_mask((3, 3), groups, groups, 'A')
  b = masks.conv_mask((3, 3), groups, groups, 'B')
  # Earlier pixels: every channel to every channel (the blog's mask hid later
  # colours there too).
  assert a[0].all() and a[1, 0].all() and b[0].all() and b[1, 0].all()
  # Later pixels: nothing.
  assert not a[2].any() and not a[1, 2].any() and not b[1, 2].any()
  # The current pixel: A strictly earlier colours, B up to the same colour.
  np.testing.assert_array_equal(a[1, 1], groups[:, None] < groups[None, :])
  np.testing.assert_array_equal(b[1, 1], groups[:, None] <= groups[None, :])


@pytest.mark.parametrize('name', VARIANTS)
def test_causality_and_receptive_field(name):
  obj = _objective(name)
  variables, batch = _init(obj)
  x = batch['x'][:1]
  y = batch['y'][:1] if 'y' in batch else None
  x_in = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (1, *SHAPE)),
                     jnp.float32)
  terms = lambda v: obj.log_prob_terms(variables, x, y, x_in=v)[0]
  jac = np.asarray(jax.jacrev(terms)(x_in))[:, :, :, 0]  # [H,W,C, H,W,C]
  order = heads.step_index(SHAPE, SHAPE[-1]).reshape(-1)  # Sub-pixel order.
  jac = jac.reshape(order.size, order.size)
  later_or_same = order[None, :] >= order[:, None]
  # The log-likelihood of each sub-pixel ignores itself and everything after.
  assert np.all(jac[later_or_same] == 0.0)
  # Each colour sees the earlier colours of its own pixel. (A dead ReLU can
  # hide one pixel's dependence, so ask for most pixels; a wrong mask hides
  # it at every pixel.)
  h, w, c = SHAPE
  j3 = jac.reshape(h, w, c, h, w, c)
  own = np.stack([[j3[i, j, :, i, j, :] for j in range(w)] for i in range(h)])
  for ch in range(1, c):
    for prev in range(ch):
      assert np.mean(own[..., ch, prev] != 0) > 0.5, (ch, prev)
  # Receptive field of the last sub-pixel over the earlier pixels.
  seen = np.abs(j3[h - 1, w - 1, c - 1]).sum(-1) > 0
  earlier = np.arange(h * w).reshape(h, w) < h * w - 1
  if name == 'pixelcnn':
    # Masked k x k stacks have the blind spot: the top right is never seen.
    assert not seen[0, w - 1]
  else:
    assert np.all(seen[earlier]), seen  # No blind spot.


@pytest.mark.parametrize('name', VARIANTS)
def test_fast_sampler_equals_naive_sampler(name):
  obj = _objective(name)
  variables, _ = _init(obj)
  for seed in (0, 1):
    naive = obj.naive_sample(variables, jax.random.key(seed), 3)
    fast, passes = obj.fast_sample(variables, jax.random.key(seed), 3)
    np.testing.assert_array_equal(naive, fast)
    steps = int(heads.step_index(SHAPE, obj.head.steps_per_pixel).max()) + 1
    assert 1 <= int(passes) <= steps + 1
  assert naive.min() >= 0 and naive.max() < LEVELS
  # Different keys, different images.
  assert not np.array_equal(naive, obj.naive_sample(variables, jax.random.key(7), 3))


def _random_raw(head, rng, n):
  return jnp.asarray(rng.normal(size=(n, 1, 1, head.num_outputs)) * 1.5,
                     jnp.float32)


@pytest.mark.parametrize('kind', ['softmax', 'logistic_mixture'])
def test_head_sampler_matches_its_likelihood(kind):
  # Enumerate all 4^3 pixels: the likelihood must be normalised, and the
  # deterministic sampler fed with `noise` must draw from it (coupling incl.).
  head = heads.make_head(kind, LEVELS, 3, 2)
  raw = _random_raw(head, np.random.default_rng(3), 1)
  pixels = jnp.asarray(list(itertools.product(range(LEVELS), repeat=3)))
  log_p = distributions.sum_per_example(head.log_prob_terms(
      jnp.repeat(raw, len(pixels), 0), pixels[:, None, None, :]))
  p = np.exp(np.asarray(log_p, np.float64))
  assert p.sum() == pytest.approx(1.0, abs=1e-5)
  n = 40_000
  noise = head.noise(jax.random.key(0), (n, 1, 1, 3))
  draws = np.asarray(head.sample(jnp.broadcast_to(raw, (n, 1, 1, head.num_outputs)),
                                 noise)).reshape(n, 3)
  codes = draws @ np.array([LEVELS**2, LEVELS, 1])
  freq = np.bincount(codes, minlength=LEVELS**3) / n
  se = np.sqrt(p * (1 - p) / n) + 1e-4
  assert np.all(np.abs(freq - p) < 5 * se), np.max(np.abs(freq - p) / se)


def test_weight_norm_data_dependent_init_whitens_the_first_batch():
  x = jax.random.normal(jax.random.key(0), (16, 8, 8, 5)) * 3.0 + 2.0
  for module in (layers.WeightNormConv(7, (2, 3), padding=((1, 0), (1, 1))),
                 layers.WeightNormDense(7),
                 layers.WeightNormConvTranspose(7, (2, 2))):
    y, _ = module.init_with_output(jax.random.key(1), x)
    np.testing.assert_allclose(np.mean(y, (0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.std(y, (0, 1, 2)), 1.0, atol=1e-3)
    # After init the gain and bias are ordinary parameters: same output.
    variables = module.init(jax.random.key(1), x)
    np.testing.assert_allclose(module.apply(variables, x), y, atol=1e-5)
