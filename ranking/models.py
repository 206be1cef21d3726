"""Bradley-Terry models: likelihood, MLE and MAP fits, predictions.

The model (Bradley & Terry 1952; Zermelo 1929): player i has strength
pi_i = exp(s_i) and beats j with probability pi_i / (pi_i + pi_j). Options:

* home advantage (Agresti 2002, Sec. 10.6; Hunter 2004, Sec. 3.1): a home
  player's strength is multiplied by theta = exp(home);
* ties by Davidson (1970, JASA 65:317): P(i beats j) = pi_i / D,
  P(tie) = nu sqrt(pi_i pi_j) / D with D = pi_i + pi_j + nu sqrt(pi_i pi_j),
  nu = exp(tie); or ties counted as half a win for each side ('half');
* a Gamma(shape a, rate b) prior on each strength pi_i (Caron & Doucet
  2012, "Efficient Bayesian inference for generalized Bradley-Terry
  models", JCGS 21(1), arXiv:1011.1761), whose MAP the same MM algorithm
  finds: pi_i <- (a - 1 + W_i) / (b + sum_j n_ij / (pi_i + pi_j)). The MAP
  is finite even for a player who never lost or never won (a > 1);
* a Normal(0, scale^2) prior on each log-strength s_i (choix's `alpha` =
  1 / scale^2 in `opt_pairwise`), fitted by Newton's method.

Solvers, all jitted `lax.while_loop`s over arrays of comparison rows (sums
over rows are `segment_sum`s, so one iteration is O(rows)):

* 'mm': Hunter (2004, Ann. Stat. 32(1):384, "MM algorithms for generalized
  Bradley-Terry models"), Eq. (3) for the strengths and, with home
  advantage, his cyclic update of theta (Sec. 3.1); each step increases the
  likelihood (or posterior).
* 'newman': the iteration of Newman (2023, JMLR 24(238), "Efficient
  computation of rankings from pairwise comparisons", arXiv:2207.00076),
  pi_i <- [sum_j w_ij pi_j / (pi_i + pi_j)] / [sum_j w_ji / (pi_i + pi_j)],
  which has the same fixed points as Zermelo's/Hunter's (both are the
  likelihood equations rearranged) and converges in far fewer steps. We
  extend it to home advantage (theta <- [sum_home w_ij pi_j / (theta pi_i +
  pi_j)] / [sum_home w_ji pi_i / (theta pi_i + pi_j)], and theta inside
  the strength update) and to the gamma prior (a - 1 and b added to
  numerator and denominator), both again rearrangements of the stationarity
  equations; tests check they reach the MM and Newton optima.
* 'newton': damped Newton on (s, home, tie), for ties by Davidson and the
  normal prior. Every outcome's log-probability is linear minus a
  log-sum-exp of linear functions of (s, log theta, log nu), so the
  log-likelihood is concave and a backtracking Newton method converges.
  Dense Hessian: for up to a few thousand players.

MLE strengths are reported centred (mean log-strength 0, choix's
convention); BradleyTerry2 instead sets a reference player to 0, which
shifts every log-strength by the same amount. Standard errors come from the
observed information (the pseudo-inverse on the centred subspace for the
MLE, whose scale is not identified).
"""
import dataclasses
import functools
import time
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import ConfigError
from common.errors import DataError
from ranking import data as data_lib

TIES = ('auto', 'none', 'half', 'davidson')
METHODS = ('auto', 'mm', 'newman', 'newton')
PRIORS = ('none', 'gamma', 'normal')


