"""Convergence diagnostics on draws shaped [chains, draws] (numpy).

All follow Vehtari, Gelman, Simpson, Carpenter, Buerkner (2021), "Rank-
normalization, folding, and localization: an improved R-hat for assessing
convergence of MCMC", arXiv:1903.08008, and agree with ArviZ (`arviz.ess`,
`arviz.rhat`) on the same draws:

* `ess`: effective sample size of the mean on split chains (Sec. 3.2): FFT
  autocovariances combined over chains, truncated by Geyer's (1992) initial
  positive sequence plus the next even-lag autocorrelation when positive, and
  made monotone; tau is kept above 1 / log10(N). ArviZ's method='mean'
  (split=False: method='identity').
* `split_rhat`: potential scale reduction on split chains (Sec. 3.1; Gelman
  et al., BDA3 Sec. 11.4). ArviZ's method='split'.
* `rhat`: the larger of the split-R-hats of the rank-normalised and of the
  rank-normalised folded split chains (Sec. 4.1). ArviZ's method='rank'.
* `ess_bulk`: `ess` of the rank-normalised split chains (Sec. 4.1).
* `ess_tail`: the smaller `ess` of the 5% and 95% quantile indicators
  (Sec. 4.3), quantiles of R's type 7.

Conventions (those of ArviZ): fewer than 4 draws per chain or any NaN gives
NaN; a constant input has ESS equal to its number of draws; R-hat of chains
that are each constant is NaN if they agree and huge (or inf) if not. Unlike
ArviZ, which returns NaN there, R-hat of a single chain is that of its two
halves (as in Stan and the posterior R package).
"""
import numpy as np
from scipy import special
from scipy import stats

_MIN_DRAWS = 4


def autocovariance(x):
  """Autocovariance of each row of x [..., n] at lags 0..n-1, by FFT.

  Normalised by n (the biased estimator), as in Stan and ArviZ.
  """
  n = x.shape[-1]
  size = 2 ** int(np.ceil(np.log2(2 * n - 1)))
  centred = x - x.mean(-1, keepdims=True)
  f = np.fft.rfft(centred, size)
  acov = np.fft.irfft(f * np.conj(f), size)[..., :n]
  return acov / n


def autocorrelation(x):
  acov = autocovariance(x)
  return acov / acov[..., :1]


def _as_chains(draws):
  """[chains, draws] float64; a 1-d input is one chain."""
  return np.atleast_2d(np.asarray(draws, np.float64))


def _invalid(x):
  return x.shape[1] < _MIN_DRAWS or np.isnan(x).any()


def split_chains(draws):
  """Each chain's first and last floor(n / 2) draws as two chains (an odd
  n drops the middle draw)."""
  x = np.atleast_2d(np.asarray(draws))
  half = x.shape[1] // 2
  return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], 0)


