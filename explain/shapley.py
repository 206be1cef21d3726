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

Three estimators share one vectorised value function (explain/game.py: every coalition and
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
import functools
import itertools
import math
import time

import numpy as np

from common.errors import ConfigError

from explain.game import as_inputs
from explain.game import Explanation
from explain.game import finish
from explain.game import Game
from explain.game import MAX_EXACT_PLAYERS
from explain.game import player_groups
from explain.game import superpixels


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
  x, background, player_of, m, names = as_inputs(x, background, groups,
                                                  feature_names)
  if m > max_players:
    raise ConfigError(
        f'exact Shapley values enumerate 2^M coalitions and M={m} players is '
        f'more than {max_players}; use kernel_shap or permutation_shap, or '
        'fewer players (groups=...)')
  game = Game(f, background, player_of, background_weights, max_rows)
  v = game.values(x, _all_coalitions(m))
  fx, base = game.endpoints(x)
  # The enumeration's own end points are f(x) and E[f] to float precision;
  # the float64 ones make efficiency hold to float64 rounding of the sums.
  v[:, 0], v[:, -1] = base, fx
  phi = shapley_from_all_values(v)
  return finish(game, 'exact', x, fx, base, phi, names, player_of, groups,
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
  x, background, player_of, m, names = as_inputs(x, background, groups,
                                                  feature_names)
  if num_samples < 0:
    raise ConfigError(f'num_samples={num_samples} must be non-negative')
  game = Game(f, background, player_of, background_weights, max_rows)
  fx, base = game.endpoints(x)
  n, k = len(x), game.k
  if m == 1:  # One player takes everything.
    return finish(game, 'kernel', x, fx, base, (fx - base)[:, None], names,
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
  return finish(game, 'kernel', x, fx, base, phi, names, player_of, groups,
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
  x, background, player_of, m, names = as_inputs(x, background, groups,
                                                  feature_names)
  if num_permutations < (2 if antithetic else 1):
    raise ConfigError(f'num_permutations={num_permutations} is too small; use '
                      f'at least {2 if antithetic else 1}')
  game = Game(f, background, player_of, background_weights, max_rows)
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
  return finish(game, 'permutation', x, fx, base, phi, names, player_of,
                 groups, stderr, p * (m - 1), start)


# ----------------------------------------------------------------------------
# One entry point, as `shap.Explainer`.


METHODS = ('exact', 'kernel', 'permutation')


def explain(f, x, background, method='auto', **kwargs):
  """Shapley values of f at x by `method`: 'exact', 'kernel', 'permutation',
  or 'auto' (exact up to 12 players, else KernelSHAP)."""
  if method == 'auto':
    players = player_groups(kwargs.get('groups'), np.asarray(background).shape[1:])[1]
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