@dataclasses.dataclass(frozen=True)
class Prior:
  """A prior on the strengths.

  kind: 'none' (MLE), 'gamma' (pi_i ~ Gamma(shape, rate), Caron & Doucet
    2012; MAP in pi) or 'normal' (s_i = log pi_i ~ N(0, scale^2); MAP in s).
  The home and tie parameters get flat priors.
  """
  kind: str = 'none'
  shape: float = 2.0
  rate: float = 1.0
  scale: float = 1.0

  def __post_init__(self):
    if self.kind not in PRIORS:
      raise ConfigError(f'unknown prior {self.kind!r}; use one of '
                        f'{list(PRIORS)}')
    if self.kind == 'gamma' and not (self.shape > 1 and self.rate > 0):
      raise ConfigError(f'a gamma prior needs shape > 1 (finite strengths) '
                        f'and rate > 0; got shape={self.shape}, '
                        f'rate={self.rate}')
    if self.kind == 'normal' and not self.scale > 0:
      raise ConfigError(f'a normal prior needs scale > 0; got {self.scale}')

  def log_density(self, s):
    """log p(s) + const over log-strengths s (with the Jacobian for gamma:
    pi ~ Gamma(a, b) gives s density exp(a s - b e^s))."""
    if self.kind == 'gamma':
      return jnp.sum(self.shape * s - self.rate * jnp.exp(s))
    if self.kind == 'normal':
      return -0.5 * jnp.sum(s**2) / self.scale**2
    return jnp.zeros((), s.dtype)

  def map_term(self, s):
    """What the MAP adds to the log-likelihood: the gamma prior's MAP is in
    pi (Caron & Doucet 2012), log p(pi) = (a - 1) s - b e^s; the normal's
    is in s."""
    if self.kind == 'gamma':
      return jnp.sum((self.shape - 1.) * s - self.rate * jnp.exp(s))
    return self.log_density(s)


def as_prior(prior):
  if prior is None:
    return Prior('none')
  if isinstance(prior, str):
    return Prior(prior)
  if isinstance(prior, dict):
    return Prior(**prior)
  return prior


@dataclasses.dataclass(frozen=True, eq=False)
class Fit:
  """A fitted model.

  log_strength: s [n], centred to mean 0 for the MLE (as fitted for a MAP).
  centred: s - mean(s), what tables and plots show.
  se: standard errors of the centred log-strengths [n] (None if not asked).
  home, tie: log theta and log nu (None when not in the model), with se.
  cov: covariance of (centred s, home, tie) from the observed information.
  """
  names: tuple
  log_strength: np.ndarray
  home: Optional[float]
  tie: Optional[float]
  ties: str
  prior: Prior
  method: str
  log_likelihood: float
  objective: float
  iterations: int
  converged: bool
  run_s: float
  se: Optional[np.ndarray] = None
  home_se: Optional[float] = None
  tie_se: Optional[float] = None
  cov: Optional[np.ndarray] = None

  @property
  def centred(self):
    return self.log_strength - self.log_strength.mean()

  @property
  def strength(self):
    return np.exp(self.log_strength)

  def order(self):
    """Player ids from strongest to weakest."""
    return np.argsort(-self.log_strength, kind='stable')


def _float64(fn):
  """Runs `fn` with 64-bit JAX types (the 1e-6 agreement with logistic
  regression needs it), without a global switch."""
  @functools.wraps(fn)
  def wrapped(*args, **kwargs):
    with jax.enable_x64(True):
      return fn(*args, **kwargs)
  return wrapped


def resolve_ties(data, ties):
  """The tie treatment for `data`: 'auto' is 'davidson' when the data have
  ties and 'none' otherwise."""
  if ties not in TIES:
    raise ConfigError(f'unknown ties={ties!r}; use one of {list(TIES)}')
  if ties == 'auto':
    return 'davidson' if data.has_ties else 'none'
  if ties == 'none' and data.has_ties:
    raise DataError(f'the data have {int(np.sum(data.ties))} ties but '
                    "ties='none'; use ties='davidson' or 'half'")
  if ties == 'davidson' and not data.has_ties:
    raise DataError("ties='davidson' but the data have no ties (its tie "
                    "parameter would be -infinity); use ties='none'")
  return ties


