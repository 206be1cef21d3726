"""Entry for Bradley-Terry configs (`config.entry = 'ranking.run'`).

Loads `config.data`, fits the point estimate (MLE, or MAP under
`config.prior`), samples the posterior of the log-strengths with NUTS
(`config.posterior`, unless posterior.num_draws = 0), optionally scores a
held-out football season, and writes into the workdir

  ranking.txt / .json  one row per player, strongest first: games won /
                       lost / tied, centred log-strength with its standard
                       error and Wald interval, and from the posterior its
                       mean, central interval, P(best), P(top k), mean rank
  ranking.png          the log-strengths with their intervals, and P(best)
                       and P(top k) per player
  final_metrics.json   log-likelihood, iterations, home and tie parameters
                       with standard errors, sampler diagnostics, held-out
                       log-loss against the base rates

The run is deterministic given the config (seeded NUTS), so running again
in the same workdir recomputes the same files. `common.record.commit` is
called once the data are loaded and the model can be fitted (an MLE that
does not exist stops before any record, with the fix in one line).
"""
import json
import os

import jax
import numpy as np
from scipy import stats

from common import metrics as metrics_lib
from common import record
from common.errors import ConfigError
from ranking import data as data_lib
from ranking import models
from ranking import posterior as posterior_lib


def example_config(name='baseball', **overrides):
  """A complete config with every key `main` reads and its default (what a
  configs/ranking_<data>.py returns; tests build theirs from it)."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  c = ml_collections.ConfigDict()
  c.entry = 'ranking.run'
  c.seed = 0                   # NUTS chains.
  c.data = ml_collections.ConfigDict()
  c.data.name = name           # baseball | football | icehockey
  c.data.path = ''             # '' = the embedded baseball copy, or
                               # ../shared/data/pairwise/<name>.csv
  c.data.seasons = ''          # football: comma-separated seasons to fit
                               # ('' = all but data.test_season)
  c.data.test_season = ''      # football: a season scored out of sample
  c.model = ml_collections.ConfigDict()
  c.model.home = True          # Home advantage (every data set has it).
  c.model.ties = 'auto'        # auto | none | half | davidson
  c.prior = ml_collections.ConfigDict()
  c.prior.kind = 'none'        # none (MLE) | gamma | normal (MAP)
  c.prior.shape = 2.0          # gamma: a (> 1)
  c.prior.rate = 1.0           # gamma: b
  c.prior.scale = 1.0          # normal: sd of each log-strength
  c.fit = ml_collections.ConfigDict()
  c.fit.method = 'auto'        # auto | mm | newman | newton
  c.fit.tol = 1e-10            # Largest change of a log-parameter.
  c.fit.max_iter = 100000
  c.posterior = ml_collections.ConfigDict()
  c.posterior.prior = 'normal'  # normal | gamma, with prior.shape/rate/scale
  c.posterior.num_chains = 4
  c.posterior.num_warmup = 500
  c.posterior.num_draws = 1000  # 0 = no posterior
  c.posterior.max_depth = 10
  c.top_k = 3                  # P(top k) column.
  c.level = 0.95               # Interval level.
  c.update(overrides)
  return c


def load_data(config):
  """The config's comparisons, the players without games dropped, and the
  held-out rows (football's data.test_season) or None."""
  name, path = config.data.name, config.data.path or None
  if name not in data_lib.DATASETS:
    raise ConfigError(f'data.name={name!r} is unknown; use one of '
                      f'{list(data_lib.DATASETS)}')
  seasons = [s for s in config.data.seasons.split(',') if s]
  test = config.data.test_season
  if (seasons or test) and name != 'football':
    raise ConfigError('data.seasons and data.test_season apply to football '
                      f'only (data.name={name!r})')
  if name == 'football':
    full = data_lib.load_football(path)
    known = sorted(set(full.extra['season'].tolist()))
    for s in seasons + ([test] if test else []):
      if s not in known:
        raise ConfigError(f'season {s!r} is not in the football data; '
                          f'seasons: {known}')
    season = full.extra['season']
    train_mask = np.isin(season, seasons) if seasons else np.ones(len(season),
                                                                  bool)
    if test:
      if test in seasons:
        raise ConfigError(f'data.test_season={test!r} is also in data.seasons;'
                          ' hold it out')
      train_mask &= season != test
    data = data_lib.compact(full.select(train_mask))
    held_out = full.select(season == test) if test else None
    return data, held_out
  return data_lib.compact(data_lib.load(name, path)), None


def _prior(cfg):
  return models.Prior(cfg.kind, float(cfg.shape), float(cfg.rate),
                      float(cfg.scale))


def check_config(config):
  if not 0 < config.level < 1:
    raise ConfigError(f'level must be in (0, 1); got {config.level}')
  if config.top_k < 1:
    raise ConfigError(f'top_k must be >= 1; got {config.top_k}')
  if config.fit.method not in models.METHODS:
    raise ConfigError(f'fit.method={config.fit.method!r} is unknown; use one '
                      f'of {list(models.METHODS)}')
  if config.model.ties not in models.TIES:
    raise ConfigError(f'model.ties={config.model.ties!r} is unknown; use one '
                      f'of {list(models.TIES)}')
  post = config.posterior
  if post.num_draws > 0:
    if post.prior not in ('normal', 'gamma'):
      raise ConfigError(f"posterior.prior={post.prior!r}: use 'normal' or "
                        "'gamma' (the posterior needs a proper prior)")
    import hmc  # pylint: disable=g-import-not-at-top
    hmc.check_settings('nuts', post.num_warmup, post.num_draws,
                       max_depth=post.max_depth)
    if post.num_chains < 1:
      raise ConfigError(f'posterior.num_chains must be >= 1; got '
                        f'{post.num_chains}')


def main(config, workdir):
  check_config(config)
  data, held_out = load_data(config)
  prior = _prior(config.prior)
  ties = models.resolve_ties(data, config.model.ties)
  if config.top_k > data.num_players:
    raise ConfigError(f'top_k={config.top_k} exceeds the {data.num_players} '
                      'players')
  post_prior = None
  if config.posterior.num_draws > 0:
    post_prior = models.Prior(config.posterior.prior, prior.shape, prior.rate,
                              prior.scale)
    posterior_lib.target(data, config.model.home, ties, post_prior)
  # Raises the one-line DataError when the MLE does not exist, before any
  # record is written.
  fit = models.fit(data, config.model.home, ties, prior, config.fit.method,
                   config.fit.tol, config.fit.max_iter)
  record.commit(config, workdir)  # Data, model and prior are valid: record.
  metrics_lib.log('%s: %d players, %d games; %s fit by %s in %d steps '
                  '(%.3f s incl. compile), log-likelihood %.4f',
                  config.data.name, data.num_players, data.num_games,
                  'MLE' if prior.kind == 'none' else f'MAP ({prior.kind})',
                  fit.method, fit.iterations, fit.run_s, fit.log_likelihood)
  if not fit.converged:
    metrics_lib.log('warning: the fit stopped at fit.max_iter=%d before '
                    'reaching fit.tol', config.fit.max_iter)
  post = None
  if post_prior is not None:
    post = posterior_lib.sample(
        data, config.seed, config.model.home, ties, post_prior,
        config.posterior.num_chains, config.posterior.num_warmup,
        config.posterior.num_draws, config.top_k, config.posterior.max_depth)
    metrics_lib.log('NUTS: compiled in %.1f s, %d chains x (%d + %d) in '
                    '%.2f s', post.result.compile_s,
                    config.posterior.num_chains, config.posterior.num_warmup,
                    config.posterior.num_draws, post.result.run_s)
  rows = table_rows(data, fit, post, config.level)
  final = summarise(data, fit, post, ties)
  if held_out is not None:
    final.update(held_out_scores(data, fit, held_out))
  text = format_table(rows, fit, post, config.level)
  metrics_lib.log('\n%s', text)
  metrics_lib.log('final: %s', ' '.join(
      f'{k}={v:.5g}' if isinstance(v, float) else f'{k}={v}'
      for k, v in final.items()))
  if jax.process_index() == 0:
    write_outputs(workdir, rows, text, final, config)
  return final


def table_rows(data, fit, post, level):
  """One dict per player, strongest (point estimate) first."""
  z = stats.norm.ppf(0.5 + level / 2)
  wins, losses, ties = data.totals()
  centred = fit.centred
  out = []
  order = (np.argsort(-post.centred.mean((0, 1)), kind='stable')
           if post is not None else fit.order())
  for rank, k in enumerate(order, 1):
    row = {'rank': rank, 'player': data.names[k], 'won': float(wins[k]),
           'lost': float(losses[k]), 'tied': float(ties[k]),
           'log_strength': float(centred[k])}
    if fit.se is not None:
      row.update(se=float(fit.se[k]), lo=float(centred[k] - z * fit.se[k]),
                 hi=float(centred[k] + z * fit.se[k]))
    if post is not None:
      c = post.centred[..., k]
      lo, hi = np.quantile(c, [0.5 - level / 2, 0.5 + level / 2])
      row.update(post_mean=float(c.mean()), post_lo=float(lo),
                 post_hi=float(hi), p_best=float(post.p_best[k]),
                 p_top=float(post.p_top[k]),
                 mean_rank=float(post.mean_rank[k]))
    out.append(row)
  return out


def format_table(rows, fit, post, level):
  pct = f'{100 * level:g}%'
  head = (f'{"rank":>4} {"player":<20} {"W":>6} {"L":>6} {"T":>5} '
          f'{"log-str":>8} {"se":>6} {pct + " interval":>17}')
  if post is not None:
    head += (f' | {"post mean":>9} {pct + " post. int.":>18} {"P(best)":>8} '
             f'{f"P(top {post.top_k})":>9} {"E rank":>6}')
  lines = [head]
  for r in rows:
    line = (f'{r["rank"]:4d} {r["player"][:20]:<20} {r["won"]:6g} '
            f'{r["lost"]:6g} {r["tied"]:5g} {r["log_strength"]:8.3f}')
    line += (f' {r["se"]:6.3f} [{r["lo"]:6.3f}, {r["hi"]:6.3f}]'
             if 'se' in r else ' ' * 24)
    if post is not None:
      line += (f' | {r["post_mean"]:9.3f}   [{r["post_lo"]:6.3f}, '
               f'{r["post_hi"]:6.3f}] {r["p_best"]:8.3f} {r["p_top"]:9.3f} '
               f'{r["mean_rank"]:6.2f}')
    lines.append(line)
  notes = ['log-strengths are centred (mean 0); ' +
           ('MLE' if fit.prior.kind == 'none' else
            f'MAP under the {fit.prior.kind} prior') +
           f' by {fit.method}, Wald intervals from the observed information']
  if fit.home is not None:
    notes.append(f'home advantage log theta = {fit.home:.4f} '
                 f'(se {fit.home_se:.4f}), theta = {np.exp(fit.home):.3f}')
  if fit.tie is not None:
    notes.append(f'Davidson tie log nu = {fit.tie:.4f} (se {fit.tie_se:.4f})')
  return '\n'.join(lines + notes)


def summarise(data, fit, post, ties):
  out = {'num_players': data.num_players, 'num_games': data.num_games,
         'log_likelihood': fit.log_likelihood, 'objective': fit.objective,
         'iterations': fit.iterations, 'converged': fit.converged,
         'method': fit.method, 'ties': ties, 'fit_s': fit.run_s,
         'top_player': data.names[int(fit.order()[0])]}
  if fit.home is not None:
    out.update(home=fit.home, home_se=fit.home_se)
  if fit.tie is not None:
    out.update(tie=fit.tie, tie_se=fit.tie_se)
  if post is not None:
    rows = post.summary
    out.update(
        posterior_min_ess_bulk=float(min(r['ess_bulk'] for r in rows)),
        posterior_max_rhat=float(max(r['rhat'] for r in rows)),
        posterior_divergences=int(np.sum(post.result.info.is_divergent)),
        posterior_compile_s=post.result.compile_s,
        posterior_run_s=post.result.run_s,
        posterior_top_player=data.names[int(np.argmax(post.p_best))],
        posterior_p_best_max=float(np.max(post.p_best)))
  return out


def base_rates(data):
  """Frequencies of (first-player win, tie, second-player win) over games."""
  total = data.num_games
  return (float(np.sum(data.wins_i)) / total, float(np.sum(data.ties)) / total,
          float(np.sum(data.wins_j)) / total)


def held_out_scores(train, fit, test):
  """Mean log-loss per game on the held-out rows whose teams the fit knows,
  for the model and for the training base rates of home win / draw / away
  win (the benchmark any model must beat)."""
  rows, dropped = data_lib.reindex(test, train.names)
  p = base_rates(train)
  with np.errstate(divide='ignore'):
    base = -float(np.sum(rows.wins_i * np.log(p[0]) + rows.ties * np.log(p[1])
                         + rows.wins_j * np.log(p[2]))) / rows.num_games
  return {'test_games': rows.num_games, 'test_games_unseen_team': dropped,
          'test_log_loss': models.log_loss(fit, rows),
          'test_base_rate_log_loss': base}


def write_outputs(workdir, rows, text, final, config):
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, 'ranking.txt'), 'w') as f:
    f.write(text + '\n')
  with open(os.path.join(workdir, 'ranking.json'), 'w') as f:
    json.dump(rows, f, indent=1)
  with open(os.path.join(workdir, 'final_metrics.json'), 'w') as f:
    json.dump(final, f, indent=1)
  plot(os.path.join(workdir, 'ranking.png'), rows, config)


