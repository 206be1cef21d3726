"""Shapley values of a model's prediction (Lundberg & Lee 2017, arXiv:1705.07874).

The game: the players are the features (or groups of features, e.g.
superpixels) of one input x, and the value of a coalition S is the
interventional expectation

  v(S) = E_b[ f(x_S, b_{not S}) ],

the model averaged over background rows b with the features outside S taken
from b (Janzing et al. 2019's interventional, "marginal" expectation; what
`shap`'s Exact, Kernel and Permutation explainers compute). v(empty) is
E[f] over the background, the base value; v(all) = f(x); the Shapley values
phi satisfy sum(phi) = f(x) - E[f] (efficiency).

Three estimators share one vectorised value function (every coalition and
every background row of a chunk in one call of f, under `jax.jit`):

  * `exact_shapley`: all 2^M coalitions, weighted exactly (practical to ~16
    players; refused above `max_players`, 20 by default).
  * `kernel_shap`: weighted least squares with the Shapley kernel and the
    efficiency constraint (Lundberg & Lee 2017, Theorem 2). Coalition sizes
    whose every subset fits the budget are enumerated (smallest and largest
    first, where the kernel puts its mass), the rest sampled in complement
    pairs (Covert & Lee 2021, arXiv:2012.01536), with a standard error per
    value by the delta method. Exact when the budget covers all coalitions.
  * `permutation_shap`: marginal contributions along random orderings, each
    with its reverse (antithetic; Mitchell et al. 2022). Unbiased, and
    efficient for every ordering.

`f` maps a batch [n, *example_shape] to [n] or [n, K]; it must be a JAX
function (it is traced). A numpy-only model can be wrapped with
`jax.pure_callback`, at the cost of the speed.
"""
import dataclasses
import functools
import itertools
import math
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


def _as_inputs(x, background, groups, feature_names):
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
  player_of, m = _groups(groups, shape)
  if feature_names is None:
    feature_names = ([f'x{i}' for i in range(d)] if groups is None
                     else [f'group {j}' for j in range(m)])
  feature_names = [str(n) for n in feature_names]
  if len(feature_names) != m:
    raise DataError(f'{len(feature_names)} feature_names for {m} players '
                    f'({"groups" if groups is not None else "features"}); '
                    'give one name each')
  return x, background, player_of, m, feature_names


def _groups(groups, shape):
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


class _Game:
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


def _finish(game, method, x, fx, base, phi, names, player_of, groups, stderr,
            evaluations, start):
  n = len(x)
  return Explanation(
      values=game.shaped(phi), base_values=game.shaped(np.broadcast_to(
          base, (n, game.k)).copy()),
      output=game.shaped(fx), data=x, feature_names=names, method=method,
      stderr=None if stderr is None else game.shaped(stderr),
      groups=None if groups is None else player_of.reshape(x.shape[1:]),
      num_evaluations=int(evaluations), seconds=time.time() - start)


# ----------------------------------------------------------------------------
# Exact enumeration.


def _all_coalitions(m):
  """All 2^m coalitions [2^m, m] bool; coalition c holds player i iff bit i
  of c is set."""
  c = np.arange(1 << m, dtype=np.int64)
  return ((c[:, None] >> np.arange(m)) & 1).astype(bool)


def shapley_from_all_values(v):
  """Shapley values [N, M, K] from v [N, 2^M, K] indexed by coalition bits:

    phi_i = sum_{S not containing i} |S|! (M - |S| - 1)! / M! (v(S + i) - v(S)).
  """
  n, c, k = v.shape
  m = int(round(math.log2(c)))
  sizes = _all_coalitions(m).sum(1)
  # log-weights avoid the overflow of factorials' ratio for large M.
  log_w = np.array([math.lgamma(s + 1) + math.lgamma(m - s) - math.lgamma(m + 1)
                    for s in range(m)])
  phi = np.zeros((n, m, k))
  index = np.arange(c)
  for i in range(m):
    without = index[(index >> i) & 1 == 0]
    w = np.exp(log_w[sizes[without]])
    phi[:, i] = np.einsum('c,nck->nk', w, v[:, without | (1 << i)] - v[:, without])
  return phi