def rows(data, ties):
  """Device arrays of the rows: i, j, a (wins of i), b (wins of j), t (ties,
  0 unless Davidson) and h (home), floats in the current default dtype.
  'half' moves each tie into half a win for each side."""
  a, b, t = data.wins_i, data.wins_j, data.ties
  if ties == 'half':
    a, b, t = a + t / 2, b + t / 2, np.zeros_like(t)
  f = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
  return dict(i=jnp.asarray(data.i), j=jnp.asarray(data.j),
              a=jnp.asarray(a, f), b=jnp.asarray(b, f), t=jnp.asarray(t, f),
              h=jnp.asarray(data.home, f))


def log_likelihood(s, home, tie, r):
  """Sum over rows of the log-probabilities of the observed results.

  s [n]; home (log theta) and tie (log nu) scalars, or None when absent;
  r from `rows`. Works on any float dtype and under jit / grad."""
  xi = s[r['i']] + (0. if home is None else home * r['h'])
  xj = s[r['j']]
  if tie is None:
    log_den = jnp.logaddexp(xi, xj)
    return jnp.sum(r['a'] * (xi - log_den) + r['b'] * (xj - log_den))
  xt = tie + 0.5 * (xi + xj)
  log_den = jnp.logaddexp(jnp.logaddexp(xi, xj), xt)
  return jnp.sum(r['a'] * (xi - log_den) + r['b'] * (xj - log_den) +
                 r['t'] * (xt - log_den))


def _seg(x, ids, n):
  return jax.ops.segment_sum(x, ids, num_segments=n)


def _rescale(s, shape_m1, rate):
  """The best common scale for the strengths. The likelihood depends on
  ratios only, so for the MLE any scale will do and we centre s. Under the
  gamma prior the scale c maximising sum_i (a - 1) log(c pi_i) - b c pi_i
  is c = n (a - 1) / (b sum_i pi_i): an exact coordinate-ascent step, so
  the objective still increases at every step, and without it the weakly
  pinned overall scale converged thousands of times more slowly (2,700
  Newman steps instead of 15 on baseball under Gamma(1.1, 0.1))."""
  if rate == 0:
    return s - jnp.mean(s)
  n = s.shape[0]
  return s + jnp.log(n * shape_m1 / rate) - jax.nn.logsumexp(s)


def mm_step(s, home, r, n, shape_m1=0., rate=0.):
  """One MM update (Hunter 2004, Eq. (3); with home advantage his cyclic
  Sec. 3.1 update: strengths at fixed theta, then theta at the new
  strengths). `shape_m1`, `rate` are a - 1 and b of a gamma prior (0, 0:
  the MLE). Returns (s, home); s is then rescaled (`_rescale`: centred for
  the MLE, which leaves the likelihood unchanged)."""
  pi = jnp.exp(s)
  g = jnp.exp(home * r['h']) if home is not None else 1.
  wins = _seg(r['a'], r['i'], n) + _seg(r['b'], r['j'], n)
  d = (r['a'] + r['b']) / (g * pi[r['i']] + pi[r['j']])
  denom = _seg(g * d, r['i'], n) + _seg(d, r['j'], n)
  s_new = _rescale(jnp.log(shape_m1 + wins) - jnp.log(rate + denom),
                   shape_m1, rate)
  if home is None:
    return s_new, None
  pi = jnp.exp(s_new)
  theta = jnp.exp(home)
  home_wins = jnp.sum(r['h'] * r['a'])
  den = jnp.sum(r['h'] * (r['a'] + r['b']) * pi[r['i']] /
                (theta * pi[r['i']] + pi[r['j']]))
  return s_new, jnp.log(home_wins) - jnp.log(den)


