"""PixelCNN family against oracles: causality by exact gradients, no blind
spot (and the plain PixelCNN's blind spot where theory puts it), exact
sampling (fast = naive), the head's sampler against its own enumerated
likelihood, weight norm's data-dependent initialisation, PixelCNN++'s
one-line error for image sides its scales cannot halve, and every network
built from its config block by keyword (unknown keys: one-line errors)."""
import dataclasses
import importlib
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import ml_collections
import pytest

from common import data as data_lib
from common import distributions
from common.errors import ConfigError
from configs import common as config_common
from pixelcnn import heads
from pixelcnn import layers
from pixelcnn import masks
from pixelcnn import models
from pixelcnn import network_config
from pixelcnn import objective as objective_lib
from pixelcnn import pixelcnnpp
from pixelcnn import train as pixelcnn_train

SHAPE = (6, 6, 3)
LEVELS = 4


def _objective(name, shape=SHAPE, levels=LEVELS):
  c = shape[-1]
  if name == 'pixelcnn':
    head = heads.SoftmaxHead(levels, c)
    net = models.PixelCNN(head, hidden=12, residual_blocks=2, first_kernel=5,
                          output_features=48, output_layers=1)
    return objective_lib.PixelCNNObjective(net, head, shape)
  if name == 'gated_pixelcnn':
    head = heads.SoftmaxHead(levels, c)
    net = models.GatedPixelCNN(head, stack_channels=12, gated_layers=4,
                               kernel=3, first_kernel=5, num_classes=3,
                               output_features=48)
    return objective_lib.PixelCNNObjective(net, head, shape, num_classes=3)
  head = heads.LogisticMixtureHead(levels, c, 3)
  net = pixelcnnpp.PixelCNNPP(head, filters=8, resnet_blocks=1, num_scales=2,
                              dropout=0.5)
  return objective_lib.PixelCNNObjective(net, head, shape)


def _init(obj, n=4):
  rng = jax.random.key(0)
  batch = {'x': jax.random.randint(rng, (n, *obj.data_shape), 0, obj.head.levels)}
  if obj.num_classes:
    batch['y'] = jnp.arange(n) % obj.num_classes
  return obj.init(rng, batch), batch


VARIANTS = ['pixelcnn', 'gated_pixelcnn', 'pixelcnnpp']


def _run_config(name, **model_overrides):
  """A run config whose model block is `pixelcnn_model(name, ...)`."""
  config = ml_collections.ConfigDict()
  config.model = config_common.pixelcnn_model(name, **model_overrides)
  return config


def test_masks_follow_the_paper():
  groups = masks.group_ids(6, 3)  # RRGGBB
  np.testing.assert_array_equal(groups, [0, 0, 1, 1, 2, 2])
  a = masks.conv_mask((3, 3), groups, groups, 'A')
  b = masks.conv_mask((3, 3), groups, groups, 'B')
  # Earlier pixels: every channel to every channel (van den Oord et al. 2016,
  # arXiv:1601.06759 Sec. 3.4: only the current pixel's colours are masked).
  assert a[0].all() and a[1, 0].all() and b[0].all() and b[1, 0].all()
  # Later pixels: nothing.
  assert not a[2].any() and not a[1, 2].any() and not b[1, 2].any()
  # The current pixel: A strictly earlier colours, B up to the same colour.
  np.testing.assert_array_equal(a[1, 1], groups[:, None] < groups[None, :])
  np.testing.assert_array_equal(b[1, 1], groups[:, None] <= groups[None, :])


@pytest.mark.parametrize('name', VARIANTS)
def test_log_likelihood_is_causal(name):
  # Through the head too (PixelCNN++'s channel coupling reads x_in).
  obj = _objective(name)
  variables, batch = _init(obj)
  x = batch['x'][:1]
  y = batch['y'][:1] if 'y' in batch else None
  x_in = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (1, *SHAPE)),
                     jnp.float32)
  terms = lambda v: obj.log_prob_terms(variables, x, y, x_in=v)[0]
  jac = np.asarray(jax.jit(jax.jacrev(terms))(x_in))[:, :, :, 0]  # [H,W,C]*2
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


