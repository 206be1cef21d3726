"""The cooperative game behind every Shapley estimator of explain/: input
checks, feature groups (superpixels), the `Explanation` they return, and the
value function v(S) = E_b[f(x_S, b_not S)] for many coalitions and rows in
one compiled call (Lundberg & Lee 2017, arXiv:1705.07874; the interventional
expectation of Janzing et al. 2019). The estimators live in
explain/shapley.py.
"""
import dataclasses
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import ConfigError, DataError


# Enumerating 2^M coalitions times the background: 2^20 x 100 rows is already
# 10^8 model evaluations per explained row.
MAX_EXACT_PLAYERS = 20
# Inputs (rows x coalitions x background rows) per call of f inside the
# jitted loop: bounds the memory of one step, not the work. On a CPU, 8,192
# inputs keep a small MLP's activations in cache (1.5x faster than 65,536
# at 3,072 coalitions x 30 background rows, bench/shap_vs_shap.py's model);
# an accelerator wants large batches.
CPU_MAX_ROWS = 1 << 13
ACCELERATOR_MAX_ROWS = 1 << 16


def default_max_rows():
  """Inputs per model call for this process's default JAX backend."""
  return CPU_MAX_ROWS if jax.default_backend() == 'cpu' else ACCELERATOR_MAX_ROWS


@dataclasses.dataclass
class Explanation:
  """Shapley values of a set of predictions, as `shap.Explanation` holds them.

  values: [N, M] (scalar output) or [N, M, K]; one column per player (a
    feature, or a group when `groups` were given).
  base_values: E[f] over the background, [N] or [N, K] (the same per row).
  output: f(x), shaped like base_values.
  data: the explained inputs [N, *example_shape].
  stderr: a standard error per value (KernelSHAP, permutation, expected
    gradients), or None where the values are exact.
  groups: the player of every feature (int, example_shape) or None.
  """
  values: np.ndarray
  base_values: np.ndarray
  output: np.ndarray
  data: np.ndarray
  feature_names: list
  method: str
  stderr: np.ndarray | None = None
  groups: np.ndarray | None = None
  num_evaluations: int = 0      # Coalitions valued per explained row.
  seconds: float = 0.0

  def efficiency_error(self):
    """max |sum(phi) - (f(x) - E[f])| over rows (and outputs)."""
    return float(np.max(np.abs(self.values.sum(axis=1)
                               - (self.output - self.base_values))))

  def save(self, path):
    """The values as a .npz (values, base_values, output, data, stderr,
    feature_names, method; groups when set)."""
    arrays = dict(values=self.values, base_values=self.base_values,
                  output=self.output, data=self.data,
                  feature_names=np.asarray(self.feature_names, dtype=str),
                  method=np.asarray(self.method))
    if self.stderr is not None:
      arrays['stderr'] = self.stderr
    if self.groups is not None:
      arrays['groups'] = self.groups
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, **arrays)

  def feature_values(self):
    """The values spread back onto the features [N, *example_shape(, K)]:
    each feature of a group gets its group's value (e.g. a superpixel's
    value on each of its pixels), for heat maps."""
    if self.groups is None:
      return self.values.reshape(self.data.shape + self.values.shape[2:])
    return np.take(self.values, self.groups.reshape(-1), axis=1).reshape(
        self.data.shape + self.values.shape[2:])


# ----------------------------------------------------------------------------
# Input checks: every user error is one line naming the fix.


def as_inputs(x, background, groups, feature_names):
  """(x [N, *shape] float, background [B, *shape], groups [D] int, M, names).

  A single example (x with the background's shape minus the batch axis) is
  promoted to a batch of one.
  """
  x = np.asarray(x)
  background = np.asarray(background)
  if background.ndim < 2 or len(background) == 0:
    raise DataError(f'background has shape {background.shape}; pass a '
                    'non-empty array [B, features] of reference rows')
  shape = background.shape[1:]
  if x.shape == shape:
    x = x[None]
  if x.shape[1:] != shape:
    width = int(np.prod(shape))
    raise DataError(
        f'background rows have shape {shape} ({width} features) but the '
        f'explained rows have shape {x.shape[1:]}; pass a background drawn '
        f'from the same features as x (shape [B, {", ".join(map(str, x.shape[1:]))}])')
  if len(x) == 0:
    raise DataError('x is empty; pass at least one row to explain')
  for name, a in (('x', x), ('background', background)):
    if not np.issubdtype(a.dtype, np.number) and a.dtype != bool:
      raise DataError(f'{name} has dtype {a.dtype}; pass numbers')
    if not np.all(np.isfinite(a)):
      bad = np.argwhere(~np.isfinite(a.reshape(len(a), -1)))[0]
      raise DataError(f'{name} has a NaN or infinity (row {bad[0]}, feature '
                      f'{bad[1]}); impute or drop it before explaining')
  dtype = np.result_type(x.dtype, background.dtype, np.float32)
  x, background = x.astype(dtype), background.astype(dtype)
  d = int(np.prod(shape))
  player_of, m = player_groups(groups, shape)
  if feature_names is None:
    feature_names = ([f'x{i}' for i in range(d)] if groups is None
                     else [f'group {j}' for j in range(m)])
  feature_names = [str(n) for n in feature_names]
  if len(feature_names) != m:
    raise DataError(f'{len(feature_names)} feature_names for {m} players '
                    f'({"groups" if groups is not None else "features"}); '
                    'give one name each')
  return x, background, player_of, m, feature_names