def newman_step(s, home, r, n, shape_m1=0., rate=0.):
  """One step of Newman's (2023) iteration, extended to home advantage and
  the gamma prior (module docstring). Same signature as `mm_step`."""
  pi = jnp.exp(s)
  g = jnp.exp(home * r['h']) if home is not None else 1.
  pi_i, pi_j = pi[r['i']], pi[r['j']]
  inv = 1. / (g * pi_i + pi_j)
  # For i as first player: wins a over j, losses b; as second: wins b.
  num = (_seg(r['a'] * pi_j * inv, r['i'], n) +
         _seg(r['b'] * g * pi_i * inv, r['j'], n))
  den = _seg(r['b'] * g * inv, r['i'], n) + _seg(r['a'] * inv, r['j'], n)
  s_new = _rescale(jnp.log(shape_m1 + num) - jnp.log(rate + den), shape_m1,
                   rate)
  if home is None:
    return s_new, None
  pi = jnp.exp(s_new)
  pi_i, pi_j = pi[r['i']], pi[r['j']]
  inv = r['h'] / (jnp.exp(home) * pi_i + pi_j)
  return s_new, (jnp.log(jnp.sum(r['a'] * pi_j * inv)) -
                 jnp.log(jnp.sum(r['b'] * pi_i * inv)))


@functools.partial(jax.jit, static_argnames=('n', 'method', 'with_home',
                                             'shape_m1', 'rate', 'max_iter'))
def iterate(r, s0, home0, *, n, method, with_home, shape_m1, rate, tol,
            max_iter):
  """MM or Newman steps from (s0, home0) until the largest change of any
  log-parameter is below tol (or max_iter). Returns (s, home, steps)."""
  step = mm_step if method == 'mm' else newman_step

  def cond(c):
    return (c[3] >= tol) & (c[2] < max_iter)

  def body(c):
    s, home, k, _ = c
    s_new, home_new = step(s, home if with_home else None, r, n, shape_m1,
                           rate)
    change = jnp.max(jnp.abs(s_new - s))
    if with_home:
      change = jnp.maximum(change, jnp.abs(home_new - home))
    else:
      home_new = home
    return s_new, home_new, k + 1, change

  inf = jnp.asarray(jnp.inf, s0.dtype)
  s, home, k, _ = jax.lax.while_loop(cond, body, (s0, home0, 0, inf))
  return s, home, k


def _objective(z, r, n, with_home, davidson, prior, gauge):
  s = z[:n]
  home = z[n] if with_home else None
  tie = z[n + with_home] if davidson else None
  out = log_likelihood(s, home, tie, r) + prior.map_term(s)
  if gauge:
    # The likelihood is flat along s + c; this pins mean(s) = 0 without
    # moving the optimum, so the Hessian is invertible.
    out = out - 0.5 * jnp.sum(s)**2 / n
  return out


@functools.partial(jax.jit, static_argnames=('n', 'with_home', 'davidson',
                                             'prior', 'max_iter'))
def newton(r, z0, *, n, with_home, davidson, prior, tol, max_iter):
  """Damped Newton ascent of the (concave) log-likelihood plus prior over
  z = (s, [home], [tie]), with backtracking (Armijo) line search; stops
  when the largest step is below tol. Returns (z, steps)."""
  gauge = prior.kind == 'none'
  f = lambda z: _objective(z, r, n, with_home, davidson, prior, gauge)
  grad, hess = jax.grad(f), jax.hessian(f)

  def cond(c):
    return (c[2] >= tol) & (c[1] < max_iter)

  def body(c):
    z, k, _ = c
    g, h = grad(z), hess(z)
    d = jnp.linalg.solve(-h, g)
    f0, slope = f(z), jnp.dot(g, d)

    def shrink(t):
      return t * 0.5

    def too_long(t):
      return (f(z + t * d) < f0 + 1e-4 * t * slope) & (t > 1e-10)

    t = jax.lax.while_loop(too_long, shrink, jnp.ones((), z.dtype))
    step = t * d
    return z + step, k + 1, jnp.max(jnp.abs(step))

  z, k, _ = jax.lax.while_loop(cond, body,
                               (z0, 0, jnp.asarray(jnp.inf, z0.dtype)))
  return z, k


