"""The cached sampler (Ramachandran et al. 2017, arXiv:1704.06001) draws
exactly the naive sampler's images: same key, same noise, bit for bit, for
all three networks at odd image sizes, with colour groups, both heads,
class conditioning (through the objective's own samplers) and PixelCNN++'s
1, 2 and 3 resolutions; unsupported networks and shapes are one-line errors.

Kept small for the CI budget: tiny networks with random weights, one key
per case (a batch of images instead of several keys), naive and cached
compiled together and without LLVM's optimisations (compiling is most of
the time; both samplers get the same settings, so the comparison holds).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import distributions
from common import metrics as metrics_lib
from common.errors import ConfigError
from pixelcnn import heads
from pixelcnn import models
from pixelcnn import objective as objective_lib
from pixelcnn import pixelcnnpp
from pixelcnn import sampling

LEVELS = 4
# About half the compile time of the default level on CPU.
_COMPILER_OPTIONS = {'xla_backend_optimization_level': 0}


def _network(name, channels, num_classes=0, num_scales=1):
  """Tiny networks of each kind that still have every cached layer type."""
  if name == 'pixelcnnpp':
    head = heads.LogisticMixtureHead(LEVELS, channels, 2)
    return pixelcnnpp.PixelCNNPP(head, filters=4, resnet_blocks=1,
                                 num_scales=num_scales, dropout=0.5,
                                 num_classes=num_classes)
  head = heads.SoftmaxHead(LEVELS, channels)
  if name == 'pixelcnn':
    return models.PixelCNN(head, hidden=3, residual_blocks=2, first_kernel=5,
                           output_features=6, output_layers=1)
  return models.GatedPixelCNN(head, stack_channels=3, gated_layers=2, kernel=3,
                              first_kernel=5, num_classes=num_classes,
                              output_features=6)


def _random_variables(obj, shape, num_classes):
  """Random weights of every shape the network's init makes, from numpy.

  Exactness holds for any weights, so no trained or data-initialised ones
  are needed; flax's init would compile a random generator per parameter
  (seconds per network, most of this file's time). Scales keep activations
  of order one: weights N(0, 1/fan_in), weight-norm gains N(0, 1/2), biases
  N(0, 0.01): larger biases left every ReLU of a 3-channel Gated PixelCNN
  dead, so its outputs ignored the image and the tests compared constants
  (`_check_depends_on_the_image` guards against that).
  """
  batch = {'x': jax.ShapeDtypeStruct((1, *shape), jnp.int32)}
  if num_classes:
    batch['y'] = jax.ShapeDtypeStruct((1,), jnp.int32)
  shapes = jax.eval_shape(obj.init, jax.random.key(0), batch)
  rng = np.random.default_rng(0)

  def draw(path, leaf):
    fan_in = np.prod(leaf.shape[:-1]) if len(leaf.shape) > 1 else 2.0
    if jax.tree_util.keystr(path[-1:]) == "['bias']":
      fan_in = 100.0
    return jnp.asarray(rng.normal(0.0, fan_in ** -0.5, leaf.shape), leaf.dtype)

  return jax.tree_util.tree_map_with_path(draw, shapes)


def _check_depends_on_the_image(apply_fn, x, levels):
  """The network's outputs change with the first pixel, in its own row and
  in the rows below: the caches under test carry something."""
  x2 = x.at[:, 0, 0].set((x[:, 0, 0] + 1) % levels)
  centres = lambda x: distributions.to_unit_interval_centres(x, levels)
  change = jnp.abs(apply_fn(centres(x)) - apply_fn(centres(x2))).max((0, 2, 3))
  assert change[0] > 1e-3 and change[1:].max() > 1e-3, change


def _objective(net, shape, num_classes=0, num_samples=0):
  obj = objective_lib.PixelCNNObjective(net, net.head, shape, num_classes,
                                        num_samples=num_samples)
  return obj, _random_variables(obj, shape, num_classes)


def _check_images(cached, naive, shape):
  np.testing.assert_array_equal(cached, naive)
  assert cached.shape == shape and cached.dtype == np.int32
  assert cached.min() >= 0 and cached.max() < LEVELS
  assert not np.array_equal(cached[0], cached[1])  # Different noise.


# name, (height, width, channels), batch, num_classes, num_scales.
CASES = [
    ('pixelcnn', (5, 7, 3), 2, 0, 1),        # Colour groups.
    ('gated_pixelcnn', (7, 4, 1), 2, 0, 1),  # Taller than its row caches.
    ('pixelcnnpp', (3, 5, 3), 2, 0, 1),
    ('pixelcnnpp', (2, 6, 1), 3, 3, 2),      # Class-conditional.
    ('pixelcnnpp', (4, 4, 3), 2, 0, 3),
]


@pytest.mark.parametrize('name,shape,batch,num_classes,num_scales', CASES)
def test_cached_sampler_equals_naive_sampler(name, shape, batch, num_classes,
                                             num_scales):
  net = _network(name, shape[-1], num_classes, num_scales)
  obj, variables = _objective(net, shape, num_classes)
  full_shape = (batch, *shape)
  labels = obj.sample_labels(batch)

  apply_fn = obj._apply_fn(variables, labels)  # pylint: disable=protected-access
  _check_depends_on_the_image(apply_fn, jnp.ones(full_shape, jnp.int32), LEVELS)

  def both(variables, key):  # One compilation for both samplers.
    noise = net.head.noise(key, full_shape)
    naive = sampling.naive_sample(apply_fn, net.head, noise, full_shape)
    # The caches alone, unchecked: what this test is about.
    cached, _ = sampling.cached_sample(net, variables, net.head, noise,
                                       full_shape, labels, verify=False)
    if name != 'pixelcnn':
      return naive, cached, naive, 1
    # The check: started at the naive image it stops after one pass, and
    # from a wrong image it still ends at the naive sample.
    _, confirm_passes = sampling.fast_sample(apply_fn, net.head, noise,
                                             full_shape, init=naive)
    wrong = cached.at[0, 0, 0, 0].set((cached[0, 0, 0, 0] + 1) % LEVELS)
    repaired, _ = sampling.fast_sample(apply_fn, net.head, noise, full_shape,
                                       init=wrong)
    return naive, cached, repaired, confirm_passes

  key = jax.random.key(1)
  both = jax.jit(both).lower(variables, key).compile(_COMPILER_OPTIONS)
  naive, cached, repaired, confirm_passes = map(np.asarray, both(variables, key))
  _check_images(cached, naive, full_shape)
  np.testing.assert_array_equal(repaired, naive)
  assert confirm_passes == 1


def _teacher_forced_raw(plan, head, x):
  """The plan's raw output at every pixel of a given image x fed in raster
  order, each pixel's values written before its output is computed: the
  masks hide a sub-pixel from its own and earlier outputs, so every
  sub-pixel's output is the one the sampler computes at its step."""
  batch, height, width, _ = x.shape
  centres = distributions.to_unit_interval_centres(x, head.levels)
  cache, rows = plan.init(batch), []
  for r in range(height):
    cache, cols = plan.row(cache, r), []
    for c in range(width):
      cache = plan.put_input(cache, centres[:, r:r + 1, c:c + 1], r, c)
      cache, raw = plan.pixel(cache, r, c)
      cols.append(raw)
    rows.append(jnp.concatenate(cols, 2))
  return jnp.concatenate(rows, 1)


@pytest.mark.parametrize('name,shape,num_classes,num_scales', [
    ('pixelcnn', (5, 6, 3), 0, 1), ('gated_pixelcnn', (7, 4, 3), 2, 1),
    ('pixelcnnpp', (4, 4, 3), 0, 2)])
def test_cached_raw_outputs_equal_the_full_pass(name, shape, num_classes,
                                                num_scales):
  # Samples can hide a wrong cache (a small logit error rarely flips a
  # draw); the raw outputs cannot. On a random image, every pixel's cached
  # output equals the network's full forward pass up to summation order.
  net = _network(name, shape[-1], num_classes, num_scales)
  obj, variables = _objective(net, shape, num_classes)
  labels = obj.sample_labels(2)
  x = jnp.asarray(np.random.default_rng(0).integers(0, LEVELS, (2, *shape)),
                  jnp.int32)
  plan = sampling._cached_plan(net, variables['params'], net.head,  # pylint: disable=protected-access
                               (2, *shape), labels)
  apply_fn = obj._apply_fn(variables, labels)  # pylint: disable=protected-access
  _check_depends_on_the_image(apply_fn, x, LEVELS)
  full = apply_fn(distributions.to_unit_interval_centres(x, LEVELS))
  cached = jax.jit(lambda x: _teacher_forced_raw(plan, net.head, x))(x)
  np.testing.assert_allclose(cached, full, rtol=1e-4, atol=1e-5)


def test_objective_samples_gated_pixelcnn_with_the_cached_sampler():
  """Class-conditional Gated PixelCNN with colour groups, at an odd size,
  through the objective's own jitted samplers; its sample grids are the
  cached sampler's."""
  shape, n = (3, 5, 3), 2
  net = _network('gated_pixelcnn', 3, num_classes=3)
  obj, variables = _objective(net, shape, num_classes=3, num_samples=n)
  _check_depends_on_the_image(
      obj._apply_fn(variables, obj.sample_labels(n)),  # pylint: disable=protected-access
      jnp.ones((n, *shape), jnp.int32), LEVELS)
  key = jax.random.key(3)
  cls = type(obj)
  compiled = {name: getattr(cls, name).lower(obj, variables, key, n).compile(
      _COMPILER_OPTIONS) for name in ('cached_sample', 'naive_sample')}
  cached, passes = compiled['cached_sample'](variables, key)
  cached = np.asarray(cached)
  _check_images(cached, np.asarray(compiled['naive_sample'](variables, key)),
                (n, *shape))
  assert int(passes) == 1   # The check's one full pass found nothing to repair.
  # The compiled method in place of the jitted one: no second compilation.
  obj.cached_sample = lambda variables, rng, n: compiled['cached_sample'](
      variables, rng)
  np.testing.assert_array_equal(obj.sample_images(variables, key)['samples'],
                                metrics_lib.image_grid(cached, LEVELS))


class NotAPixelCNN:
  head = heads.SoftmaxHead(LEVELS, 1)


@pytest.mark.parametrize('model,shape,match', [
    (NotAPixelCNN(), (1, 4, 4, 1), 'supports PixelCNN, GatedPixelCNN and PixelCNNPP'),
    (_network('pixelcnn', 1), (1, 4, 4, 3), r'shape \(batch, height, width, 1\)'),
    (_network('pixelcnn', 1), (4, 4, 1), r'shape \(batch, height, width, 1\)'),
    (_network('pixelcnnpp', 1, num_scales=2), (1, 5, 6, 1), 'divisible by 2'),
    (_network('gated_pixelcnn', 1, num_classes=3), (1, 4, 4, 1), 'needs labels'),
])
def test_bad_input_is_a_one_line_error(model, shape, match):
  with pytest.raises(ConfigError, match=match) as err:  # Before any noise.
    sampling.cached_sample(model, {'params': {}}, model.head, None, shape)
  assert '\n' not in str(err.value)