def player_groups(groups, shape):
  """The player index of every flattened feature, and the number of players.

  `groups`: None (each feature plays alone); an int array with the
  example's shape, or its shape without the last (channel) axis, labelling
  each feature's group 0..M-1 (a superpixel map); or a list of index lists
  partitioning the flattened features.
  """
  d = int(np.prod(shape))
  if groups is None:
    return np.arange(d), d
  if isinstance(groups, (list, tuple)) and groups and not np.isscalar(groups[0]):
    labels = np.full(d, -1)
    for j, members in enumerate(groups):
      members = np.asarray(members, dtype=int)
      if members.size and (members.min() < 0 or members.max() >= d):
        raise DataError(f'group {j} names feature {members.max()} but rows '
                        f'have {d} features')
      if np.any(labels[members] >= 0):
        raise DataError(f'group {j} repeats a feature of an earlier group; '
                        'groups must not overlap')
      labels[members] = j
    if np.any(labels < 0):
      raise DataError(f'features {np.flatnonzero(labels < 0)[:5].tolist()} are '
                      'in no group; the groups must cover every feature')
  else:
    labels = np.asarray(groups)
    if labels.shape == tuple(shape[:-1]) and len(shape) > 1:
      labels = np.broadcast_to(labels[..., None], shape)  # Over channels.
    if labels.shape != tuple(shape) or not np.issubdtype(labels.dtype, np.integer):
      raise DataError(f'groups has shape {labels.shape} (dtype {labels.dtype}); '
                      f'pass integer labels of shape {tuple(shape)} or '
                      f'{tuple(shape[:-1])}, or a list of index lists')
    labels = labels.reshape(-1)
  used = np.unique(labels)
  if used.min() < 0 or not np.array_equal(used, np.arange(len(used))):
    raise DataError('group labels must be 0..M-1 with every label used; '
                    f'got {used.min()}..{used.max()} with {len(used)} used '
                    '(relabel with np.unique(groups, return_inverse=True))')
  return labels.astype(np.int32), len(used)


