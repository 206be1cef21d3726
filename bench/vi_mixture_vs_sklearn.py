"""vi.mixture's EM and CAVI against scikit-learn's GaussianMixture and
BayesianGaussianMixture (full covariances, Dirichlet weights), from the same
start with the same stopping rule.

  python bench/vi_mixture_vs_sklearn.py [--repeats=5]
      [--out=bench/results/vi_mixture_vs_sklearn.json]

Data: iris (4-D, K=3), wine standardised (13-D, K=3), breast cancer
standardised then its first 10 principal components (K=2), and 20,000
points from a 5-component mixture in 5-D (K=5). The start is the k-means
labelling (sklearn KMeans, n_init=1, random_state=0) as one-hot
responsibilities:
* EM: the M-step of those is given to GaussianMixture as weights_init /
  means_init / precisions_init and to `fit_em` as params0;
* CAVI: BayesianGaussianMixture gets them through its `_initialize` hook
  (a subclass whose `_initialize_parameters` calls `_initialize(X, resp0)`,
  private API, so that sklearn's time has no k-means in it either), ours
  through `fit_cavi(x, resp0)`.
Both use tol=1e-3 (sklearn's default) and max_iter=500; EM reg_covar=1e-6,
CAVI reg_covar=0 (see vi/mixture.py). Float64 throughout. Our wall time is
the compiled call (the first call, compile included, is reported apart),
the median of `repeats` runs, as is sklearn's; `speedup` is
sklearn / ours. sklearn is timed with one BLAS thread (threadpoolctl) and
with its default threads, and the faster counts (`sklearn_threads`): on
these small matrices OpenBLAS's threads mostly contend. ELBOs are ours; sklearn's `lower_bound_` is shown plus
`bayesian_mixture.sklearn_bound_offset` (the constants it drops), so the two columns
should agree.
"""
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top
import numpy as np
from absl import app
from absl import flags
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer
from sklearn.datasets import load_iris
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from vi import bayesian_mixture
from vi import mixture
from bench import output  # pylint: disable=wrong-import-position

_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed runs per method.')
_OUT = flags.DEFINE_string('out', 'bench/results/vi_mixture_vs_sklearn.json',
                           'JSON output.')

TOL, MAX_ITER, EM_REG = 1e-3, 500, 1e-6


def datasets():
  std = lambda x: StandardScaler().fit_transform(x)
  cancer = PCA(10, random_state=0).fit_transform(
      std(load_breast_cancer().data))
  rng = np.random.default_rng(0)
  centres = rng.normal(scale=4.0, size=(5, 5))
  chols = [np.linalg.cholesky(a @ a.T / 5 + 0.3 * np.eye(5))
           for a in rng.normal(size=(5, 5, 5))]
  labels = rng.choice(5, size=20_000, p=[0.3, 0.25, 0.2, 0.15, 0.1])
  synth = centres[labels] + np.einsum(
      'nij,nj->ni', np.stack(chols)[labels], rng.normal(size=(20_000, 5)))
  return [('iris', load_iris().data, 3),
          ('wine (std)', std(load_wine().data), 3),
          ('breast cancer (std, PCA 10)', cancer, 2),
          ('synthetic 20k x 5-D', synth, 5)]


def kmeans_resp(x, k):
  labels = KMeans(k, n_init=1, random_state=0).fit(x).labels_
  return np.eye(k)[labels]


class _FixedInitBGMM(BayesianGaussianMixture):
  """sklearn's Bayesian mixture started from given responsibilities."""

  def __init__(self, resp0=None, **kwargs):
    super().__init__(**kwargs)
    self.resp0 = resp0

  def _initialize_parameters(self, X, random_state, xp=None):
    self._initialize(X, self.resp0)


def timed(fn, repeats):
  times, out = [], None
  for _ in range(repeats):
    t = time.perf_counter()
    out = jax.block_until_ready(fn())
    times.append(time.perf_counter() - t)
  return out, float(np.median(times))


def timed_sklearn(fn, repeats):
  """sklearn at its best: the faster of one BLAS thread and the default."""
  with threadpool_limits(1):
    out, one = timed(fn, repeats)
  _, default = timed(fn, repeats)
  return out, min(one, default), ('1' if one <= default else 'default')


