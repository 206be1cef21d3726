"""Pairwise comparisons in one representation, and loaders for the three
BradleyTerry2 data sets (baseball, Premier League football, NCAA ice hockey).

A `Comparisons` holds rows of aggregated results between a first player i
and a second player j: how often i won, how often j won, how many ties, and
whether i played at home (Agresti 2002's home-advantage layout: the home
player is always first; a neutral venue has home = 0). Counts are floats so
that weighted or half-counted results fit in the same arrays.

The MLE exists exactly when the directed "who beat whom" graph is strongly
connected (Ford 1957; Hunter 2004, Ann. Stat. 32(1), Assumption 1): every
partition of the players has someone on each side who beat someone on the
other. `check_mle_exists` tests this and names the fix (a prior).
"""
import csv
import dataclasses
import os
from typing import Optional, Sequence

import numpy as np
from scipy.sparse import csgraph
from scipy.sparse import coo_matrix

from common.errors import DataError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASEBALL = os.path.join(ROOT, 'ranking', 'baseball.csv')
DATASETS = ('baseball', 'football', 'icehockey')


def default_path(name):
  """Where data set `name` is read from by default: the embedded copy of
  baseball, ../shared/data/pairwise/<name>.csv beside the repository for the
  others."""
  if name == 'baseball':
    return BASEBALL
  return os.path.join(ROOT, '..', 'shared', 'data', 'pairwise', f'{name}.csv')


@dataclasses.dataclass(frozen=True, eq=False)
class Comparisons:
  """Aggregated pairwise results; every array has one entry per row.

  Attributes:
    names: player names, indexed by the ids in i and j.
    i, j: int32 ids of the first and second player (i != j).
    wins_i, wins_j, ties: float64 counts (wins of i over j, of j over i,
      ties between them).
    home: float64, 1 where i played at home, 0 at a neutral venue.
    extra: any per-row columns a loader keeps (e.g. 'season'), numpy arrays.
  """
  names: tuple
  i: np.ndarray
  j: np.ndarray
  wins_i: np.ndarray
  wins_j: np.ndarray
  ties: np.ndarray
  home: np.ndarray
  extra: dict = dataclasses.field(default_factory=dict)

  @property
  def num_players(self):
    return len(self.names)

  @property
  def num_rows(self):
    return len(self.i)

  @property
  def num_games(self):
    return float(np.sum(self.wins_i + self.wins_j + self.ties))

  @property
  def has_ties(self):
    return bool(np.any(self.ties > 0))

  @property
  def has_home(self):
    return bool(np.any(self.home > 0))

  def index(self, name):
    """The id of player `name`, or a DataError listing the known ones."""
    try:
      return self.names.index(name)
    except ValueError:
      raise DataError(f'player {name!r} never appears in these comparisons; '
                      f'known players: {list(self.names)}') from None

  def select(self, mask):
    """The rows where `mask` is true (players kept, ids unchanged)."""
    mask = np.asarray(mask, bool)
    return dataclasses.replace(
        self, i=self.i[mask], j=self.j[mask], wins_i=self.wins_i[mask],
        wins_j=self.wins_j[mask], ties=self.ties[mask], home=self.home[mask],
        extra={k: v[mask] for k, v in self.extra.items()})

  def totals(self):
    """Per player: (wins, losses, ties) as float64 arrays [num_players]."""
    n = self.num_players
    wins = (np.bincount(self.i, self.wins_i, n) +
            np.bincount(self.j, self.wins_j, n))
    losses = (np.bincount(self.i, self.wins_j, n) +
              np.bincount(self.j, self.wins_i, n))
    ties = np.bincount(self.i, self.ties, n) + np.bincount(self.j, self.ties, n)
    return wins, losses, ties


