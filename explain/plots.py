"""The plots people expect from the `shap` package, as PNG files.

* `waterfall`: one prediction, from E[f] to f(x), one bar per feature
  (largest |phi| first, the rest summed into one bar).
* `beeswarm`: every explained row, one line per feature ordered by mean
  |phi|, each dot coloured by the feature's value (low blue, high red).
* `image_attribution`: an image beside its values spread over its pixels
  (superpixel groups), red raising the output, blue lowering it.
* `error_vs_budget`: an estimator's error against its budget (log-log).

Matplotlib with the Agg backend: no display needed.
"""
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from common.errors import ConfigError  # pylint: disable=wrong-import-position

RED, BLUE = '#ff0051', '#008bfb'  # shap's colours.


def _column(a, output):
  """One output's values: a [N, M, K] -> [N, M] (base/output [N, K] -> [N])."""
  if a is None:
    return None
  return a if output is None else a[..., output]


def _pick_output(expl, output):
  if expl.values.ndim == 3 and output is None:
    raise ConfigError(f'the model has {expl.values.shape[2]} outputs; pass '
                      'output=<index> to plot one')
  return output if expl.values.ndim == 3 else None


def _save(fig, path):
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=120, bbox_inches='tight')
  plt.close(fig)
  return path


def _fmt(v):
  return f'{v:.3g}'


def waterfall(expl, row, path, *, output=None, max_display=10, title=None):
  """A waterfall of row `row` of `expl` (a shapley.Explanation) to `path`."""
  output = _pick_output(expl, output)
  phi = _column(expl.values, output)[row]
  base = float(_column(expl.base_values, output)[row])
  fx = float(_column(expl.output, output)[row])
  names = list(expl.feature_names)
  if expl.groups is None and expl.data.ndim == 2:
    names = [f'{n} = {_fmt(v)}' for n, v in zip(names, expl.data[row])]
  order = np.argsort(-np.abs(phi))
  shown = order[:max_display - 1] if len(order) > max_display else order
  labels = [names[i] for i in shown]
  values = list(phi[shown])
  if len(order) > len(shown):
    labels.append(f'{len(order) - len(shown)} other features')
    values.append(float(phi[order[len(shown):]].sum()))
  # Drawn bottom-up so the largest bar ends at f(x), as shap draws it.
  labels, values = labels[::-1], values[::-1]
  starts = base + np.concatenate([[0], np.cumsum(values)[:-1]])
  fig, ax = plt.subplots(figsize=(8, 0.45 * len(values) + 1.5))
  for y, (s, v) in enumerate(zip(starts, values)):
    ax.barh(y, v, left=s, color=RED if v > 0 else BLUE, height=0.6)
    ax.text(s + v + (0.01 if v > 0 else -0.01) * (abs(fx - base) + 1e-12),
            y, f'{v:+.3g}', va='center', ha='left' if v > 0 else 'right',
            fontsize=8)
  ends = np.concatenate([starts, starts + np.asarray(values), [base, fx]])
  lo, hi = ends.min(), ends.max()
  pad = 0.15 * (hi - lo or 1.0)  # Room for the value labels on both sides.
  ax.set_xlim(lo - pad, hi + pad)
  ax.axvline(base, color='grey', ls=':', lw=1)
  ax.axvline(fx, color='grey', ls='--', lw=1)
  ax.set_yticks(range(len(labels)), labels, fontsize=8)
  ax.set_xlabel(f'model output: E[f(X)] = {base:.4g}  ->  f(x) = {fx:.4g}')
  ax.set_title(title or f'{expl.method} Shapley values, row {row}')
  return _save(fig, path)