def superpixels(shape, size):
  """A grid of size x size superpixels for images of `shape` (H, W[, C]):
  int labels [H, W], row-major, the last row/column of cells cut short."""
  h, w = shape[:2]
  if size < 1:
    raise ConfigError(f'superpixel size {size} must be at least 1')
  cols = -(-w // size)
  return (np.arange(h)[:, None] // size) * cols + np.arange(w)[None, :] // size


# ----------------------------------------------------------------------------
# The value function v(S) for many coalitions and rows in one compiled call.


def _flat_f(rows, f, shape, k):
  """f on flattened rows [n, D] -> [n, K] (float32 unless f gives float64)."""
  out = f(rows.reshape(-1, *shape))
  dtype = jnp.float64 if out.dtype == jnp.float64 else jnp.float32
  return out.reshape(rows.shape[0], k).astype(dtype)


def _one_row(x, masks, background, weights, player_of, f, shape, k, chunk):
  """[C, K] values of coalitions `masks` [C, M] (C a multiple of chunk) at
  one flattened row x [D]: a lax.map over chunks of coalitions, each chunk
  one call of f on chunk x B rows."""
  d = x.shape[0]

  def chunk_values(m):
    # Players to features per chunk: [C, D] at once would be 2^M x D.
    fm = m[:, player_of]
    rows = jnp.where(fm[:, None, :], x[None, None, :], background[None])
    out = _flat_f(rows.reshape(-1, d), f, shape, k)
    return jnp.einsum('cbk,b->ck', out.reshape(chunk, -1, k),
                      weights.astype(out.dtype))

  return jax.lax.map(chunk_values, masks.reshape(-1, chunk, masks.shape[-1])
                     ).reshape(-1, k)


@functools.partial(jax.jit, static_argnames=('f', 'shape', 'k', 'chunk',
                                             'rows_per_step'))
def _values_jit(xs, masks, background, weights, player_of, *, f, shape, k,
                chunk, rows_per_step):
  one = functools.partial(_one_row, background=background, weights=weights,
                          player_of=player_of, f=f, shape=shape, k=k,
                          chunk=chunk)
  # Several rows per step when one row's coalitions make a small batch (a
  # few hundred inputs leave the matrix units idle): the model runs on
  # rows_per_step x chunk x B inputs at once, at most max_rows.
  if masks.ndim == 2:  # One set of coalitions for every row.
    return jax.lax.map(lambda x: one(x, masks), xs, batch_size=rows_per_step)
  return jax.lax.map(lambda a: one(*a), (xs, masks), batch_size=rows_per_step)


@functools.partial(jax.jit, static_argnames=('f', 'shape', 'k'))
def _predict_jit(rows, *, f, shape, k):
  return _flat_f(rows, f, shape, k)


@functools.lru_cache(maxsize=64)
def _output_shape(f, shape, dtype):
  """f's output for a batch of two rows (traced once per model and shape:
  tracing is a large share of a small explanation's time)."""
  return jax.eval_shape(f, jax.ShapeDtypeStruct((2, *shape), dtype))


class Game:
  """v(S) = sum_b w_b f(x with S's features, the rest from b) for a batch of
  rows and coalitions; the model's output dimension K (1 for scalar)."""

  def __init__(self, f, background, player_of, weights=None,
               max_rows=None):
    self.shape = background.shape[1:]
    self.d = int(np.prod(self.shape))
    self.background = jnp.asarray(background.reshape(len(background), -1))
    b = len(background)
    if weights is None:
      weights = np.full(b, 1.0 / b)
    weights = np.asarray(weights, np.float64)
    if weights.shape != (b,) or np.any(weights < 0) or weights.sum() <= 0:
      raise DataError(f'background weights must be {b} non-negative numbers '
                      'with a positive sum')
    self.weights64 = weights / weights.sum()  # E[f] on the host, exactly.
    self.weights = jnp.asarray(self.weights64, background.dtype)
    self.player_of = jnp.asarray(player_of)
    if max_rows is None:
      max_rows = default_max_rows()
    if max_rows < 1:
      raise ConfigError(f'max_rows={max_rows} must be at least 1')
    self.chunk = max(1, max_rows // b)
    self.max_rows = max_rows
    self.f = f
    probe = _output_shape(f, self.shape, np.dtype(background.dtype).name)
    if not hasattr(probe, 'shape') or probe.shape[:1] != (2,) or probe.ndim > 2:
      raise DataError(f'f maps a batch [n, {", ".join(map(str, self.shape))}] '
                      f'to {getattr(probe, "shape", type(probe).__name__)}; '
                      'it must return [n] or [n, outputs]')
    self.scalar = probe.ndim == 1
    self.k = 1 if self.scalar else probe.shape[1]

  def values(self, xs, masks):
    """v [N, C, K] float64 for rows xs [N, *shape] and masks [C, M] or
    [N, C, M] (bool)."""
    c = masks.shape[-2]
    # A small design is one chunk padded to a multiple of 32 coalitions,
    # not a whole large chunk of mostly padding.
    chunk = min(self.chunk, -(-max(c, 1) // 32) * 32)
    pad = (-c) % chunk
    if pad:  # Whole chunks only; the padding coalitions are dropped.
      widths = [(0, 0)] * (masks.ndim - 2) + [(0, pad), (0, 0)]
      masks = np.pad(masks, widths)
    xs = jnp.asarray(xs.reshape(len(xs), -1))
    rows_per_step = int(min(len(xs), max(
        1, self.max_rows // (chunk * len(self.background)))))
    out = np.asarray(_values_jit(
        xs, jnp.asarray(masks), self.background, self.weights, self.player_of,
        f=self.f, shape=self.shape, k=self.k, chunk=chunk,
        rows_per_step=rows_per_step), np.float64)
    out = out[:, :c]
    self._check_finite(out, 'on a coalition of x and the background')
    return out

  def endpoints(self, xs):
    """(f(x) [N, K], E_b f(b) [K]) in float64."""
    predict = lambda z: np.asarray(_predict_jit(
        z, f=self.f, shape=self.shape, k=self.k), np.float64)
    fx = predict(jnp.asarray(xs.reshape(len(xs), -1)))
    fb = predict(self.background)
    self._check_finite(fx, 'at x')
    self._check_finite(fb, 'on the background')
    return fx, self.weights64 @ fb

  @staticmethod
  def _check_finite(a, where):
    if not np.all(np.isfinite(a)):
      raise DataError(f'the model returned NaN or infinity {where}; explain a '
                      'finite output (e.g. logits rather than log 0)')

  def shaped(self, a):
    """Drops the output axis of a scalar model."""
    return a[..., 0] if self.scalar else a


def finish(game, method, x, fx, base, phi, names, player_of, groups, stderr,
            evaluations, start):
  n = len(x)
  return Explanation(
      values=game.shaped(phi), base_values=game.shaped(np.broadcast_to(
          base, (n, game.k)).copy()),
      output=game.shaped(fx), data=x, feature_names=names, method=method,
      stderr=None if stderr is None else game.shaped(stderr),
      groups=None if groups is None else player_of.reshape(x.shape[1:]),
      num_evaluations=int(evaluations), seconds=time.time() - start)
