"""The continuous toy of Sobolev's "Stochastic Computation Graphs: Continuous
Case": minimise F(mu, sigma) = E_{x ~ N(mu, sigma^2)}[x^2 + c] by SGD with
single-sample gradient estimates from `estimators.continuous`.

  python bench/continuous_toy.py [--steps=10000] [--lr=0.001] [--seeds=10]
      [--out=bench/results/continuous_toy.json]

From mu = sigma = 1, for c in {0, 1}, with the score function,
reparameterisation, G-REP-1 (eps = x - mu) and G-REP-2
(eps = (x - mu) / sigma + mu) (Ruiz, Titsias & Blei 2016, arXiv:1610.02287),
the same learning rate and seeds for all. The exact gradient is
(2 mu, 2 sigma), so the optimum is mu = sigma = 0 with F = c. With c = 1
the score function's variance grows like 1/sigma^2, so it (and G-REP-1,
score function in sigma) cannot drive sigma to 0; reparameterisation and
G-REP-2 (pathwise in sigma) can. The density depends on sigma^2 only, so
|sigma| is reported.

Writes the JSON (final |mu| and |sigma| per seed, their medians, and the
median over seeds of the mean |sigma| over the last 1000 steps) and a PNG
of the paths next to it, and prints a table.

Measured (CPU, float64, ~8 s; bench/results/continuous_toy.json), medians
over 10 seeds of the final |sigma|, lr 0.001 (the post gives no step size;
0.001 reproduces its c = 0 curve, mu^2 + sigma^2 ~ 1e-17 after 10k steps):

  c   score function   reparam.   G-REP-1   G-REP-2
  0   1.2e-9           2.0e-9     1.4e-9    2.0e-9
  1   0.25             2.0e-9     0.26      2.7e-4

With c = 1 reparameterisation keeps shrinking sigma (its gradient does not
depend on c); G-REP-2 levels off near 3e-4 (its d/dmu keeps a variance of
about c^2, so mu, and through 2 eps mu the sigma gradient, stay noisy);
the score function and G-REP-1 stall. The stall level grows with the step
size: final |sigma| 0.33 / 0.31 (score function / G-REP-1) at lr 0.003,
0.52 / 0.52 at lr 0.01; at lr 0.03 both diverge for c = 0.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp
import numpy as np
from absl import app
from absl import flags

from estimators import continuous

_STEPS = flags.DEFINE_integer('steps', 10_000, 'SGD iterations.')
_LR = flags.DEFINE_float('lr', 0.001, 'Learning rate (the same for all).')
_SEEDS = flags.DEFINE_integer('seeds', 10, 'Runs per estimator and c.')
_OUT = flags.DEFINE_string('out', 'bench/results/continuous_toy.json',
                           'JSON output; the PNG goes beside it.')

ESTIMATORS = ('score_function', 'reparameterised', 'grep_1', 'grep_2')
LABELS = {'score_function': 'score function',
          'reparameterised': 'reparameterisation',
          'grep_1': 'G-REP-1 (x - mu)', 'grep_2': 'G-REP-2 ((x - mu)/sigma + mu)'}


def sgd_paths(name, c, lr, steps, seeds):
  """[seeds, steps + 1, 2] paths of (mu, sigma) under SGD with one-sample
  estimates of grad F from estimator `name`."""
  estimator = continuous.GAUSSIAN_ESTIMATORS[name]
  f = lambda x: jnp.square(x[:, 0]) + c

  def run(key):
    def step(theta, i):
      params = (theta[0].reshape(1, 1), theta[1].reshape(1, 1))
      g = jax.grad(lambda p: estimator(jax.random.fold_in(key, i), p,
                                       f).surrogate)(params)
      theta = theta - lr * jnp.stack([g[0][0, 0], g[1][0, 0]])
      return theta, theta

    theta0 = jnp.ones(2)
    _, path = jax.lax.scan(step, theta0, jnp.arange(steps))
    return jnp.concatenate([theta0[None], path])

  keys = jax.random.split(jax.random.key(0), seeds)
  return np.asarray(jax.jit(jax.vmap(run))(keys))


def summarise(path):
  mu, sigma = np.abs(path[..., 0]), np.abs(path[..., 1])
  tail = sigma[:, -1000:].mean(1)
  return {'final_sigma': sigma[:, -1].tolist(), 'final_mu': mu[:, -1].tolist(),
          'median_final_sigma': float(np.median(sigma[:, -1])),
          'median_final_mu': float(np.median(mu[:, -1])),
          'median_last_1000_mean_sigma': float(np.median(tail)),
          'runs_finite': int(np.all(np.isfinite(path), axis=(1, 2)).sum())}


def plot(paths, png):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  cs = sorted(paths)
  fig, axes = plt.subplots(len(cs), 3, figsize=(15, 4.2 * len(cs)),
                           squeeze=False)
  colours = dict(zip(ESTIMATORS, ['C3', 'C0', 'C1', 'C2']))
  for row, c in zip(axes, cs):
    for name in ESTIMATORS:
      p = paths[c][name]
      t = np.arange(p.shape[1])
      series = (np.square(p[..., 0]) + np.square(p[..., 1]), p[..., 0],
                np.abs(p[..., 1]))
      for ax, y in zip(row, series):
        for run in y:
          ax.plot(t, run, color=colours[name], alpha=0.15, lw=0.5)
        ax.plot(t, np.median(y, 0), color=colours[name], lw=1.5,
                label=LABELS[name])
    row[0].set_yscale('log')
    row[2].set_yscale('log')
    row[0].set_title(f'c = {c:g}: F - c = mu^2 + sigma^2')
    row[1].set_title(f'c = {c:g}: mu')
    row[2].set_title(f'c = {c:g}: |sigma|')
    for ax in row:
      ax.set_xlabel('iteration')
    row[0].legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(png, dpi=110)
  plt.close(fig)


def main(_):
  lr, steps, seeds = _LR.value, _STEPS.value, _SEEDS.value
  paths, results = {}, {}
  with jax.enable_x64(True):
    for c in (0.0, 1.0):
      paths[c] = {}
      for name in ESTIMATORS:
        t = time.time()
        paths[c][name] = sgd_paths(name, c, lr, steps, seeds)
        results.setdefault(f'c={c:g}', {})[name] = summarise(paths[c][name])
        results[f'c={c:g}'][name]['seconds'] = round(time.time() - t, 2)
  print(f'SGD from mu = sigma = 1, {steps} steps, lr {lr}, {seeds} seeds '
        '(medians over seeds)')
  print(f'{"c":>3} {"estimator":<34} {"final |sigma|":>14} {"final |mu|":>11} '
        f'{"|sigma| last 1k":>16}')
  for c in (0.0, 1.0):
    for name in ESTIMATORS:
      r = results[f'c={c:g}'][name]
      print(f'{c:>3g} {LABELS[name]:<34} {r["median_final_sigma"]:>14.3g} '
            f'{r["median_final_mu"]:>11.3g} '
            f'{r["median_last_1000_mean_sigma"]:>16.3g}')
  out = _OUT.value
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  record = {'command': ' '.join(sys.argv), 'steps': steps, 'lr': lr,
            'seeds': seeds, 'jax': jax.__version__,
            'backend': jax.default_backend(), 'results': results}
  with open(out, 'w') as fh:
    json.dump(record, fh, indent=1)
  png = os.path.splitext(out)[0] + '.png'
  plot(paths, png)
  print(f'wrote {out} and {png}')


if __name__ == '__main__':
  app.run(main)