def exact_shapley(f, x, background, *, groups=None, feature_names=None,
                  background_weights=None, max_players=MAX_EXACT_PLAYERS,
                  max_rows=None):
  """Exact Shapley values of f at each row of x by enumerating coalitions.

  2^M coalitions, each valued on the whole background: M up to about 16 is
  practical; more than `max_players` is refused (use `kernel_shap`,
  `permutation_shap` or coarser `groups`).

  Args:
    f: JAX function [n, *shape] -> [n] or [n, K].
    x: rows to explain [N, *shape] (or one row [*shape]).
    background: reference rows [B, *shape] for the interventional
      expectation; E[f] over them is the base value.
    groups: players made of several features (see `_groups`), e.g.
      `superpixels(image_shape, 4)`.
    background_weights: [B] (e.g. k-means cluster sizes); default uniform.
  """
  start = time.time()
  x, background, player_of, m, names = _as_inputs(x, background, groups,
                                                  feature_names)
  if m > max_players:
    raise ConfigError(
        f'exact Shapley values enumerate 2^M coalitions and M={m} players is '
        f'more than {max_players}; use kernel_shap or permutation_shap, or '
        'fewer players (groups=...)')
  game = _Game(f, background, player_of, background_weights, max_rows)
  v = game.values(x, _all_coalitions(m))
  fx, base = game.endpoints(x)
  # The enumeration's own end points are f(x) and E[f] to float precision;
  # the float64 ones make efficiency hold to float64 rounding of the sums.
  v[:, 0], v[:, -1] = base, fx
  phi = shapley_from_all_values(v)
  return _finish(game, 'exact', x, fx, base, phi, names, player_of, groups,
                 None, 2 ** m, start)


# ----------------------------------------------------------------------------
# KernelSHAP.


def shapley_kernel_mass(m):
  """Total Shapley-kernel weight of each coalition size s = 1..M-1,
  (M-1) / (s (M-s)) (the kernel of one coalition times C(M, s)),
  normalised to sum to 1; index s-1."""
  s = np.arange(1, m)
  mass = (m - 1) / (s * (m - s))
  return mass / mass.sum()


def kernel_design(m, budget, rng, rows=None):
  """The coalitions KernelSHAP values and their regression weights.

  Sizes s and M-s are taken together, from the outside in (s = 1, 2, ...),
  as long as all their subsets fit in the budget and enumerating them
  lowers the variance of what is left to sample; those are enumerated with
  their exact kernel weight. The remaining budget samples coalitions from
  the remaining sizes (size by kernel mass, then uniformly), each with its
  complement (Covert & Lee 2021), all of equal weight.

  Returns (masks [C, M] bool, or [rows, C, M] with a fresh sample per row
  when `rows` is given; weights [C], the same for every row; paired: the
  number of sampled pairs, the last 2 * paired coalitions, pair j at
  -2P + 2j and -2P + 2j + 1; sampled_mass: the kernel mass they stand for).
  """
  mass = shapley_kernel_mass(m)
  fixed, weights, remaining, left = _enumerated_sizes(m, budget)
  n = 1 if rows is None else rows
  paired, sampled_mass = 0, 0.0
  sampled = np.zeros((n, 0, m), bool)
  if left and remaining >= 2:
    sizes = np.array(left)
    p = mass[sizes - 1] / mass[sizes - 1].sum()
    sampled_mass = float(mass[sizes - 1].sum())
    paired = remaining // 2
    s = rng.choice(sizes, size=(n, paired), p=p)
    # A uniform subset of size s: the s smallest of M uniform keys.
    ranks = np.argsort(np.argsort(rng.random((n, paired, m)), axis=2), axis=2)
    z = ranks < s[..., None]
    sampled = np.stack([z, ~z], axis=2).reshape(n, -1, m)
  masks = np.concatenate([np.broadcast_to(fixed, (n,) + fixed.shape), sampled],
                         axis=1)
  weights = np.concatenate([weights, np.full(2 * paired,
                                             sampled_mass / max(2 * paired, 1))])
  return (masks[0] if rows is None else masks), weights, paired, sampled_mass