# The receptive-field test: an interior pixel of an 8 x 8 RGB image, with 5
# rows above it, 3 pixels to its left and 4 columns to its right. Every
# network below reaches at least 5 pixels in each direction (PixelCNN: the
# 5 x 5 first kernel reaches 2, each of the 3 blocks' 3 x 3 one more; Gated
# PixelCNN: 2 and 3 x 1 likewise), so the
# whole causal past lies within the kernels' geometric reach, and a past
# pixel the output ignores is a blind spot, not a pixel out of range.
RF_SHAPE = (8, 8, 3)
RF_PIXEL = (5, 3)
RF_FIRST_KERNEL = 5


def _receptive_field_net(name):
  c = RF_SHAPE[-1]
  if name == 'pixelcnn':
    head = heads.SoftmaxHead(LEVELS, c)
    net = models.PixelCNN(head, hidden=12, residual_blocks=3,
                          first_kernel=RF_FIRST_KERNEL, output_features=24,
                          output_layers=1)
    return net, head, RF_FIRST_KERNEL // 2 + 3
  if name == 'gated_pixelcnn':
    head = heads.SoftmaxHead(LEVELS, c)
    net = models.GatedPixelCNN(head, stack_channels=12, gated_layers=4,
                               kernel=3, first_kernel=RF_FIRST_KERNEL,
                               output_features=24)
    return net, head, RF_FIRST_KERNEL // 2 + 3 * (3 // 2)
  head = heads.LogisticMixtureHead(LEVELS, c, 2)
  net = pixelcnnpp.PixelCNNPP(head, filters=4, resnet_blocks=1, num_scales=2,
                              dropout=0.5)
  # The U-Net (its half-resolution stage doubles every layer's reach) spans
  # the whole 8 x 8 image; the test's no-blind-spot check confirms it.
  return net, head, max(RF_SHAPE[:2])


def _random_variables(net, x, seed=2):
  """Random variables of `net`'s shapes: N(0, 1/fan_in) kernels (weight norm
  rescales its own) and N(0, 0.1^2) biases and gains. No layer is left at its
  zero (or data-dependent) initialisation, so no gradient vanishes by
  construction; eval_shape and numpy skip the slow, eager flax init. (Larger
  biases can hold a ReLU dead for every input and hide a real dependence.)"""
  rng = np.random.default_rng(seed)
  scale = lambda s: (0.1 if len(s) < 2 else 1.0 / np.sqrt(np.prod(s[:-1])))
  return jax.tree.map(
      lambda leaf: jnp.asarray(scale(leaf.shape) * rng.normal(size=leaf.shape),
                               leaf.dtype),
      jax.eval_shape(net.init, jax.random.key(0), x))


def _dependence(name):
  """Which inputs the raw output at RF_PIXEL depends on, by exact gradients.

  Returns (dep [outputs, H, W, C] bool, head, reach): the union over a small
  batch of random inputs, so a ReLU that happens to be dead for one input
  hides nothing.
  """
  net, head, reach = _receptive_field_net(name)
  i, j = RF_PIXEL
  x = jax.random.uniform(jax.random.key(1), (4, *RF_SHAPE), minval=-1.0,
                         maxval=1.0)
  variables = _random_variables(net, x)
  out_at = lambda image: net.apply(variables, image[None])[0, i, j]
  jac = jax.jit(jax.vmap(jax.jacrev(out_at)))(x)  # [B, outputs, H, W, C]
  return np.any(np.asarray(jac) != 0.0, 0), head, reach


def _past_within_reach(reach):
  h, w, _ = RF_SHAPE
  i, j = RF_PIXEL
  rows, cols = np.indices((h, w))
  past = rows * w + cols < i * w + j  # Raster order.
  return past & (np.abs(rows - i) <= reach) & (np.abs(cols - j) <= reach)


def _assert_no_blind_spot(seen, reach):
  blind = _past_within_reach(reach) & ~seen
  assert not blind.any(), f'blind spot at {np.argwhere(blind).tolist()}'