def comparisons(i, j, wins_i, wins_j=0., ties=0., home=0., *, names=None,
                num_players=None, extra=None):
  """Validated `Comparisons` from per-row arrays (scalars broadcast).

  `i`, `j` are integer ids in [0, num_players) or player names; with names,
  `names` (if given) fixes the order and every name must be in it, otherwise
  players are numbered in order of first appearance. Raises DataError for an
  empty set, an id or name never declared, a player compared with itself, or
  negative / non-finite counts.
  """
  i, j = np.asarray(i), np.asarray(j)
  if i.ndim != 1 or i.shape != j.shape:
    raise DataError(f'i and j must be 1-D arrays of the same length; got '
                    f'shapes {i.shape} and {j.shape}')
  if i.size == 0:
    raise DataError('the comparison set is empty: give at least one result')
  if i.dtype.kind in 'USO' or j.dtype.kind in 'USO':
    i, j, names = _ids_from_names(i, j, names)
  else:
    if i.dtype.kind not in 'iu' or j.dtype.kind not in 'iu':
      raise DataError(f'player ids must be integers or names; got dtypes '
                      f'{i.dtype} and {j.dtype}')
    if names is not None:
      num_players = len(names)
    elif num_players is None:
      num_players = int(max(i.max(), j.max())) + 1
    bad = np.flatnonzero((i < 0) | (i >= num_players) | (j < 0) |
                         (j >= num_players))
    if bad.size:
      r = bad[0]
      k = int(i[r]) if not 0 <= i[r] < num_players else int(j[r])
      raise DataError(f'row {r}: player id {k} was never seen; ids must be '
                      f'in [0, {num_players}) (pass names= or num_players= '
                      'to declare every player)')
    names = names if names is not None else [str(k) for k in range(num_players)]
  names = tuple(str(n) for n in names)
  if len(set(names)) != len(names):
    raise DataError('player names must be unique')
  arrays = {}
  for key, value in (('wins_i', wins_i), ('wins_j', wins_j), ('ties', ties),
                     ('home', home)):
    try:
      a = np.broadcast_to(np.asarray(value, np.float64), i.shape).copy()
    except ValueError:
      raise DataError(f'{key} must be a number or {i.size} numbers; got shape '
                      f'{np.shape(value)}') from None
    bad = np.flatnonzero(~(np.isfinite(a) & (a >= 0)))
    if bad.size:
      raise DataError(f'{key} must be finite and non-negative (row '
                      f'{int(bad[0])})')
    arrays[key] = a
  if np.any((arrays['home'] != 0) & (arrays['home'] != 1)):
    raise DataError('home must be 0 (neutral) or 1 (the first player at home)')
  same = np.flatnonzero(i == j)
  if same.size:
    raise DataError(f'row {same[0]}: player {names[i[same[0]]]!r} is compared '
                    'with itself')
  if not np.any(arrays['wins_i'] + arrays['wins_j'] + arrays['ties'] > 0):
    raise DataError('the comparison set is empty: every count is zero')
  return Comparisons(names, i.astype(np.int32), j.astype(np.int32),
                     arrays['wins_i'], arrays['wins_j'], arrays['ties'],
                     arrays['home'], dict(extra or {}))


def _ids_from_names(i, j, names):
  if names is None:
    order = {}
    for a, b in zip(i.tolist(), j.tolist()):
      order.setdefault(a, len(order))
      order.setdefault(b, len(order))
    names = list(order)
  lookup = {n: k for k, n in enumerate(names)}
  for side in (i, j):
    for n in side.tolist():
      if n not in lookup:
        raise DataError(f'player {n!r} was never seen: it is not in names '
                        f'({len(names)} players)')
  return (np.array([lookup[n] for n in i.tolist()]),
          np.array([lookup[n] for n in j.tolist()]), names)


def from_pairs(winners, losers, *, names=None, num_players=None):
  """One row per game from winner and loser ids or names (choix's
  `[(winner, loser), ...]` layout as two arrays), neutral venue, no ties."""
  return comparisons(winners, losers, 1., 0., names=names,
                     num_players=num_players)


def aggregate(data):
  """The same results with one row per (i, j, home) (counts summed; `extra`
  columns are dropped). Fits are unchanged; iterations get cheaper."""
  key = np.stack([data.i, data.j, data.home.astype(np.int32)], 1)
  uniq, inverse = np.unique(key, axis=0, return_inverse=True)
  inverse = inverse.ravel()
  total = lambda x: np.bincount(inverse, x, len(uniq))
  return Comparisons(data.names, uniq[:, 0].astype(np.int32),
                     uniq[:, 1].astype(np.int32), total(data.wins_i),
                     total(data.wins_j), total(data.ties),
                     uniq[:, 2].astype(np.float64))


def components(data, ties_connect=True):
  """Strongly connected components of the "beat" graph: an edge a -> b when
  b beat a at least once (ties count both ways when ties_connect), so a
  component with no edge into it from outside is a group that never lost to
  the rest. Returns (number of components, label per player)."""
  n = data.num_players
  rows, cols = [], []
  for src, dst, count in ((data.j, data.i, data.wins_i),
                          (data.i, data.j, data.wins_j)):
    keep = count > 0
    rows.append(src[keep])
    cols.append(dst[keep])
  if ties_connect:
    keep = data.ties > 0
    rows += [data.i[keep], data.j[keep]]
    cols += [data.j[keep], data.i[keep]]
  rows, cols = np.concatenate(rows), np.concatenate(cols)
  graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
  return csgraph.connected_components(graph, directed=True, connection='strong')