@functools.lru_cache(maxsize=32)
def _enumerated_sizes(m, budget):
  """The deterministic part of `kernel_design` (the same for every row,
  so built once): (masks, weights, budget left, sizes left to sample)."""
  mass = shapley_kernel_mass(m)
  masks, weights = [np.zeros((0, m), bool)], [np.zeros(0)]
  remaining = budget
  left = set(range(1, m))
  left_mass = 1.0
  for s in range(1, m // 2 + 1):
    sizes = sorted({s, m - s})
    count = sum(math.comb(m, t) for t in sizes)
    if count > remaining:
      break
    # Enumerate only if that lowers the sampled part's variance, which goes
    # as (mass left to sample)^2 / (pairs to sample it with): a size that
    # fits but eats most of the budget leaves too few pairs for the rest
    # (with M = 16 and 1536 coalitions, enumerating sizes 3 and 13 would
    # leave 72 pairs for 38% of the kernel mass instead of 632 for 62%).
    # Sizes 1 and M-1 (every main effect) always pay off when they fit:
    # with a tiny budget, few pairs pin the regression down much worse.
    after = left_mass - sum(mass[t - 1] for t in sizes)
    if s > 1 and after > 1e-12 and (remaining - count < 2 or
                          after ** 2 * remaining > left_mass ** 2 * (remaining - count)):
      break
    left_mass = after
    for t in sizes:
      members = np.array(list(itertools.combinations(range(m), t)))
      z = np.zeros((len(members), m), bool)
      z[np.arange(len(members))[:, None], members] = True
      masks.append(z)
      weights.append(np.full(len(members), mass[t - 1] / math.comb(m, t)))
    remaining -= count
    left -= set(sizes)
  masks, weights = np.concatenate(masks), np.concatenate(weights)
  masks.setflags(write=False)
  weights.setflags(write=False)
  return masks, weights, remaining, tuple(sorted(left))


def _constrained_wls(z, w, y, total):
  """argmin_phi sum_c w_c (y_c - z_c . phi)^2 subject to sum(phi) = total,
  for every row at once.

  z [N, C, M] (or [C, M] shared), w [C], y [N, C, K], total [N, K].
  Returns (phi [N, M, K], Q [N, M, M]) with Q the projected inverse through
  which a change in the normal equations moves phi: dphi = Q (db - dA phi).
  """
  n, m = y.shape[0], z.shape[-1]
  zf = np.broadcast_to(z, (n,) + z.shape[-2:]).astype(np.float64)
  zw = zf * w[None, :, None]
  a = np.einsum('ncm,ncl->nml', zw, zf)
  b = np.einsum('ncm,nck->nmk', zw, y)
  # pinv: a small budget can leave A singular; the constraint still holds.
  a_inv = np.linalg.pinv(a, hermitian=True) if z.shape[-2] else np.zeros((n, m, m))
  a1 = a_inv.sum(2)                                       # A^-1 1
  denom = a1.sum(1)                                       # 1' A^-1 1
  ab = a_inv @ b
  safe = np.where(denom > 0, denom, 1.0)
  phi = ab - a1[:, :, None] * ((ab.sum(1) - total) / safe[:, None])[:, None, :]
  q = a_inv - a1[:, :, None] * a1[:, None, :] / safe[:, None, None]
  # No information at all (no coalitions): share the total equally.
  none = denom <= 0
  phi[none] = (total[none] / m)[:, None, :]
  q[none] = 0.0
  return phi, q


def kernel_shap(f, x, background, *, num_samples=2048, groups=None,
                feature_names=None, background_weights=None, seed=0,
                max_rows=None):
  """KernelSHAP (Lundberg & Lee 2017, Sec. 4.1) with a standard error per
  value.

  Solves the Shapley-kernel weighted least squares problem with
  sum(phi) = f(x) - E[f] as a constraint. `num_samples` coalitions (besides
  the empty and the full one) are valued per row: when that covers all
  2^M - 2, the values are exact (the kernel's theorem); otherwise the sizes
  that fit are enumerated and the rest sampled in complement pairs, a fresh
  sample per row.

  The standard error is the delta method's for the sampled part (Covert &
  Lee 2021, arXiv:2012.01536, Sec. 4): phi moves with the sample means of
  A and b by Q (db - dA phi), so Cov(phi) ~ Q Cov(r) Q / P with r a pair's
  residual term z (y - z.phi) and P the number of pairs; 0 where every
  coalition was enumerated, NaN with a single pair.
  """
  start = time.time()
  x, background, player_of, m, names = _as_inputs(x, background, groups,
                                                  feature_names)
  if num_samples < 0:
    raise ConfigError(f'num_samples={num_samples} must be non-negative')
  game = _Game(f, background, player_of, background_weights, max_rows)
  fx, base = game.endpoints(x)
  n, k = len(x), game.k
  if m == 1:  # One player takes everything.
    return _finish(game, 'kernel', x, fx, base, (fx - base)[:, None], names,
                   player_of, groups, np.zeros((n, 1, k)), 0, start)
  budget = min(num_samples, 2 ** m - 2)
  rng = np.random.default_rng(seed)
  if budget == 2 ** m - 2:
    # Every coalition: one design for all rows, built without itertools.
    masks = _all_coalitions(m)[1:-1]
    size = masks.sum(1)
    w = shapley_kernel_mass(m)[size - 1] / np.array(
        [math.comb(m, t) for t in range(m + 1)])[size]
    paired, sampled_mass = 0, 0.0
  else:
    masks, w, paired, sampled_mass = kernel_design(m, budget, rng, rows=n)
  if not masks.shape[-2]:
    v = np.zeros((n, 0, k))
  else:
    v = game.values(x, masks)
  y = v - base
  phi, q = _constrained_wls(masks, w, y, fx - base)
  stderr = np.zeros((n, m, k))
  if paired:
    stderr = _kernel_stderr(masks[:, -2 * paired:], y[:, -2 * paired:], phi, q,
                            sampled_mass, paired)
  return _finish(game, 'kernel', x, fx, base, phi, names, player_of, groups,
                 stderr, masks.shape[-2], start)


def _kernel_stderr(z, y, phi, q, mass, pairs):
  """Delta-method standard errors [N, M, K] of the sampled part of the
  design: z [N, 2P, M], y [N, 2P, K], phi [N, M, K], q [N, M, M]."""
  if pairs < 2:
    return np.full(phi.shape, np.nan)
  zf = z.astype(np.float64)
  resid = y - np.einsum('ncm,nmk->nck', zf, phi)          # [N, 2P, K]
  terms = zf[..., None] * resid[:, :, None, :]            # [N, 2P, M, K]
  n = terms.shape[0]
  r = terms.reshape(n, pairs, 2, *terms.shape[2:]).mean(2)  # One per pair.
  r = r - r.mean(1, keepdims=True)
  # A's and b's sampled part is mass * the mean over pairs of these terms.
  cov = np.einsum('npik,npjk->nkij', r, r) / (pairs - 1)
  var = np.einsum('nai,nkij,naj->nak', q, cov, q) * mass ** 2 / pairs
  return np.sqrt(np.maximum(var, 0.0))


# ----------------------------------------------------------------------------
# Permutation sampling.


def permutation_shap(f, x, background, *, num_permutations=64, groups=None,
                     feature_names=None, background_weights=None, seed=0,
                     antithetic=True, max_rows=None):
  """Shapley values as the mean marginal contribution over random orderings.

  Each ordering adds players one at a time, from v(empty) = E[f] to
  v(all) = f(x), so every ordering's contributions sum to f(x) - E[f]
  exactly, and each is an unbiased estimate of phi. With `antithetic`, every
  ordering comes with its reverse (negatively correlated contributions;
  Mitchell et al. 2022); the standard error is over the independent pairs.
  M - 1 coalitions per ordering.
  """
  start = time.time()
  x, background, player_of, m, names = _as_inputs(x, background, groups,
                                                  feature_names)
  if num_permutations < (2 if antithetic else 1):
    raise ConfigError(f'num_permutations={num_permutations} is too small; use '
                      f'at least {2 if antithetic else 1}')
  game = _Game(f, background, player_of, background_weights, max_rows)
  fx, base = game.endpoints(x)
  n, k = len(x), game.k
  rng = np.random.default_rng(seed)
  units = num_permutations // 2 if antithetic else num_permutations
  orders = []
  for _ in range(n):
    o = np.argsort(rng.random((units, m)), axis=1)
    if antithetic:
      o = np.stack([o, o[:, ::-1]], axis=1).reshape(-1, m)
    orders.append(o)
  orders = np.stack(orders)                              # [N, P, M]
  p = orders.shape[1]
  # Prefix k of ordering o holds o[:k]; sizes 1..M-1 are valued.
  position = np.argsort(orders, axis=2)                  # Rank of each player.
  sizes = np.arange(1, m)
  masks = position[:, :, None, :] < sizes[None, None, :, None]  # [N, P, M-1, M]
  if m > 1:
    v = game.values(x, masks.reshape(n, -1, m)).reshape(n, p, m - 1, k)
  else:
    v = np.zeros((n, p, 0, k))
  chain = np.concatenate([np.broadcast_to(base, (n, p, 1, k)), v,
                          np.broadcast_to(fx[:, None, None, :], (n, p, 1, k))],
                         axis=2)                         # v of prefixes 0..M.
  gains = np.diff(chain, axis=2)                         # Player o[j] adds gain j.
  # Player i's contribution is the gain at its position in the ordering.
  contrib = np.take_along_axis(
      gains, np.repeat(position[..., None], k, axis=3), axis=2)
  per_unit = contrib.reshape(n, units, -1, m, k).mean(2)
  phi = per_unit.mean(1)
  stderr = (per_unit.std(1, ddof=1) / np.sqrt(units) if units > 1
            else np.full(phi.shape, np.nan))
  return _finish(game, 'permutation', x, fx, base, phi, names, player_of,
                 groups, stderr, p * (m - 1), start)


# ----------------------------------------------------------------------------
# One entry point, as `shap.Explainer`.


METHODS = ('exact', 'kernel', 'permutation')


def explain(f, x, background, method='auto', **kwargs):
  """Shapley values of f at x by `method`: 'exact', 'kernel', 'permutation',
  or 'auto' (exact up to 12 players, else KernelSHAP)."""
  if method == 'auto':
    players = _groups(kwargs.get('groups'), np.asarray(background).shape[1:])[1]
    method = 'exact' if players <= 12 else 'kernel'
  fns = {'exact': exact_shapley, 'kernel': kernel_shap,
         'permutation': permutation_shap}
  if method not in fns:
    raise ConfigError(f'unknown Shapley method {method!r}; use one of '
                      f'{", ".join(METHODS)} or auto')
  return fns[method](f, x, background, **kwargs)


def sample_background(data, size, seed=0):
  """`size` rows of `data` drawn without replacement (all when fewer), the
  usual background for the interventional expectation."""
  data = np.asarray(data)
  if size >= len(data):
    return data
  idx = np.random.default_rng(seed).choice(len(data), size, replace=False)
  return data[np.sort(idx)]


def kmeans_background(data, k, seed=0):
  """k cluster centres of `data` and their weights (cluster sizes), as
  `shap.kmeans` summarises a large background (scikit-learn's KMeans)."""
  from sklearn.cluster import KMeans  # pylint: disable=g-import-not-at-top
  data = np.asarray(data)
  flat = data.reshape(len(data), -1)
  km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(flat)
  weights = np.bincount(km.labels_, minlength=k).astype(np.float64)
  return km.cluster_centers_.reshape(k, *data.shape[1:]).astype(data.dtype), weights


__all__ = (
    'Explanation', 'exact_shapley', 'kernel_shap', 'permutation_shap',
    'explain', 'superpixels', 'sample_background', 'kmeans_background',
    'shapley_from_all_values', 'kernel_design', 'shapley_kernel_mass',
    'MAX_EXACT_PLAYERS', 'METHODS')
