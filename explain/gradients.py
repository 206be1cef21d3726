"""Path-gradient attributions for differentiable models.

* Integrated gradients (Sundararajan et al. 2017, arXiv:1703.01365):
  IG_i(x) = (x_i - x'_i) * int_0^1 df/dx_i(x' + a (x - x')) da, whose sum is
  f(x) - f(x') (completeness) up to the quadrature's error. The integral is
  taken by Gauss-Legendre nodes by default: for smooth models the
  completeness error falls exponentially with the number of steps (the
  paper's Riemann sum converges only linearly). For piecewise-linear models
  (ReLU) no rule is exact; more steps help.
* Expected gradients (Erion et al. 2021, arXiv:1906.10670): the expectation
  of IG over baselines b drawn from a background and a ~ U(0, 1), one
  gradient per draw, so sum(phi) matches f(x) - E_b f(b) in expectation
  (an estimate of interventional Shapley values for a linear model, exact
  there); with a standard error per value.

`f` maps a batch [n, *shape] to [n] or [n, K]; `output` picks the column
to attribute for a multi-output model.
"""
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import ConfigError
from explain import game


def _scalar_fn(f, output, shape):
  probe = jax.eval_shape(f, jax.ShapeDtypeStruct((2, *shape), jnp.float32))
  if probe.ndim == 1:
    if output is not None:
      raise ConfigError(f'output={output} given but f returns one value per row')
    return f
  if output is None:
    if probe.shape[1] == 1:
      return lambda z: f(z)[:, 0]
    raise ConfigError(f'f returns {probe.shape[1]} outputs per row; pass '
                      'output=<column> to choose the one to attribute')
  if not 0 <= output < probe.shape[1]:
    raise ConfigError(f'output={output} but f returns {probe.shape[1]} outputs')
  return lambda z: f(z)[:, output]


def _nodes(steps, rule):
  """Quadrature nodes and weights on [0, 1]."""
  if steps < 1:
    raise ConfigError(f'steps={steps} must be at least 1')
  if rule == 'gauss_legendre':
    t, w = np.polynomial.legendre.leggauss(steps)
    return (t + 1) / 2, w / 2
  if rule == 'riemann_midpoint':
    return (np.arange(steps) + 0.5) / steps, np.full(steps, 1.0 / steps)
  if rule == 'trapezoid':
    if steps < 2:
      raise ConfigError('the trapezoid rule needs steps >= 2')
    t = np.linspace(0, 1, steps)
    w = np.full(steps, 1.0 / (steps - 1))
    w[[0, -1]] /= 2
    return t, w
  raise ConfigError(f'unknown rule {rule!r}; use gauss_legendre, '
                    'riemann_midpoint or trapezoid')


def integrated_gradients(f, x, baseline=None, *, steps=32, rule='gauss_legendre',
                         output=None, feature_names=None):
  """Integrated gradients of f at rows x [N, *shape] from `baseline` (one
  row [*shape], one per row [N, *shape], or None for zeros).

  Returns a `game.Explanation` whose base_values are f(baseline), so
  its `efficiency_error()` is the completeness error.
  """
  start = time.time()
  x = np.asarray(x, np.float32)
  if baseline is None:
    baseline = np.zeros(x.shape[1:], np.float32)
  baseline = np.asarray(baseline, np.float32)
  if baseline.shape == x.shape[1:]:
    baseline = np.broadcast_to(baseline, x.shape)
  x, _, _, _, names = game.as_inputs(x, baseline, None, feature_names)
  if baseline.shape != x.shape:
    raise ConfigError(f'baseline has shape {baseline.shape}; pass one row '
                      f'{x.shape[1:]} or one per explained row {x.shape}')
  g = _scalar_fn(f, output, x.shape[1:])
  t, w = _nodes(steps, rule)
  ig, fx, fb = _ig(g, jnp.asarray(x), jnp.asarray(baseline), jnp.asarray(t,
                   jnp.float32), jnp.asarray(w, jnp.float32))
  values = np.asarray(ig, np.float64).reshape(len(x), -1)
  return game.Explanation(
      values=values, base_values=np.asarray(fb, np.float64),
      output=np.asarray(fx, np.float64), data=x, feature_names=names,
      method=f'integrated_gradients({rule}, {steps})',
      num_evaluations=steps, seconds=time.time() - start)


@functools.partial(jax.jit, static_argnums=0)
def _ig(g, x, baseline, t, w):
  grad = jax.grad(lambda z: jnp.sum(g(z)))  # Rows are independent.

  def node(acc, tw):
    a, wa = tw
    return acc + wa * grad(baseline + a * (x - baseline)), None

  total, _ = jax.lax.scan(node, jnp.zeros_like(x), (t, w))
  return (x - baseline) * total, g(x), g(baseline)


def expected_gradients(f, x, background, *, num_samples=200, seed=0,
                       output=None, feature_names=None, batch=64):
  """Expected gradients: E_{b, a} (x - b) * grad f(b + a (x - b)) with b from
  `background` [B, *shape] and a ~ U(0, 1); `num_samples` draws per row.

  base_values are E_b f(b) over the background; stderr is the Monte Carlo
  standard error of each value.
  """
  start = time.time()
  x, background, _, _, names = game.as_inputs(x, background, None,
                                                  feature_names)
  if num_samples < 2:
    raise ConfigError(f'num_samples={num_samples} must be at least 2')
  g = _scalar_fn(f, output, x.shape[1:])
  key = jax.random.key(seed)
  keys = jax.random.split(key, len(x))
  mean, sq = [], []
  xs, bg = jnp.asarray(x, jnp.float32), jnp.asarray(background, jnp.float32)
  for i in range(0, len(x), batch):
    m, s = _eg(g, xs[i:i + batch], bg, keys[i:i + batch], num_samples)
    mean.append(m)
    sq.append(s)
  mean = np.asarray(jnp.concatenate(mean), np.float64).reshape(len(x), -1)
  sq = np.asarray(jnp.concatenate(sq), np.float64).reshape(len(x), -1)
  var = np.maximum(sq - mean ** 2, 0) * num_samples / (num_samples - 1)
  fx = np.asarray(jax.jit(g)(xs), np.float64)
  base = float(np.mean(np.asarray(jax.jit(g)(bg), np.float64)))
  return game.Explanation(
      values=mean, base_values=np.full(len(x), base), output=fx, data=x,
      feature_names=names, method='expected_gradients',
      stderr=np.sqrt(var / num_samples), num_evaluations=num_samples,
      seconds=time.time() - start)


@functools.partial(jax.jit, static_argnums=(0, 4))
def _eg(g, x, background, keys, num_samples):
  grad = jax.grad(lambda z: jnp.sum(g(z)))

  def one(xi, key):
    kb, ka = jax.random.split(key)
    b = background[jax.random.randint(kb, (num_samples,), 0, len(background))]
    a = jax.random.uniform(ka, (num_samples,) + (1,) * xi.ndim)
    terms = (xi - b) * grad(b + a * (xi - b))
    return terms.mean(0), (terms ** 2).mean(0)

  return jax.vmap(one)(x, keys)


__all__ = ('integrated_gradients', 'expected_gradients')