def beeswarm(expl, path, *, output=None, max_display=15, title=None, seed=0):
  """A beeswarm summary of every row of `expl` to `path`."""
  output = _pick_output(expl, output)
  phi = _column(expl.values, output)
  n, m = phi.shape
  names = list(expl.feature_names)
  if expl.groups is None and expl.data.ndim == 2:
    feature = expl.data
  else:
    feature = None  # Group values have no single feature value to colour by.
  order = np.argsort(-np.abs(phi).mean(0))[:max_display][::-1]
  rng = np.random.default_rng(seed)
  fig, ax = plt.subplots(figsize=(8, 0.4 * len(order) + 1.5))
  cmap = matplotlib.colors.LinearSegmentedColormap.from_list('shap', [BLUE, RED])
  for y, j in enumerate(order):
    vals = phi[:, j]
    # Jitter grows with local density, so the swarm shows where values pile up.
    hist, edges = np.histogram(vals, bins=min(50, max(n, 1)))
    density = hist[np.clip(np.digitize(vals, edges) - 1, 0, len(hist) - 1)]
    spread = 0.4 * density / max(hist.max(), 1)
    jitter = rng.uniform(-1, 1, n) * spread
    if feature is not None:
      col = feature[:, j].astype(np.float64)
      lo, hi = np.nanpercentile(col, [5, 95])
      c = np.clip((col - lo) / (hi - lo), 0, 1) if hi > lo else np.full(n, 0.5)
      ax.scatter(vals, y + jitter, c=c, cmap=cmap, vmin=0, vmax=1, s=10,
                 alpha=0.8, linewidths=0)
    else:
      ax.scatter(vals, y + jitter, color='grey', s=10, alpha=0.8, linewidths=0)
  ax.axvline(0, color='grey', lw=0.8)
  ax.set_yticks(range(len(order)), [names[j] for j in order], fontsize=8)
  ax.set_xlabel('Shapley value (impact on the model output)')
  ax.set_title(title or f'{expl.method} Shapley values, {n} rows')
  if feature is not None:
    sm = matplotlib.cm.ScalarMappable(cmap=cmap)
    bar = fig.colorbar(sm, ax=ax, ticks=[0, 1], aspect=40)
    bar.ax.set_yticklabels(['low', 'high'])
    bar.set_label('feature value')
  return _save(fig, path)


def image_attribution(expl, row, path, *, output=None, title=None):
  """An image row of `expl` beside its values spread over the pixels."""
  output = _pick_output(expl, output)
  image = np.asarray(expl.data[row], np.float64)
  heat = expl.feature_values()[row]
  if output is not None:
    heat = heat[..., output]
  if image.ndim == 3:
    heat = heat.sum(-1)  # Channels of one pixel share a group; sum them.
    image = image[..., 0] if image.shape[-1] == 1 else image / max(image.max(), 1)
  lim = np.abs(heat).max() or 1.0
  fig, axes = plt.subplots(1, 2, figsize=(6, 3))
  axes[0].imshow(image, cmap='gray' if image.ndim == 2 else None)
  axes[0].set_title('input')
  axes[1].imshow(image if image.ndim == 2 else image.mean(-1), cmap='gray',
                 alpha=0.3)
  im = axes[1].imshow(heat, cmap='bwr', vmin=-lim, vmax=lim, alpha=0.6)
  axes[1].set_title(title or expl.method)
  for a in axes:
    a.axis('off')
  fig.colorbar(im, ax=axes[1], fraction=0.046)
  return _save(fig, path)


def error_vs_budget(curves, path, *, xlabel='coalitions valued per row',
                    ylabel='mean |phi - phi_exact|', title=None):
  """curves: {label: (budgets, errors)}; log-log lines."""
  fig, ax = plt.subplots(figsize=(6, 4))
  for label, (budgets, errors) in curves.items():
    ax.loglog(budgets, errors, marker='o', label=label)
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.grid(True, which='both', alpha=0.3)
  ax.legend()
  if title:
    ax.set_title(title)
  return _save(fig, path)


__all__ = ('waterfall', 'beeswarm', 'image_attribution', 'error_vs_budget')