def run_em(x, resp0, repeats):
  st = mixture.em_init(jax.numpy.asarray(x), jax.numpy.asarray(resp0), EM_REG)
  pc = np.asarray(st.precisions_cholesky)
  ours = lambda: mixture.fit_em(x, params0=st, max_iter=MAX_ITER, tol=TOL,
                                reg_covar=EM_REG)
  t = time.perf_counter()
  jax.block_until_ready(ours())
  first = time.perf_counter() - t
  res, t_ours = timed(ours, repeats)
  sk = lambda: GaussianMixture(
      resp0.shape[1], covariance_type='full', tol=TOL, max_iter=MAX_ITER,
      reg_covar=EM_REG, weights_init=np.asarray(st.weights),
      means_init=np.asarray(st.means),
      precisions_init=pc @ np.swapaxes(pc, -1, -2)).fit(x)
  gm, t_sk, threads = timed_sklearn(sk, repeats)
  n = int(res.n_iter)
  return dict(
      method='EM', iters_ours=n, iters_sklearn=int(gm.n_iter_),
      max_abs_diff_means=float(np.abs(res.state.means - gm.means_).max()),
      max_abs_diff_weights=float(np.abs(res.state.weights - gm.weights_).max()),
      final_ours=float(res.log_likelihood[n - 1]),
      final_sklearn=float(gm.lower_bound_), first_call_s=first,
      time_ours_s=t_ours, time_sklearn_s=t_sk, sklearn_threads=threads,
      speedup=t_sk / t_ours)


def run_cavi(x, resp0, repeats):
  k = resp0.shape[1]
  ours = lambda: bayesian_mixture.fit_cavi(x, resp0, max_iter=MAX_ITER, tol=TOL)
  t = time.perf_counter()
  jax.block_until_ready(ours())
  first = time.perf_counter() - t
  res, t_ours = timed(ours, repeats)
  sk = lambda: _FixedInitBGMM(
      resp0=resp0, n_components=k, covariance_type='full',
      weight_concentration_prior_type='dirichlet_distribution', tol=TOL,
      max_iter=MAX_ITER, reg_covar=0.0).fit(x)
  bg, t_sk, threads = timed_sklearn(sk, repeats)
  post = bayesian_mixture.posterior(res.state.natural, bayesian_mixture.make_prior(x, k))
  offset = float(bayesian_mixture.sklearn_bound_offset(bayesian_mixture.make_prior(x, k), k,
                                              len(x)))
  n = int(res.n_iter)
  return dict(
      method='CAVI', iters_ours=n, iters_sklearn=int(bg.n_iter_),
      max_abs_diff_means=float(np.abs(post.means - bg.means_).max()),
      max_abs_diff_weights=float(np.abs(post.weights - bg.weights_).max()),
      final_ours=float(res.elbo[n - 1]),
      final_sklearn=float(bg.lower_bound_) + offset, first_call_s=first,
      time_ours_s=t_ours, time_sklearn_s=t_sk, sklearn_threads=threads,
      speedup=t_sk / t_ours)


def main(_):
  rows = []
  with jax.enable_x64(True), warnings.catch_warnings():
    warnings.simplefilter('ignore', ConvergenceWarning)
    for name, x, k in datasets():
      x = np.asarray(x, np.float64)
      resp0 = kmeans_resp(x, k)
      for run in (run_em, run_cavi):
        row = dict(data=name, n=x.shape[0], d=x.shape[1], k=k,
                   **run(x, resp0, _REPEATS.value))
        rows.append(row)
        print(f"{name} {row['method']}: {row['time_ours_s']*1e3:.1f} ms vs "
              f"{row['time_sklearn_s']*1e3:.1f} ms", flush=True)
  meta = dict(jax=jax.__version__, backend=jax.default_backend(),
              repeats=_REPEATS.value, tol=TOL, max_iter=MAX_ITER,
              em_reg_covar=EM_REG, cavi_reg_covar=0.0, dtype='float64',
              sklearn_threads='faster of 1 and the default',
              cpu_count=os.cpu_count(), load_average=os.getloadavg())
  output.write_json(_OUT.value, dict(meta=meta, rows=rows))
  print('\n| data | method | iters ours/sk | max diff means | max diff '
        'weights | final ours | final sklearn | ours ms (compile s) | '
        'sklearn ms | speedup |')
  print('|' + '---|' * 10)
  for r in rows:
    print(f"| {r['data']} | {r['method']} | {r['iters_ours']}/"
          f"{r['iters_sklearn']} | {r['max_abs_diff_means']:.1e} | "
          f"{r['max_abs_diff_weights']:.1e} | {r['final_ours']:.6f} | "
          f"{r['final_sklearn']:.6f} | {r['time_ours_s']*1e3:.1f} "
          f"({r['first_call_s']:.1f}) | {r['time_sklearn_s']*1e3:.1f} | "
          f"{r['speedup']:.2f} |")
  print(f"\nload average during the run: {meta['load_average']}")


if __name__ == '__main__':
  app.run(main)
