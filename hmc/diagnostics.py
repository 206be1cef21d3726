"""Convergence diagnostics on draws shaped [chains, draws, ...] (numpy).

* `ess`: effective sample size from FFT autocovariances combined over
  chains, truncated by Geyer's initial monotone sequence (Geyer 1992; the
  estimator of Stan and of Vehtari et al. 2021, arXiv:1903.08008, Sec. 3.2).
* `split_rhat`: potential scale reduction on split chains (Gelman et al.,
  BDA3 Sec. 11.4).
* `rhat` (rank-normalised, folded, the max of the two), `ess_bulk` and
  `ess_tail`: Vehtari, Gelman, Simpson, Carpenter, Buerkner 2021.
"""
import numpy as np
from scipy import special
from scipy import stats


def autocovariance(x):
  """Autocovariance of each row of x [..., n] at lags 0..n-1, by FFT."""
  n = x.shape[-1]
  size = 2 ** int(np.ceil(np.log2(2 * n - 1)))
  centred = x - x.mean(-1, keepdims=True)
  f = np.fft.rfft(centred, size)
  acov = np.fft.irfft(f * np.conj(f), size)[..., :n]
  return acov / n


def autocorrelation(x):
  acov = autocovariance(x)
  return acov / acov[..., :1]


def ess(draws):
  """Effective sample size of [chains, draws] (Stan's estimator)."""
  x = np.asarray(draws, np.float64)
  m, n = x.shape
  if n < 4:
    return np.nan
  acov = autocovariance(x)
  chain_mean = x.mean(1)
  chain_var = acov[:, 0] * n / (n - 1.0)
  w = chain_var.mean()
  var_plus = w * (n - 1.0) / n
  if m > 1:
    var_plus += chain_mean.var(ddof=1)
  if not var_plus > 0:
    return np.nan  # A constant chain: no information.
  rho = 1.0 - (w - acov.mean(0)) / var_plus
  rho[0] = 1.0
  # Sums of adjacent pairs must stay positive (initial positive sequence)
  # and are made non-increasing (initial monotone sequence).
  pairs = rho[:-1:2] + rho[1::2]
  positive = np.argmax(pairs <= 0) if np.any(pairs <= 0) else len(pairs)
  pairs = np.minimum.accumulate(pairs[:positive])
  tau = -1.0 + 2.0 * np.sum(pairs)
  tau = max(tau, 1.0 / np.log10(m * n))
  return m * n / tau


def split_chains(draws):
  x = np.asarray(draws)
  half = x.shape[1] // 2
  return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], 0)


def split_rhat(draws):
  """Split-R-hat of [chains, draws]."""
  x = split_chains(np.asarray(draws, np.float64))
  m, n = x.shape
  w = x.var(1, ddof=1).mean()
  b = n * x.mean(1).var(ddof=1)
  var_plus = (n - 1.0) / n * w + b / n
  return np.sqrt(var_plus / w) if w > 0 else np.nan


def _rank_normalise(x):
  ranks = stats.rankdata(x, method='average').reshape(x.shape)
  return special.ndtri((ranks - 3.0 / 8.0) / (x.size + 0.25))


def rhat(draws):
  """Rank-normalised split-R-hat: max of bulk and folded (tail) versions."""
  x = np.asarray(draws, np.float64)
  bulk = split_rhat(_rank_normalise(split_chains(x)))
  folded = np.abs(x - np.median(x))
  tail = split_rhat(_rank_normalise(split_chains(folded)))
  return max(bulk, tail)


def ess_bulk(draws):
  return ess(_rank_normalise(split_chains(np.asarray(draws, np.float64))))


def ess_tail(draws):
  """Min ESS of the 5% and 95% quantile indicators."""
  x = np.asarray(draws, np.float64)
  out = []
  for q in (0.05, 0.95):
    indicator = (x <= np.quantile(x, q)).astype(np.float64)
    out.append(ess(split_chains(indicator)))
  return min(out)


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
