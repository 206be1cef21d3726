"""explain/ against the `shap` package on the same models and backgrounds.

  .venv/bin/python bench/shap_vs_shap.py [--quick]

Two Flax MLPs trained through `common.trainer.fit` (explain.train): the
diabetes regressor (10 features, one hidden layer of 32, 400 steps) and a
breast-cancer classifier on its first 16 features (64-64, 600 steps;
explained: the benign class's log-odds). 20 test rows each; background:
50 (diabetes) and 30 (breast cancer) training rows. For each:

  1. Agreement: our exact values against `shap.explainers.ExactExplainer`
     (Independent masker over the same background) and against
     `shap.KernelExplainer` at full enumeration (nsamples = 2^M - 2), and
     our KernelSHAP at full enumeration against our exact values.
  2. Error against budget and wall time: mean |phi - phi_exact| of our
     `kernel_shap` and of `shap.KernelExplainer` (its default settings,
     except l1_reg=False: its default, 'num_features(10)', keeps only 10
     features even at full enumeration) at the same budgets, and the speed-up
     at equal error: for each of shap's budgets, the wall time our
     estimator needs to reach the error shap reached (log-log interpolation
     along our curve, which also runs at a few budgets below shap's
     smallest), against shap's time. Both call the same jitted model
     (shap through numpy); every timing is after a warm-up at that budget,
     so compilation is excluded from both.

Writes bench/results/shap_vs_shap.json and bench/results/shap_vs_shap.png.
CPU only; the numbers in docs/RESULTS.md come from this script.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common import runs  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import common as configs_common  # pylint: disable=wrong-import-position
from explain import shapley  # pylint: disable=wrong-import-position

OUT = os.path.join(ROOT, 'bench', 'results')


def train_model(name, num_features, workdir, steps, hidden):
  c = configs_common.base_config()
  c.entry = 'explain.train'
  c.data.name = name
  c.data.test_fraction = 0.2
  c.data.num_features = num_features
  c.model = ml_collections.ConfigDict({'hidden': hidden, 'activation': 'gelu'})
  c.total_steps = steps
  c.batch_size = 32
  c.eval_batch_size = 64
  c.log_every_steps = steps
  c.ckpt_every_steps = steps
  c.optim.learning_rate = 3e-3
  c.optim.weight_decay = 1e-4
  final = runs.run_entry(c, workdir)
  run = runs.load_run(workdir)
  objective, variables, dataset = run.objective, run.variables, run.dataset
  names = list(dataset.feature_names)
  if objective.task == 'regression':
    f = lambda z: objective.predict(variables, z)
  else:
    f = lambda z: (lambda l: l[:, 1] - l[:, 0])(objective.predict(variables, z))
  f_jit = jax.jit(f)
  f_np = lambda z: np.asarray(f_jit(jnp.asarray(z, jnp.float32)), np.float64)
  return f, f_np, dataset, names, final


def timed(fn, repeats=1):
  best = np.inf
  out = None
  for _ in range(repeats):
    start = time.perf_counter()
    out = fn()
    best = min(best, time.perf_counter() - start)
  return out, best


def bench_model(label, f, f_np, dataset, budgets, num_rows, num_bg, shap,
                agree_rows, seeds, ours_lower=()):
  bg = shapley.sample_background(dataset.x_train, num_bg, seed=0)
  x = dataset.x_test[:num_rows]
  xa = x[:agree_rows]  # shap's exact explainers are slow: fewer rows.
  m = x.shape[1]
  full = 2 ** m - 2
  res = {'model': label, 'features': m, 'rows': int(len(x)),
         'background': int(len(bg))}
  # Every timing follows an identical call (same shapes): compiled code and
  # warm caches for both packages.
  shapley.exact_shapley(f, x, bg)
  exact, t_exact = timed(lambda: shapley.exact_shapley(f, x, bg))
  res['ours_exact_s_per_row'] = t_exact / len(x)
  res['ours_exact_efficiency_error'] = exact.efficiency_error()
  shapley.kernel_shap(f, x, bg, num_samples=full)
  k_full, t_kfull = timed(lambda: shapley.kernel_shap(f, x, bg, num_samples=full))
  res['ours_kernel_full_max_abs_diff_vs_exact'] = float(
      np.max(np.abs(k_full.values - exact.values)))
  res['ours_kernel_full_s_per_row'] = t_kfull / len(x)
  scale = float(np.mean(np.abs(exact.values)))
  res['mean_abs_phi'] = scale

  ea = exact.values[:agree_rows]
  res['agreement_rows'] = int(len(xa))
  masker = shap.maskers.Independent(bg, max_samples=len(bg))
  explainer = shap.explainers.ExactExplainer(f_np, masker)
  explainer(xa[:1])  # numba compiles on the first call.
  theirs, t_theirs = timed(lambda: explainer(xa))
  res['shap_exact_max_abs_diff'] = float(np.max(np.abs(theirs.values - ea)))
  res['shap_exact_base_max_abs_diff'] = float(
      np.max(np.abs(theirs.base_values - exact.base_values[:agree_rows])))
  res['shap_exact_s_per_row'] = t_theirs / len(xa)
  kexp = shap.KernelExplainer(f_np, bg)
  kexp.shap_values(xa[:1], nsamples=full, silent=True, l1_reg=False)
  kvals, t_kshap_full = timed(lambda: np.asarray(kexp.shap_values(
      xa, nsamples=full, silent=True, l1_reg=False)))
  res['shap_kernel_full_max_abs_diff'] = float(np.max(np.abs(kvals - ea)))
  res['shap_kernel_full_s_per_row'] = t_kshap_full / len(xa)
  # shap 0.51's default l1_reg='num_features(10)' keeps 10 features even at
  # full enumeration: not the Shapley values once M > 10.
  default = np.asarray(kexp.shap_values(xa, nsamples=full, silent=True))
  res['shap_kernel_full_default_l1_max_abs_diff'] = float(
      np.max(np.abs(default - ea)))

  # Ours also runs below shap's smallest budget: where ours at that budget
  # is already more accurate than shap, the equal-error time lies lower.
  lower = []
  for budget in ours_lower:
    shapley.kernel_shap(f, x, bg, num_samples=budget, seed=0)
    errs, times = [], []
    for seed in range(1, seeds + 1):
      ours, t_ours = timed(lambda b=budget, s=seed: shapley.kernel_shap(
          f, x, bg, num_samples=b, seed=s))
      errs.append(np.mean(np.abs(ours.values - exact.values)))
      times.append(t_ours)
    lower.append({'budget': budget, 'ours_err': float(np.mean(errs)),
                  'ours_s_per_row': min(times) / len(x)})
    print(label, lower[-1], flush=True)
  res['ours_lower_budgets'] = lower
  curve = []
  for budget in budgets:
    # Errors are means over `seeds` independent runs (one run's error over
    # 20 rows is noisy); times the fastest run (the cores are shared).
    shapley.kernel_shap(f, x, bg, num_samples=budget, seed=0)
    kexp.shap_values(x, nsamples=budget, silent=True, l1_reg=False)
    o_err, o_se, o_t, s_err, s_t = [], [], [], [], []
    for seed in range(1, seeds + 1):
      ours, t_ours = timed(lambda b=budget, s=seed: shapley.kernel_shap(
          f, x, bg, num_samples=b, seed=s))
      np.random.seed(seed)  # shap's KernelExplainer samples from it.
      vals, t_shap = timed(lambda b=budget: np.asarray(kexp.shap_values(
          x, nsamples=b, silent=True, l1_reg=False)))
      o_err.append(np.mean(np.abs(ours.values - exact.values)))
      o_se.append(np.mean(ours.stderr))
      o_t.append(t_ours)
      s_err.append(np.mean(np.abs(vals - exact.values)))
      s_t.append(t_shap)
    curve.append({
        'budget': budget,
        'ours_err': float(np.mean(o_err)),
        'ours_mean_stderr': float(np.mean(o_se)),
        'ours_s_per_row': min(o_t) / len(x),
        'shap_err': float(np.mean(s_err)),
        'shap_s_per_row': min(s_t) / len(x)})
    print(label, curve[-1], flush=True)
  # Our time to reach shap's error: interpolate log time against log error
  # along our (monotone, decreasing) curve; budgets beyond ours are capped
  # by our exact-at-full-enumeration time.
  ours_err = np.array([c['ours_err'] for c in lower + curve] + [0.0])
  ours_t = np.array([c['ours_s_per_row'] for c in lower + curve]
                    + [t_kfull / len(x)])
  for c in curve:
    target = c['shap_err']
    reach = np.flatnonzero(ours_err <= target)
    if not len(reach):
      c['ours_s_at_shap_err'] = None
      c['speedup_at_equal_error'] = None
      continue
    j = reach[0]
    if j == 0 or ours_err[j] <= 0:
      t_eq = ours_t[j]
    else:  # Log-log interpolation between the bracketing budgets.
      e0, e1 = np.log(ours_err[j - 1]), np.log(ours_err[j])
      w = (np.log(target) - e0) / (e1 - e0)
      t_eq = float(np.exp((1 - w) * np.log(ours_t[j - 1]) + w * np.log(ours_t[j])))
    c['ours_s_at_shap_err'] = float(t_eq)
    c['speedup_at_equal_error'] = float(c['shap_s_per_row'] / t_eq)
  res['curve'] = curve
  return res


def plot(results, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  for r, colour in zip(results, ('C0', 'C1', 'C2')):
    b = [c['budget'] for c in r['curve']]
    for key, style, who in (('ours', '-o', 'explain.kernel_shap'),
                            ('shap', '--s', 'shap.KernelExplainer')):
      err = [c[f'{key}_err'] for c in r['curve']]
      t = [c[f'{key}_s_per_row'] for c in r['curve']]
      lab = f'{who}, {r["model"]}'
      axes[0].loglog(b, err, style, color=colour, label=lab)
      axes[1].loglog(t, err, style, color=colour, label=lab)
  axes[0].set_xlabel('budget (coalitions valued per row)')
  axes[1].set_xlabel('wall time per explained row (s)')
  for a in axes:
    a.set_ylabel('mean |phi - phi_exact|')
    a.grid(True, which='both', alpha=0.3)
  axes[0].legend(fontsize=7)
  axes[0].set_title('KernelSHAP error against budget')
  axes[1].set_title('error against wall time (2 CPU cores)')
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--quick', action='store_true',
                      help='fewer rows and budgets (a check that it runs)')
  args = parser.parse_args()
  try:
    import shap  # pylint: disable=g-import-not-at-top
  except ImportError:
    sys.exit('bench/shap_vs_shap.py needs the shap package: '
             'pip install -r requirements-bench.txt (shap==0.51.0)')
  rows = 4 if args.quick else 20
  results = []
  with tempfile.TemporaryDirectory() as tmp:
    # (label, data, features, steps, hidden, budgets, background rows)
    # (label, data, features, steps, hidden, budgets, background rows, our
    # extra budgets below shap's smallest: at least M + 2 coalitions)
    specs = [('diabetes (10 features)', 'diabetes', 10, 400, (32,),
              [24, 48, 96, 192, 384, 768], 50, [12, 16]),
             ('breast cancer (16 features)', 'breast_cancer', 16, 600, (64, 64),
              [48, 96, 192, 384, 768, 1536, 3072], 30, [18, 24, 32])]
    if args.quick:
      specs = [(a, b, c, 50, h, budgets[:3], 10, low[-1:])
               for a, b, c, _, h, budgets, _, low in specs]
    for label, name, width, steps, hidden, budgets, num_bg, low in specs:
      f, f_np, dataset, _, final = train_model(
          name, width, os.path.join(tmp, name), steps, hidden)
      r = bench_model(label, f, f_np, dataset, budgets, rows, num_bg, shap,
                      agree_rows=rows if width <= 12 else 4,
                      seeds=2 if args.quick else 3, ours_lower=low)
      r['model_test_metrics'] = final
      results.append(r)
  out = {'shap_version': shap.__version__, 'jax_version': jax.__version__,
         'devices': str(jax.devices()), 'cpu_count': os.cpu_count(),
         'quick': args.quick, 'results': results}
  os.makedirs(OUT, exist_ok=True)
  suffix = '_quick' if args.quick else ''
  with open(os.path.join(OUT, f'shap_vs_shap{suffix}.json'), 'w') as fh:
    json.dump(out, fh, indent=1)
  plot(results, os.path.join(OUT, f'shap_vs_shap{suffix}.png'))
  for r in results:
    print(r['model'], {k: v for k, v in r.items()
                       if k not in ('curve', 'model')})


if __name__ == '__main__':
  main()