def _geyer_tau(rho):
  """Integrated autocorrelation time from autocorrelations rho[0..n-1].

  Sums of adjacent pairs P_k = rho[2k] + rho[2k+1] are taken while they are
  positive (the initial positive sequence, up to lag n - 3) and made
  non-increasing (the initial monotone sequence). Where the sum stops at
  pair k, rho[2k] is added too (once, not doubled) -- the term that keeps
  antithetic chains from reading too efficient (Vehtari et al. 2021,
  Sec. 3.2; Stan's and ArviZ's estimator).
  """
  n = len(rho)
  last = max(0, -(-(n - 4) // 2))  # The last pair the sequence may reach.
  pairs = rho[0:2 * last + 2:2] + rho[1:2 * last + 2:2]
  nonpositive = np.flatnonzero(pairs[:last] <= 0)
  k = nonpositive[0] if len(nonpositive) else last
  # Where the pair at k is dropped, its even term still counts if positive.
  tail = rho[2 * k] if pairs[k] >= 0 else max(rho[2 * k], 0.0)
  return -1.0 + 2.0 * np.sum(np.minimum.accumulate(pairs[:k])) + tail


def _ess_of_chains(x):
  """ESS of the mean of x [chains, draws], chains used as given."""
  m, n = x.shape
  if np.ptp(x) < np.finfo(np.float64).resolution:
    return float(x.size)  # A constant: every draw counts (ArviZ's choice).
  acov = autocovariance(x)
  w = acov[:, 0].mean() * n / (n - 1.0)  # Mean within-chain variance.
  var_plus = w * (n - 1.0) / n
  if m > 1:
    var_plus += x.mean(1).var(ddof=1)
  rho = 1.0 - (w - acov.mean(0)) / var_plus
  rho[0] = 1.0
  tau = _geyer_tau(rho)
  if np.isnan(tau):
    return np.nan
  tau = max(tau, 1.0 / np.log10(x.size))
  return x.size / tau


def ess(draws, split=True):
  """Effective sample size of the mean of [chains, draws] (Vehtari et al.
  2021, Sec. 3.2), on split chains unless split=False."""
  x = _as_chains(draws)
  if _invalid(x):
    return np.nan
  return _ess_of_chains(split_chains(x) if split else x)


def _rhat_of_chains(x):
  """Potential scale reduction of x [chains, draws], chains used as given."""
  n = x.shape[1]
  w = x.var(1, ddof=1).mean()
  b = n * x.mean(1).var(ddof=1)
  with np.errstate(divide='ignore', invalid='ignore'):
    return float(np.sqrt((b / w + n - 1.0) / n))


def split_rhat(draws):
  """Split-R-hat of [chains, draws] (Vehtari et al. 2021, Sec. 3.1)."""
  x = _as_chains(draws)
  if _invalid(x):
    return np.nan
  return _rhat_of_chains(split_chains(x))


def _rank_normalise(x):
  """Normal scores of the pooled average ranks, Blom's offset 3/8."""
  ranks = stats.rankdata(x, method='average').reshape(x.shape)
  return special.ndtri((ranks - 3.0 / 8.0) / (x.size + 0.25))


def rhat(draws):
  """Rank-normalised split-R-hat (Vehtari et al. 2021, Sec. 4.1): the max of
  the bulk version and of the folded (tail) one, |x - median|, both on the
  split chains."""
  x = _as_chains(draws)
  if _invalid(x):
    return np.nan
  s = split_chains(x)
  bulk = _rhat_of_chains(_rank_normalise(s))
  tail = _rhat_of_chains(_rank_normalise(np.abs(s - np.median(s))))
  return max(bulk, tail)


def ess_bulk(draws):
  """ESS of the rank-normalised split chains (Vehtari et al. 2021, Sec. 4.1)."""
  x = _as_chains(draws)
  if _invalid(x):
    return np.nan
  return _ess_of_chains(_rank_normalise(split_chains(x)))


def _quantile(x, q):
  """Pooled quantile of R's type 7, computed as scipy's `mquantiles` (and so
  ArviZ) does, so that indicators x <= quantile agree on tied draws."""
  v = np.sort(x, axis=None)
  n = v.size
  h = n * q + (1.0 - q)  # One-based position.
  j = int(np.floor(np.clip(h, 1, n - 1)))
  g = float(np.clip(h - j, 0.0, 1.0))
  return (1.0 - g) * v[j - 1] + g * v[j]


def ess_tail(draws, probs=(0.05, 0.95)):
  """Min ESS of the indicators x <= quantile at `probs` (Vehtari et al. 2021,
  Sec. 4.3): quantiles pooled over all draws, indicators on split chains."""
  x = _as_chains(draws)
  if _invalid(x):
    return np.nan
  out = [_ess_of_chains(split_chains((x <= _quantile(x, q)).astype(np.float64)))
         for q in probs]
  return min(out)


def moment_z(draws, mean, var):
  """Errors of the pooled mean and variance of each coordinate in Monte
  Carlo standard errors, (z_mean [d], z_var [d]), for draws [chains, draws,
  d] of a target with known `mean` and `var` [d].

  As ArviZ's mcse: the mean's error from the ESS of x, sqrt(var / ESS(x));
  the variance's from the ESS of the squared deviations s = (x - mean)^2,
  sd(s) / sqrt(ESS(s)) -- not the ESS of x (on antithetic chains ESS(x) can
  exceed the draws while ESS(s) stays below). ArviZ's mcse(method='sd')
  before its delta method.
  """
  x = np.asarray(draws, np.float64)
  mean, var = np.asarray(mean, np.float64), np.asarray(var, np.float64)
  z_mean, z_var = [], []
  for i in range(x.shape[-1]):
    xi = x[..., i]
    s = (xi - xi.mean())**2
    z_mean.append((xi.mean() - mean[i]) / np.sqrt(var[i] / ess(xi)))
    z_var.append((s.mean() - var[i]) / np.sqrt(s.var() / ess(s)))
  return np.array(z_mean), np.array(z_var)


def summary(draws, names=None):
  """Per-parameter rows: mean, sd, 5/50/95% quantiles, ESS bulk/tail, R-hat.

  Args:
    draws: [chains, draws, d].
  """
  x = np.asarray(draws, np.float64)
  d = x.shape[-1]
  names = names or [f'x[{i}]' for i in range(d)]
  rows = []
  for i in range(d):
    xi = x[..., i]
    q5, q50, q95 = np.quantile(xi, [0.05, 0.5, 0.95])
    rows.append({'name': names[i], 'mean': xi.mean(), 'sd': xi.std(ddof=1),
                 'q5': q5, 'q50': q50, 'q95': q95, 'ess_bulk': ess_bulk(xi),
                 'ess_tail': ess_tail(xi), 'rhat': rhat(xi)})
  return rows


def format_summary(rows, max_rows=20):
  head = (f'{"param":>12} {"mean":>9} {"sd":>9} {"5%":>9} {"50%":>9} '
          f'{"95%":>9} {"ess_bulk":>9} {"ess_tail":>9} {"r_hat":>7}')
  lines = [head]
  for r in rows[:max_rows]:
    lines.append(f'{r["name"]:>12} {r["mean"]:9.3f} {r["sd"]:9.3f} '
                 f'{r["q5"]:9.3f} {r["q50"]:9.3f} {r["q95"]:9.3f} '
                 f'{r["ess_bulk"]:9.1f} {r["ess_tail"]:9.1f} {r["rhat"]:7.3f}')
  if len(rows) > max_rows:
    lines.append(f'... {len(rows) - max_rows} more parameters (all in summary.json)')
  return '\n'.join(lines)
