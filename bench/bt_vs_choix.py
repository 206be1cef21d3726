"""Our Bradley-Terry fits (ranking/) against choix 0.4.1 (a benchmark-only
dependency: pip install choix==0.4.1).

  python bench/bt_vs_choix.py [--data_dir=../shared/data/pairwise]
      [--repeats=5] [--big_players=10000] [--big_games=1000000]
      [--big_timeout=60] [--out=bench/results/bt_vs_choix.json]

The model both sides fit is choix's: plain Bradley-Terry, no home
advantage, no tie parameter. Ties (football draws, ice-hockey ties) count
as half a win for each side: ours with ties='half', choix's by doubling
every game into two (winner, loser) pairs and a tie into one pair each way,
which has the same likelihood up to a factor 2 and the same optimum.

Estimates (centred log-strengths, choix's convention) are compared by the
largest absolute difference:
  * MLE: ours by Newman's iteration (ranking 'newman'), Hunter's MM
    ('mm') and Newton ('newton'), against choix `mm_pairwise`,
    `ilsr_pairwise` (alpha=0) and `opt_pairwise` (alpha=1e-6, its default,
    close to the MLE);
  * with alpha (on choix's doubled pairs, so the prior weighs half as much
    against the data as on ours): `opt_pairwise(alpha=a)` minimises
    -2 loglik + a sum(s^2), the MAP under N(0, 1/a) on each log-strength,
    ours with prior='normal', scale = 1/sqrt(a); `mm_pairwise(alpha=a)`
    iterates pi <- (2W + a) / (2D + a) and renormalises to mean strength 1,
    the update of our gamma-prior MAP with shape 1 + a/2, rate a/2 (Caron &
    Doucet 2012), whose optimal scale n (a - 1) / b is that same mean 1, so
    both reach the same MAP (`log_posterior_gamma` reported for every row);
    `ilsr_pairwise(alpha=a)`
    adds a to every Markov-chain rate, a regularisation with no prior of
    ours to match, so only its distance to the MLE is reported.
Tolerances: ours tol=1e-10 on the largest log-parameter step; choix's
defaults (mm and ilsr: L1 norm of the step < 1e-8; opt: Newton-CG xtol
1e-5, so its differences are ~1e-6 rather than 1e-9).

Wall time: ours compiled (the first call's excess over the median is
reported as compile time), the jitted solver alone (`solver_s`) and the
whole `ranking.fit` call with its input checks (`fit_s`); choix single
process; medians over --repeats. On the generated --big_players /
--big_games set (strengths N(0, 1)), choix's pure-Python loops over games
(and ilsr's dense n x n chain) are run in a subprocess under --big_timeout
seconds each; one sweep of its MM and one objective+gradient of opt are
timed as lower bounds.

Also: the out-of-sample log-loss of the Premier League model (home
advantage, Davidson ties) fitted on four seasons and scored on the fifth,
against the training base rates of home win / draw / away win.
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import choix  # pylint: disable=g-import-not-at-top
import jax
import jax.numpy as jnp
import numpy as np
from absl import app
from absl import flags

import ranking
from ranking import models
from ranking import run as run_lib

_DATA = flags.DEFINE_string(
    'data_dir', os.path.join(ROOT, '..', 'shared', 'data', 'pairwise'),
    'Folder with football.csv and icehockey.csv (baseball is embedded).')
_REPEATS = flags.DEFINE_integer('repeats', 5, 'Timed repeats (median).')
_BIG_PLAYERS = flags.DEFINE_integer('big_players', 10000, 'Generated set.')
_BIG_GAMES = flags.DEFINE_integer('big_games', 1000000, 'Generated set.')
_BIG_TIMEOUT = flags.DEFINE_integer('big_timeout', 60,
                                    'Seconds per choix call on the big set.')
_ALPHA = flags.DEFINE_float('alpha', 0.1, 'choix alpha for the MAP rows.')
_OUT = flags.DEFINE_string(
    'out', os.path.join(ROOT, 'bench', 'results', 'bt_vs_choix.json'),
    'Where to write the results.')
_WORKER = flags.DEFINE_string('worker', '', 'internal: run one choix call.')


def choix_pairs(data):
  """(winner, loser) pairs, every game twice and a tie once each way."""
  out = []
  for i, j, a, b, t in zip(data.i, data.j, data.wins_i, data.wins_j,
                           data.ties):
    out += [(int(i), int(j))] * int(round(2 * a))
    out += [(int(j), int(i))] * int(round(2 * b))
    out += [(int(i), int(j)), (int(j), int(i))] * int(round(t))
  return out


def timed(fn, repeats):
  """(median seconds, first-call seconds, result)."""
  start = time.time()
  out = fn()
  first = time.time() - start
  times = []
  for _ in range(repeats):
    start = time.time()
    out = fn()
    times.append(time.time() - start)
  return float(np.median(times)), first, out


def centred(x):
  x = np.asarray(x, np.float64)
  return x - x.mean()


def ours_solver(data, method, prior, repeats):
  """Times the jitted iteration alone (MM / Newman) on device arrays."""
  with jax.enable_x64(True):
    r = models.rows(data, 'half')
    n = data.num_players
    prior = models.as_prior(prior)
    shape_m1, rate = ((prior.shape - 1., prior.rate) if prior.kind == 'gamma'
                      else (0., 0.))

    def call():
      s, _, k = models.iterate(r, jnp.zeros(n), jnp.zeros(()), n=n,
                               method=method, with_home=False,
                               shape_m1=float(shape_m1), rate=float(rate),
                               tol=1e-10, max_iter=100_000)
      return jax.block_until_ready(s), int(k)

    med, first, (s, k) = timed(call, repeats)
  return {'solver_s': med, 'compile_s': max(first - med, 0.),
          'iterations': k}, np.asarray(s)


def ours(data, method, prior, repeats, solver=True):
  med, first, fit = timed(lambda: ranking.fit(
      data, ties='half', prior=prior, method=method, errors=False), repeats)
  row = {'fit_s': med, 'first_call_s': first, 'iterations': fit.iterations,
         'converged': fit.converged}
  if solver and method in ('mm', 'newman'):
    row.update(ours_solver(data, method, prior, repeats)[0])
  return row, fit.centred


def log_posterior_gamma(centred_s, data, prior):
  """Log-likelihood + log Gamma(a, b) density of the strengths (in pi, as
  the MAP), at the best common scale of the centred log-strengths (their
  scale is not identified by a centred estimate)."""
  n = len(centred_s)
  s = centred_s + np.log(n * (prior.shape - 1) / prior.rate) - np.log(
      np.sum(np.exp(centred_s)))
  return (ranking.log_likelihood_of(s, data, ties='half') +
          float(np.sum((prior.shape - 1) * s - prior.rate * np.exp(s))))


def compare_small(name, data, repeats, alpha):
  pairs = choix_pairs(data)
  n = data.num_players
  rows = {}
  est = {}
  for method in ('newman', 'mm', 'newton'):
    rows[f'ours_mle_{method}'], est[f'ours_mle_{method}'] = ours(
        data, method, None, repeats)
  # choix sees every game twice (ties as half wins), so its alpha weighs
  # half as much against the data as the same prior on our counts: its
  # penalty alpha * sum(s^2) on the doubled data is N(0, 1/alpha) on ours,
  # and pi <- (2W + alpha) / (2D + alpha) is Gamma(1 + alpha/2, alpha/2).
  normal = ranking.Prior('normal', scale=1. / np.sqrt(alpha))
  gamma = ranking.Prior('gamma', shape=1. + alpha / 2, rate=alpha / 2)
  rows['ours_map_normal_newton'], est['ours_map_normal_newton'] = ours(
      data, 'newton', normal, repeats)
  for method in ('newman', 'mm'):
    rows[f'ours_map_gamma_{method}'], est[f'ours_map_gamma_{method}'] = ours(
        data, method, gamma, repeats)
  calls = {
      'choix_mm_pairwise': lambda: choix.mm_pairwise(n, pairs),
      'choix_ilsr_pairwise': lambda: choix.ilsr_pairwise(n, pairs),
      'choix_opt_pairwise': lambda: choix.opt_pairwise(n, pairs),
      f'choix_opt_pairwise_alpha{alpha:g}': lambda: choix.opt_pairwise(
          n, pairs, alpha=alpha),
      f'choix_mm_pairwise_alpha{alpha:g}': lambda: choix.mm_pairwise(
          n, pairs, alpha=alpha),
      f'choix_ilsr_pairwise_alpha{alpha:g}': lambda: choix.ilsr_pairwise(
          n, pairs, alpha=alpha),
  }
  for key, call in calls.items():
    med, _, out = timed(call, repeats)
    rows[key] = {'fit_s': med}
    est[key] = centred(out)
  mle = est['ours_mle_newman']
  for key in rows:
    rows[key]['max_abs_diff_vs_ours_mle'] = float(np.max(np.abs(est[key] -
                                                                mle)))
  pairs_to_check = {
      'choix_mm_pairwise': 'ours_mle_newman',
      'choix_ilsr_pairwise': 'ours_mle_newman',
      'choix_opt_pairwise': 'ours_mle_newman',
      f'choix_opt_pairwise_alpha{alpha:g}': 'ours_map_normal_newton',
      f'choix_mm_pairwise_alpha{alpha:g}': 'ours_map_gamma_newman',
  }
  for theirs, mine in pairs_to_check.items():
    rows[theirs]['matched_with'] = mine
    rows[theirs]['max_abs_diff_vs_matched'] = float(
        np.max(np.abs(est[theirs] - est[mine])))
  for key in rows:
    rows[key]['log_likelihood'] = ranking.log_likelihood_of(est[key], data,
                                                            ties='half')
    rows[key]['log_posterior_gamma'] = log_posterior_gamma(est[key], data,
                                                           gamma)
  return {'players': n, 'games': data.num_games, 'rows': data.num_rows,
          'choix_pairs': len(pairs), 'results': rows}


def worker(spec):
  """One choix call on the big generated set, in its own process."""
  method, players, games = spec.split(':')
  data, _ = ranking.generate(0, int(players), int(games))
  pairs = choix_pairs(data)
  start = time.time()
  getattr(choix, method)(int(players), pairs)
  print(json.dumps({'fit_s': time.time() - start}))


def compare_big(players, games, repeats, timeout):
  start = time.time()
  data, truth = ranking.generate(0, players, games)
  gen_s = time.time() - start
  out = {'players': players, 'games': games, 'generate_s': gen_s,
         'results': {}}
  res = out['results']
  est = {}
  for method in ('newman', 'mm'):
    row, est[method] = ours(data, method, None, repeats)
    res[f'ours_mle_{method}'] = row
  gamma = ranking.Prior('gamma', shape=1. + _ALPHA.value, rate=_ALPHA.value)
  res['ours_map_gamma_newman'], est['map'] = ours(data, 'newman', gamma,
                                                  repeats)
  for key, e in (('ours_mle_newman', est['newman']),
                 ('ours_mle_mm', est['mm']),
                 ('ours_map_gamma_newman', est['map'])):
    res[key]['max_abs_diff_vs_newman'] = float(np.max(np.abs(
        e - est['newman'])))
    res[key]['corr_with_truth'] = float(np.corrcoef(e, truth)[0, 1])
    res[key]['rmse_vs_truth'] = float(np.sqrt(np.mean((e - truth)**2)))
  # Lower bounds for choix: one sweep of its MM, one objective + gradient.
  pairs = choix_pairs(data)
  params = np.zeros(players)
  start = time.time()
  # pylint: disable-next=protected-access
  choix.mm._mm_pairwise(players, pairs, params)
  sweep = time.time() - start
  fcts = choix.opt.PairwiseFcts(pairs, 1e-6)
  start = time.time()
  fcts.objective(params)
  fcts.gradient(params)
  obj_grad = time.time() - start
  res['choix_mm_pairwise_one_sweep'] = {
      'fit_s_lower_bound': sweep,
      'estimated_total_s': sweep * res['ours_mle_mm']['iterations'],
      'note': 'one Python sweep over the pairs x our MM iteration count'}
  res['choix_opt_pairwise_one_objective_and_gradient'] = {
      'fit_s_lower_bound': obj_grad}
  del pairs, fcts
  for method in ('mm_pairwise', 'ilsr_pairwise', 'opt_pairwise'):
    try:
      proc = subprocess.run(
          [sys.executable, os.path.abspath(__file__),
           f'--worker={method}:{players}:{games}'], capture_output=True,
          text=True, timeout=timeout, check=True)
      res[f'choix_{method}'] = json.loads(proc.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
      res[f'choix_{method}'] = {'fit_s': None,
                                'timed_out_after_s': timeout}
    except subprocess.CalledProcessError as e:
      res[f'choix_{method}'] = {'error': e.stderr[-300:]}
  return out


def football_held_out():
  """Fit on four seasons (home advantage, Davidson ties), score the fifth,
  for each choice of held-out season."""
  full = ranking.load_football(os.path.join(_DATA.value, 'football.csv'))
  seasons = sorted(set(full.extra['season'].tolist()))
  out = {}
  for test in seasons:
    season = full.extra['season']
    train = ranking.compact(full.select(season != test))
    held = full.select(season == test)
    row = {}
    for label, prior in (('mle', None),
                         ('map_normal1', ranking.Prior('normal', scale=1.))):
      fit = ranking.fit(train, home=True, ties='davidson', prior=prior,
                        errors=False)
      scores = run_lib.held_out_scores(train, fit, held)
      row[label] = scores['test_log_loss']
      row['base_rates'] = scores['test_base_rate_log_loss']
      row['games_scored'] = scores['test_games']
      row['games_with_unseen_team'] = scores['test_games_unseen_team']
    out[test] = row
  return out


def main(_):
  if _WORKER.value:
    worker(_WORKER.value)
    return
  results = {'settings': {
      'choix': choix.__version__ if hasattr(choix, '__version__') else '0.4.1',
      'repeats': _REPEATS.value, 'alpha': _ALPHA.value,
      'model': 'plain Bradley-Terry, ties as half wins, no home advantage',
      'dtype': 'float64 (ours), float64 (choix)',
      'jax_backend': jax.default_backend(), 'cpus': os.cpu_count()}}
  sets = {'baseball': ranking.load('baseball'),
          'football': ranking.load('football',
                                   os.path.join(_DATA.value, 'football.csv')),
          'icehockey': ranking.load('icehockey',
                                    os.path.join(_DATA.value,
                                                 'icehockey.csv'))}
  for name, data in sets.items():
    print(f'== {name}', flush=True)
    results[name] = compare_small(name, data, _REPEATS.value, _ALPHA.value)
    print(json.dumps(results[name]['results'], indent=1), flush=True)
  print('== football held out', flush=True)
  results['football_held_out'] = football_held_out()
  print(json.dumps(results['football_held_out'], indent=1), flush=True)
  if _BIG_GAMES.value > 0:
    print(f'== generated {_BIG_PLAYERS.value} x {_BIG_GAMES.value}',
          flush=True)
    results['generated'] = compare_big(_BIG_PLAYERS.value, _BIG_GAMES.value,
                                       min(_REPEATS.value, 3),
                                       _BIG_TIMEOUT.value)
    print(json.dumps(results['generated'], indent=1), flush=True)
  os.makedirs(os.path.dirname(_OUT.value), exist_ok=True)
  with open(_OUT.value, 'w') as f:
    json.dump(results, f, indent=1)
  print('wrote', _OUT.value)


if __name__ == '__main__':
  app.run(main)