def _check_counts(data, home, ties):
  if home:
    if not data.has_home:
      raise DataError('home=True but no row has a home player (home = 1); '
                      'fit without home advantage')
    won = float(np.sum(data.home * data.wins_i))
    lost = float(np.sum(data.home * data.wins_j))
    if won == 0 or lost == 0:
      raise DataError(f'home players won {won:g} and lost {lost:g} games: '
                      'the home advantage is not finite; fit without it')
  if ties == 'davidson' and not np.any(data.wins_i + data.wins_j > 0):
    raise DataError('every result is a tie: the tie parameter is infinite; '
                    "use ties='half'")


@_float64
def fit(data, home=False, ties='auto', prior=None, method='auto', tol=1e-10,
        max_iter=100_000, errors=True):
  """Fits a Bradley-Terry model to `data` (a `ranking.Comparisons`).

  Args:
    home: estimate a home advantage (rows with home = 1).
    ties: 'auto' (Davidson if the data have ties), 'none', 'half' (a tie is
      half a win for each side) or 'davidson'.
    prior: None / 'none' (MLE), 'gamma', 'normal', or a `Prior`.
    method: 'mm', 'newman', 'newton', or 'auto' (Newman where it applies,
      i.e. no Davidson ties and no normal prior; Newton otherwise).
    tol: stop when no log-parameter moves by more than tol in a step.
    errors: compute standard errors from the observed information.

  Returns:
    A `Fit`.

  Raises:
    DataError: the MLE does not exist (the comparison graph is not strongly
      connected; the message names the fix, a prior), or ties / home
      results that make a parameter infinite.
    ConfigError: an unknown option or a method that cannot fit the model.
  """
  prior = as_prior(prior)
  ties = resolve_ties(data, ties)
  if method not in METHODS:
    raise ConfigError(f'unknown method {method!r}; use one of {list(METHODS)}')
  davidson = ties == 'davidson'
  iterative_ok = not davidson and prior.kind != 'normal'
  if method == 'auto':
    method = 'newman' if iterative_ok else 'newton'
  if method in ('mm', 'newman') and not iterative_ok:
    raise ConfigError(f"method={method!r} fits neither Davidson ties nor a "
                      "normal prior; use method='newton' (or ties='half', "
                      "prior='gamma')")
  dim = data.num_players + bool(home) + davidson
  if method == 'newton' and dim > 5000:
    raise ConfigError(f"method='newton' builds a dense {dim} x {dim} Hessian; "
                      "for this many players use method='newman' (ties='half',"
                      " prior='gamma' or none)")
  _check_counts(data, home, ties)
  if prior.kind == 'none':
    data_lib.check_mle_exists(data, ties_connect=ties != 'none')
  r = rows(data, ties)
  n = data.num_players
  start = time.time()
  if method in ('mm', 'newman'):
    shape_m1, rate = ((prior.shape - 1., prior.rate) if prior.kind == 'gamma'
                      else (0., 0.))
    s, h, k = iterate(r, jnp.zeros(n), jnp.zeros(()), n=n, method=method,
                      with_home=bool(home), shape_m1=float(shape_m1),
                      rate=float(rate), tol=tol, max_iter=max_iter)
    z = jnp.concatenate([s, h[None]]) if home else s
  else:
    z0 = jnp.zeros(n + bool(home) + davidson)
    z, k = newton(r, z0, n=n, with_home=bool(home), davidson=davidson,
                  prior=prior, tol=tol, max_iter=min(max_iter, 500))
  z = np.asarray(jax.block_until_ready(z))
  run_s = time.time() - start
  k = int(k)
  limit = max_iter if method != 'newton' else min(max_iter, 500)
  s = z[:n]
  home_v = float(z[n]) if home else None
  tie_v = float(z[n + bool(home)]) if davidson else None
  ll = float(log_likelihood(jnp.asarray(s), home_v, tie_v, r))
  obj = ll + float(prior.map_term(jnp.asarray(s)))
  out = Fit(data.names, s, home_v, tie_v, ties, prior, method, ll, obj, k,
            k < limit and bool(np.all(np.isfinite(z))), run_s)
  if errors:
    out = _with_errors(out, r, n, bool(home), davidson, prior, z)
  return out


