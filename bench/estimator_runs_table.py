"""Tabulates the discrete-latent budget runs (runs/est/, made by
bench/estimator_runs.sh) for docs/RESULTS.md and plots their learning curves.

  python bench/estimator_runs_table.py [--runs=runs/est]
      [--out=bench/results/estimator_runs.json]

Per run: the best and the final training ELBO as logged (the mean of the
single-sample ELBO over the last 500 training steps; the REBAR/RELAX papers
report the best training ELBO), the ELBO of the final model on the whole
training split (one sample per image), the test -ELBO and the test NLL
bound, and the wall time. The PNG beside the JSON plots the logged training
objective of every run against steps, one panel per model.
"""
import glob
import json
import os

from absl import app
from absl import flags

_RUNS = flags.DEFINE_string('runs', 'runs/est', 'Directory of the runs.')
_OUT = flags.DEFINE_string('out', 'bench/results/estimator_runs.json', 'JSON.')


def _train_split_elbo(final):
  # Older runs logged the ELBO itself; current ones its negative.
  if 'eval/test/train_split_neg_elbo_nats' in final:
    return -final['eval/test/train_split_neg_elbo_nats']
  return final.get('eval/test/train_elbo_nats', float('nan'))


def main(_):
  times = {}
  path = os.path.join(_RUNS.value, 'times.txt')
  if os.path.exists(path):
    for line in open(path):
      parts = line.split()
      if len(parts) >= 3 and parts[2] == 's':
        times[parts[0]] = int(parts[1])
  rows = []
  for final_path in sorted(glob.glob(os.path.join(_RUNS.value, '*', 'final_metrics.json'))):
    run = os.path.dirname(final_path)
    name = os.path.basename(run)
    final = json.load(open(final_path))
    curve = []
    for line in open(os.path.join(run, 'metrics.jsonl')):
      r = json.loads(line)
      key = next((k for k in r if k.startswith('train/bound_') or k == 'train/elbo'), None)
      if key:
        curve.append((r['step'], r[key]))
    rows.append({'run': name, 'steps': final['step'],
                 'best_train_elbo': max(v for _, v in curve),
                 'final_train_elbo': curve[-1][1],
                 'train_split_elbo': _train_split_elbo(final),
                 'test_neg_elbo': final['eval/test/neg_elbo_nats'],
                 'test_nll_bound': final['eval/test/nll_nats'],
                 'wall_s': times.get(name), 'curve': curve})
  os.makedirs(os.path.dirname(_OUT.value) or '.', exist_ok=True)
  json.dump(rows, open(_OUT.value, 'w'), indent=1)
  print('| run | steps | best train ELBO | train-split ELBO | test -ELBO | test NLL (IS) | wall |')
  print('|---|---|---|---|---|---|---|')
  for r in rows:
    wall = f'{r["wall_s"] / 60:.1f} min' if r['wall_s'] else '-'
    print(f'| {r["run"]} | {r["steps"]} | {r["best_train_elbo"]:.2f} | '
          f'{r["train_split_elbo"]:.2f} | {r["test_neg_elbo"]:.2f} | '
          f'{r["test_nll_bound"]:.2f} | {wall} |')
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  panels = [('linear1_', 'linear SBN 200', (-160, -120)),
            ('linear2_', 'linear SBN 200-200', (-150, -110)),
            ('nonlinear_', 'nonlinear SBN 200', (-170, -115)),
            ('catvae_', 'categorical VAE 20x10', (-160, -95))]
  fig, axes = plt.subplots(2, 2, figsize=(11, 8))
  for ax, (prefix, title, ylim) in zip(axes.ravel(), panels):
    for r in rows:
      if r['run'].startswith(prefix):
        steps, values = zip(*r['curve'])
        ax.plot(steps, values, lw=1, label=r['run'][len(prefix):])
    ax.set_ylim(*ylim)
    ax.set_xlabel('step')
    ax.set_ylabel('training ELBO as logged (nats)')
    ax.set_title(f'{title}: same budget and seed')
    ax.legend(fontsize=7)
  fig.suptitle('Logged training objective (relaxed estimators: the relaxed '
               'objective)', fontsize=9)
  fig.tight_layout()
  fig.savefig(os.path.splitext(_OUT.value)[0] + '.png', dpi=90)


if __name__ == '__main__':
  app.run(main)