@pytest.mark.parametrize('name', VARIANTS)
def test_receptive_field_is_causal_and_has_no_blind_spot(name):
  dep, head, reach = _dependence(name)
  h, w, c = RF_SHAPE
  i, j = RF_PIXEL
  rows, cols = np.indices((h, w))
  after = rows * w + cols > i * w + j
  # The whole causal past is within reach: the test is not short of range.
  past = rows * w + cols < i * w + j
  np.testing.assert_array_equal(_past_within_reach(reach), past)
  # (a) Causality: nothing after the pixel; at the pixel itself output colour
  # group g sees exactly the input colours < g (mask A, then B), and
  # PixelCNN++, which models whole pixels, sees none of it.
  assert not dep[:, after].any()
  at_pixel = dep[:, i, j, :]  # [outputs, C]
  if head.steps_per_pixel == 1:
    assert not at_pixel.any()
  else:
    out_groups = np.asarray(head.out_groups())
    np.testing.assert_array_equal(
        at_pixel, np.arange(c)[None, :] < out_groups[:, None])
  seen = dep.any((0, 3))  # [H, W]: any output, any colour.
  if name != 'pixelcnn':
    # (b) Every pixel of the causal past, the ones above-right included.
    _assert_no_blind_spot(seen, reach)
    assert seen[i - 1, j + 1:].all()
    return
  # (c) The plain masked PixelCNN fails (b): stacked masked convolutions never
  # see the wedge above-right of the pixel (arXiv:1606.05328 Fig. 1), though
  # it lies within the kernels' geometric reach. A mask-B 3 x 3 layer moves
  # the field right only by also moving it up, so row i - d (d >= 1) is seen
  # up to column j + first_kernel // 2 + d - 1 and no further.
  with pytest.raises(AssertionError, match='blind spot'):
    _assert_no_blind_spot(seen, reach)
  blind = past & ~seen
  wedge = past & (rows < i) & (cols - j > RF_FIRST_KERNEL // 2 + (i - rows) - 1)
  np.testing.assert_array_equal(blind, wedge)
  assert blind[i - 1, j + RF_FIRST_KERNEL // 2 + 1:].all()  # Right above.
  assert seen[past & ~wedge].all()  # Everywhere else it sees everything.


@pytest.mark.parametrize('name', VARIANTS)
def test_fast_sampler_equals_naive_sampler(name):
  obj = _objective(name)
  variables, _ = _init(obj)
  naive = obj.naive_sample(variables, jax.random.key(1), 3)
  fast, passes = obj.fast_sample(variables, jax.random.key(1), 3)
  np.testing.assert_array_equal(naive, fast)
  steps = int(heads.step_index(SHAPE, obj.head.steps_per_pixel).max()) + 1
  assert 1 <= int(passes) <= steps + 1
  assert naive.min() >= 0 and naive.max() < LEVELS
  # Different keys, different images.
  other, _ = obj.fast_sample(variables, jax.random.key(7), 3)
  assert not np.array_equal(naive, other)


# (height, width), num_scales, the sides named in the error, the largest
# num_scales that fits, the padded size.
BAD_SIDES = [
    ((28, 28), 4, ['height 28', 'width 28'], 3, '32x32'),
    ((7, 7), 2, ['height 7', 'width 7'], 1, '8x8'),
    ((12, 10), 3, ['width 10'], 2, '12x12'),
    ((6, 8), 3, ['height 6'], 2, '8x8'),
]


def _assert_names_the_fix(err, hw, num_scales, sides, fits, padded):
  message = str(err.value)
  assert '\n' not in message  # The launcher prints one line.
  assert f'num_scales={num_scales}' in message
  assert f'{hw[0]}x{hw[1]}' in message
  for side in sides:
    assert side in message
  assert f'num_scales <= {fits}' in message
  assert f'pad the images to {padded}' in message


@pytest.mark.parametrize('hw, num_scales, sides, fits, padded', BAD_SIDES)
def test_pixelcnnpp_rejects_sides_its_scales_cannot_halve(
    hw, num_scales, sides, fits, padded):
  head = heads.LogisticMixtureHead(LEVELS, 3, 2)
  net = pixelcnnpp.PixelCNNPP(head, filters=4, resnet_blocks=1,
                              num_scales=num_scales)
  x = jnp.zeros((1, *hw, 3))
  # At the model's first call, before any layer: init and apply alike.
  with pytest.raises(ConfigError) as err:
    jax.eval_shape(net.init, jax.random.key(0), x)
  _assert_names_the_fix(err, hw, num_scales, sides, fits, padded)
  # And when the objective is built, before the trainer ever calls init.
  images = np.zeros((2, *hw, 1), np.uint8)
  dataset = data_lib.Dataset('toy', images, images, levels=256)
  config = _run_config('pixelcnnpp', num_scales=num_scales)
  with pytest.raises(ConfigError) as err:
    pixelcnn_train.build(config, dataset)
  _assert_names_the_fix(err, hw, num_scales, sides, fits, padded)
  # Sides that halve often enough work, non-square ones included.
  factor = 2**(num_scales - 1)
  ok = jnp.zeros((1, hw[0] * factor, hw[1] * factor, 3))
  out = jax.eval_shape(net.init_with_output, jax.random.key(0), ok)[0]
  assert out.shape == (*ok.shape[:3], head.num_outputs)
  pixelcnn_train.build(config, data_lib.Dataset(
      'toy', np.zeros((2, *ok.shape[1:3], 1), np.uint8), images, levels=256))


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


def _labelled_images(shape=(8, 8, 3), levels=LEVELS):
  x = np.zeros((4, *shape), np.uint8)
  y = np.arange(4) % 3
  return data_lib.Dataset('toy', x, x, levels=levels, y_train=y, y_test=y)


@pytest.mark.parametrize('name', VARIANTS)
def test_each_network_is_built_from_its_config_block_by_keyword(name):
  cls = pixelcnn_train.NETWORKS[name]
  keys = network_config.network_keys(cls)
  # The block holds the network's keys, the family's and its head's: no
  # key another network reads, none the network lacks.
  block = config_common.pixelcnn_model(name)
  head_keys = ('num_mixtures',) if name == 'pixelcnnpp' else ()
  assert set(block) == set(keys + network_config.FAMILY_KEYS + head_keys)
  # Values unlike the modules' defaults and unlike each other: a key routed
  # to another field, or dropped, shows.
  fields = {f.name: f.default for f in dataclasses.fields(cls)}
  values = {k: (fields[k] + 0.25 if isinstance(fields[k], float)
                else fields[k] + 1 + i)
            for i, k in enumerate(keys)}
  values['num_classes'] = 3  # The toy data's labels (if the network has it).
  values = {k: v for k, v in values.items() if k in keys}
  assert len(set(values.values())) == len(values)
  config = _run_config(name, **values)
  # 32 x 32: PixelCNN++ halves it num_scales - 1 = 5 times.
  objective = pixelcnn_train.build(config, _labelled_images((32, 32, 3)))
  assert type(objective.model) is cls
  for key, value in values.items():
    assert getattr(objective.model, key) == value, key
  assert objective.num_classes == values.get('num_classes', 0)
  assert objective.num_samples == config.model.num_samples
  # The same network, built directly from the block.
  assert cls.from_config(config.model, objective.head) == objective.model


# A key each network lacks (another network's, or the old shared names).
STRAY = [('pixelcnn', 'stack_channels'), ('pixelcnn', 'num_classes'),
         ('gated_pixelcnn', 'hidden'), ('gated_pixelcnn', 'features'),
         ('gated_pixelcnn', 'num_mixtures'), ('pixelcnnpp', 'gated_layers'),
         ('pixelcnnpp', 'depth')]


@pytest.mark.parametrize('name, key', STRAY)
def test_unknown_model_key_is_one_config_error_naming_it(name, key):
  def check(err):
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert f'{name} has no model key {key};' in message, message
    assert '\n' not in message and '--config' not in message, message
  # In the config helper...
  with pytest.raises(ConfigError) as err:
    config_common.pixelcnn_model(name, **{key: 3})
  check(err)
  # ...and in the builder, for a block edited by hand or read from JSON.
  config = _run_config(name)
  config.model[key] = 3
  with pytest.raises(ConfigError) as err:
    pixelcnn_train.build(config, _labelled_images())
  check(err)


def _pre_rename_block(name):
  """The one block for every network that configs before the per-network
  keys saved (config.json of older runs), with pixelcnn_digits' values."""
  m = ml_collections.ConfigDict(dict(
      name=name, head='logistic_mixture' if name == 'pixelcnnpp' else 'softmax',
      num_mixtures=5, features=32, depth=4, first_kernel=5, kernel=3,
      output_features=128, output_layers=2, num_scales=2, dropout=0.0,
      num_classes=0, num_samples=16))
  if name == 'pixelcnnpp':
    m.features, m.depth = 32, 2
  return m


@pytest.mark.parametrize('name', VARIANTS)
def test_pre_rename_config_builds_the_same_network(name):
  # Checkpoints of older runs restore: their config.json builds the network
  # (same fields, so the same parameters) the renamed keys build.
  images = _labelled_images((8, 8, 1), 17)
  digits = importlib.import_module('configs.pixelcnn_digits')
  new = pixelcnn_train.build(digits.get_config(f'model={name}'), images)
  old_config = ml_collections.ConfigDict({'model': _pre_rename_block(name)})
  old = pixelcnn_train.build(old_config, images)
  assert old.model == new.model and old.head == new.head