def mle_problem(data, ties_connect=True):
  """None when the Bradley-Terry MLE exists, else a one-line reason that
  names the fix. The MLE exists iff the beat graph is strongly connected
  (Hunter 2004, Assumption 1); otherwise some group of players never lost
  to the others and its strengths run off to infinity."""
  count, labels = components(data, ties_connect)
  if count == 1:
    return None
  wins, losses, ties = data.totals()
  never_lost = [data.names[k] for k in np.flatnonzero(
      (losses == 0) & (ties == 0) & (wins > 0))]
  never_won = [data.names[k] for k in np.flatnonzero(
      (wins == 0) & (ties == 0) & (losses > 0))]
  unplayed = [data.names[k] for k in np.flatnonzero(wins + losses + ties == 0)]
  detail = []
  if never_lost:
    detail.append(f'never lost: {_few(never_lost)}')
  if never_won:
    detail.append(f'never won: {_few(never_won)}')
  if unplayed:
    detail.append(f'never played: {_few(unplayed)}')
  if not detail:
    detail.append('some group of players never lost to the rest')
  return (f'the maximum-likelihood estimate does not exist: the comparison '
          f'graph is not strongly connected ({count} groups; '
          f'{"; ".join(detail)}); use a prior (prior=\'gamma\' or \'normal\') '
          'for finite strengths')


def check_mle_exists(data, ties_connect=True):
  """Raises DataError with `mle_problem`'s line when the MLE does not
  exist."""
  problem = mle_problem(data, ties_connect)
  if problem:
    raise DataError(problem)


def _few(names, k=4):
  shown = ', '.join(repr(n) for n in names[:k])
  return shown + (f' and {len(names) - k} more' if len(names) > k else '')


def _read_csv(path, name, columns):
  if not os.path.exists(path):
    raise DataError(f'{name} data not found at {path}; set data.path to the '
                    f'{name}.csv from BradleyTerry2 (../shared/data/pairwise/ '
                    'beside the repository by default)')
  with open(path, newline='') as f:
    # A leading '#' line is provenance, not a header.
    lines = [line for line in f if not line.startswith('#')]
  rows = list(csv.DictReader(lines))
  if not rows:
    raise DataError(f'{path} holds no rows: the comparison set is empty')
  missing = [c for c in columns if c not in rows[0]]
  if missing:
    raise DataError(f'{path} lacks column(s) {missing}; a {name} table has '
                    f'{list(columns)}')
  return rows


def _number(rows, key, path, kind=float):
  try:
    return np.array([kind(r[key]) for r in rows])
  except ValueError as e:
    raise DataError(f'{path}: column {key!r} is not numeric ({e})') from None


def load_baseball(path: Optional[str] = None):
  """1987 American League East (Agresti 2002, p. 438): one row per home/away
  pairing with both teams' wins. i is the home team (home = 1)."""
  path = path or BASEBALL
  cols = ('home.team', 'away.team', 'home.wins', 'away.wins')
  rows = _read_csv(path, 'baseball', cols)
  return comparisons(np.array([r['home.team'] for r in rows]),
                     np.array([r['away.team'] for r in rows]),
                     _number(rows, 'home.wins', path),
                     _number(rows, 'away.wins', path), 0., 1.)


def load_football(path: Optional[str] = None,
                  seasons: Optional[Sequence[str]] = None):
  """English Premier League 2008-9 to 2012-13, one row per game: i is the
  home team, result 1 / 0 / -1 is a home win / draw (a tie) / away win.
  `seasons` keeps those seasons (e.g. ['2008-9']); every team of the file
  keeps its id, so fits on some seasons score games of others."""
  path = path or default_path('football')
  rows = _read_csv(path, 'football', ('season', 'home', 'away', 'result'))
  result = _number(rows, 'result', path)
  if not np.all(np.isin(result, (-1., 0., 1.))):
    raise DataError(f'{path}: result must be 1 (home win), 0 (draw) or -1 '
                    '(away win)')
  season = np.array([r['season'] for r in rows])
  teams = sorted({r['home'] for r in rows} | {r['away'] for r in rows})
  data = comparisons(np.array([r['home'] for r in rows]),
                     np.array([r['away'] for r in rows]),
                     (result == 1) * 1., (result == -1) * 1.,
                     (result == 0) * 1., 1., names=teams,
                     extra={'season': season})
  if seasons:
    unknown = sorted(set(seasons) - set(season.tolist()))
    if unknown:
      raise DataError(f'unknown season(s) {unknown}; {path} has '
                      f'{sorted(set(season.tolist()))}')
    data = data.select(np.isin(season, list(seasons)))
  return data