def plot(path, rows, config):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  n = len(rows)
  has_post = 'post_mean' in rows[0]
  fig, axes = plt.subplots(1, 2 if has_post else 1, squeeze=False,
                           figsize=(11 if has_post else 6, 1.5 + 0.28 * n),
                           gridspec_kw={'width_ratios': [3, 2]} if has_post
                           else None)
  y = np.arange(n)[::-1]
  ax = axes[0, 0]
  est = np.array([r['log_strength'] for r in rows])
  if 'se' in rows[0]:
    lo = np.array([r['lo'] for r in rows])
    hi = np.array([r['hi'] for r in rows])
    ax.errorbar(est, y + 0.15, xerr=[est - lo, hi - est], fmt='o', ms=3,
                label='point estimate, Wald interval')
  else:
    ax.plot(est, y + 0.15, 'o', ms=3, label='point estimate')
  if has_post:
    m = np.array([r['post_mean'] for r in rows])
    lo = np.array([r['post_lo'] for r in rows])
    hi = np.array([r['post_hi'] for r in rows])
    ax.errorbar(m, y - 0.15, xerr=[m - lo, hi - m], fmt='s', ms=3,
                label='posterior mean, central interval')
  ax.set_yticks(y)
  ax.set_yticklabels([r['player'] for r in rows], fontsize=8)
  ax.axvline(0, color='grey', lw=0.5)
  ax.set_xlabel(f'centred log-strength ({100 * config.level:g}% intervals)')
  ax.legend(fontsize=7, loc='lower right')
  ax.set_title(f'Bradley-Terry: {config.data.name}')
  if has_post:
    ax = axes[0, 1]
    ax.barh(y + 0.2, [r['p_best'] for r in rows], 0.4, label='P(best)')
    ax.barh(y - 0.2, [r['p_top'] for r in rows], 0.4,
            label=f'P(top {config.top_k})')
    ax.set_yticks(y)
    ax.set_yticklabels([])
    ax.set_xlim(0, 1)
    ax.legend(fontsize=7, loc='lower right')
    ax.set_title('rank probabilities (posterior)')
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)