@functools.partial(jax.jit, static_argnames=('n', 'with_home', 'davidson',
                                             'prior'))
def _hessian(z, r, *, n, with_home, davidson, prior):
  return jax.hessian(_objective)(z, r, n, with_home, davidson, prior, False)


def _with_errors(out, r, n, with_home, davidson, prior, z):
  info = -np.asarray(_hessian(jnp.asarray(z), r, n=n, with_home=with_home,
                              davidson=davidson, prior=prior))
  cov = np.linalg.pinv(info, hermitian=True)
  centre = np.eye(len(z))
  centre[:n, :n] -= 1. / n
  cov = centre @ cov @ centre.T
  se = np.sqrt(np.clip(np.diag(cov), 0, None))
  return dataclasses.replace(
      out, se=se[:n], cov=cov,
      home_se=float(se[n]) if with_home else None,
      tie_se=float(se[n + with_home]) if davidson else None)


@_float64
def log_likelihood_of(fit_or_s, data, home=None, tie=None, ties='none'):
  """The log-likelihood of `data` at a `Fit` (its own parameters) or at
  log-strengths s with the given home and tie parameters."""
  if isinstance(fit_or_s, Fit):
    f = fit_or_s
    s, home, tie, ties = f.log_strength, f.home, f.tie, f.ties
  else:
    s = fit_or_s
  return float(log_likelihood(jnp.asarray(s, jnp.float64), home, tie,
                              rows(data, ties)))


def predict_proba(fit_, i, j, home=0.):
  """P(i wins), P(tie), P(j wins) for players i, j (ids or names, arrays or
  scalars) under a `Fit`; home = 1 where i plays at home. Ties have
  probability 0 unless the fit models them (Davidson)."""
  def ids(x):
    x = np.asarray(x)
    if x.dtype.kind in 'USO':
      ids_ = [_index(fit_.names, str(v)) for v in np.ravel(x)]
      return np.array(ids_).reshape(x.shape)
    if np.any((x < 0) | (x >= len(fit_.names))):
      raise DataError(f'player id out of range [0, {len(fit_.names)}): '
                      'a player never seen in the fitted data')
    return x
  i, j = ids(i), ids(j)
  s = fit_.log_strength
  xi = s[i] + (fit_.home or 0.) * np.asarray(home, np.float64)
  xj = s[j]
  xt = (fit_.tie + 0.5 * (xi + xj)) if fit_.tie is not None else -np.inf
  m = np.maximum(np.maximum(xi, xj), xt)
  ei, ej, et = np.exp(xi - m), np.exp(xj - m), np.exp(xt - m)
  den = ei + ej + et
  return ei / den, et / den, ej / den


def _index(names, name):
  try:
    return names.index(name)
  except ValueError:
    raise DataError(f'player {name!r} was never seen in the fitted '
                    'data') from None


def log_loss(fit_, data):
  """Mean negative log-probability per game of `data`'s results under
  `fit_` (players by id; ties scored as ties, so a fit without a tie model
  gets -log 0 = inf for a tie: use ties='davidson' to score them)."""
  pi_, pt, pj = predict_proba(fit_, data.i, data.j, data.home)
  with np.errstate(divide='ignore'):
    total = -(data.wins_i * np.log(pi_) + data.wins_j * np.log(pj) +
              np.where(data.ties > 0, data.ties * np.log(pt), 0.))
  return float(np.sum(total) / data.num_games)