def load_icehockey(path: Optional[str] = None):
  """NCAA men's ice hockey 2009-10 (BradleyTerry2's `icehockey`): result is
  the visitor's (1 win, 0.5 tie, 0 loss); home.ice says the game was on the
  opponent's home ice. i is the opponent (home = 1 on its ice, 0 neutral),
  j the visitor."""
  path = path or default_path('icehockey')
  cols = ('visitor', 'opponent', 'result', 'home.ice')
  rows = _read_csv(path, 'icehockey', cols)
  result = _number(rows, 'result', path)
  if not np.all(np.isin(result, (0., 0.5, 1.))):
    raise DataError(f'{path}: result must be 1, 0.5 or 0 (the visitor\'s)')
  flags = {'true': 1., 'false': 0.}
  try:
    home = np.array([flags[r['home.ice'].strip().lower()] for r in rows])
  except KeyError as e:
    raise DataError(f'{path}: home.ice must be True or False, got '
                    f'{e}') from None
  extra = {'date': np.array([r.get('date', '') for r in rows])}
  return comparisons(np.array([r['opponent'] for r in rows]),
                     np.array([r['visitor'] for r in rows]),
                     (result == 0) * 1., (result == 1) * 1.,
                     (result == 0.5) * 1., home, extra=extra)


LOADERS = {'baseball': load_baseball, 'football': load_football,
           'icehockey': load_icehockey}


def load(name, path=None, **kwargs):
  """Data set `name` (baseball, football or icehockey) from `path` (default:
  `default_path(name)`)."""
  if name not in LOADERS:
    raise DataError(f'unknown data set {name!r}; use one of {list(DATASETS)}')
  return LOADERS[name](path or None, **kwargs)


def generate(key_or_seed, num_players, num_games, scale=1.0, home=0.,
             tie=0.):
  """Synthetic games: log-strengths ~ N(0, scale^2), uniformly random pairs,
  outcomes drawn from the model (log home advantage `home`, Davidson tie
  parameter nu = `tie`). Returns (Comparisons one row per game, true
  log-strengths centred). numpy, seeded, so benches are reproducible."""
  rng = np.random.default_rng(key_or_seed)
  s = rng.normal(0., scale, num_players)
  s -= s.mean()
  i = rng.integers(0, num_players, num_games)
  j = (i + rng.integers(1, num_players, num_games)) % num_players
  h = np.full(num_games, 1. if home else 0.)
  xi, xj = np.exp(s[i] + h * home), np.exp(s[j])
  xt = tie * np.sqrt(xi * xj)
  u = rng.random(num_games) * (xi + xj + xt)
  wi, tt = u < xi, (u >= xi) & (u < xi + xt)
  wj = ~(wi | tt)
  return comparisons(i, j, wi * 1., wj * 1., tt * 1., h,
                     num_players=num_players), s


def compact(data):
  """The same rows with only the players who played (ids renumbered in the
  old order): a season or a subset of games leaves others unplayed, and an
  unplayed player makes the MLE undefined."""
  wins, losses, ties = data.totals()
  keep = np.flatnonzero(wins + losses + ties > 0)
  if len(keep) == data.num_players:
    return data
  new_id = np.full(data.num_players, -1, np.int32)
  new_id[keep] = np.arange(len(keep), dtype=np.int32)
  return dataclasses.replace(data, names=tuple(data.names[k] for k in keep),
                             i=new_id[data.i], j=new_id[data.j])


def reindex(data, names):
  """`data`'s rows with players renumbered as in `names` (e.g. a fit's),
  keeping only rows whose two players are both in `names`. Returns (rows,
  number of rows dropped): a fitted model cannot score a player it never
  saw."""
  lookup = {n: k for k, n in enumerate(names)}
  old = np.array([lookup.get(n, -1) for n in data.names], np.int32)
  i, j = old[data.i], old[data.j]
  keep = (i >= 0) & (j >= 0)
  kept = data.select(keep)
  return dataclasses.replace(kept, names=tuple(names), i=i[keep],
                             j=j[keep]), int(np.sum(~keep))
