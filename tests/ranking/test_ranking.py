"""Bradley-Terry models (ranking/): the MLE against logistic regression, the
MM and Newman iterations against each other and the likelihood equations,
the prior where the MLE does not exist, NUTS against the exact two-player
posterior, bad input, and the config entry (smoke and rerun).

Only the embedded baseball copy (ranking/baseball.csv) and generated data
are read; nothing under ../shared.
"""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special
from scipy import stats
from sklearn.linear_model import LogisticRegression

import hmc
import ranking
from common.errors import ConfigError
from common.errors import DataError
from ranking import models
from ranking import run as run_lib


@pytest.fixture(scope='module')
def baseball():
  return ranking.load('baseball')


def _logistic_regression(data, home):
  """The same model as a logistic regression: one row per game outcome
  (weighted by its count), features e_i - e_j without the last player's
  column (its log-strength is 0) and the home indicator, no intercept, no
  penalty. Returns the log-strengths relative to the last player, and the
  home coefficient."""
  n = data.num_players
  x = np.zeros((data.num_rows, n))
  x[np.arange(data.num_rows), data.i] += 1
  x[np.arange(data.num_rows), data.j] -= 1
  x = x[:, :-1]
  if home:
    x = np.concatenate([x, data.home[:, None]], 1)
  features = np.concatenate([x, x])
  labels = np.concatenate([np.ones(data.num_rows), np.zeros(data.num_rows)])
  weights = np.concatenate([data.wins_i, data.wins_j])
  model = LogisticRegression(C=np.inf, fit_intercept=False,
                             solver='newton-cholesky', tol=1e-14,
                             max_iter=1000)
  model.fit(features, labels, sample_weight=weights)
  coef = model.coef_[0]
  s = np.append(coef[:n - 1], 0.)
  return s, (coef[-1] if home else None)


@pytest.mark.parametrize('home', [False, True])
def test_mle_equals_logistic_regression_and_the_solvers_agree(baseball, home):
  s_ref, h_ref = _logistic_regression(baseball, home)
  steps = {}
  for method in ('newman', 'mm', 'newton'):
    fit = ranking.fit(baseball, home=home, method=method, errors=False)
    assert fit.converged and fit.method == method
    steps[method] = fit.iterations
    s = fit.log_strength - fit.log_strength[-1]
    np.testing.assert_allclose(s, s_ref, atol=1e-6, err_msg=method)
    if home:
      assert abs(fit.home - h_ref) < 1e-6
  # Newman's iteration reaches the same optimum in fewer steps than MM.
  assert steps['newman'] < steps['mm'] / 2
  # BradleyTerry2's published fit of the same table (Turner & Firth,
  # vignette, baseballModel1/2): Milwaukee 1.5814 vs Baltimore, home.adv
  # 0.3023 (se 0.1309).
  fit = ranking.fit(baseball, home=home)
  top = fit.log_strength[baseball.index('Milwaukee')] - fit.log_strength[-1]
  assert top == pytest.approx(1.6196 if home else 1.5814, abs=1e-4)
  if home:
    assert (fit.home, fit.home_se) == pytest.approx((0.3023, 0.1309), abs=1e-4)


def test_mm_increases_the_likelihood_at_every_step_to_the_likelihood_equations(
    baseball):
  with jax.enable_x64(True):
    r = models.rows(baseball, 'none')
    n = baseball.num_players
    step = jax.jit(lambda s, h: models.mm_step(s, h, r, n))
    ll = jax.jit(lambda s, h: models.log_likelihood(s, h, None, r))
    # A poor start, so that there is a long way to climb.
    s, h = jnp.asarray(np.linspace(2., -2., n)), jnp.asarray(-1.)
    values = [float(ll(s, h))]
    for _ in range(300):
      s, h = step(s, h)
      values.append(float(ll(s, h)))
  increments = np.diff(values)
  assert np.all(increments >= -1e-12), increments.min()
  assert values[-1] - values[0] > 10
  # At the fixed point (no home advantage here): wins_i = sum_j n_ij
  # p_i / (p_i + p_j), Hunter (2004) Eq. (2) / Zermelo's equations.
  for method in ('mm', 'newman'):
    fit = ranking.fit(baseball, method=method, errors=False)
    p = fit.strength
    d = baseball
    games = d.wins_i + d.wins_j
    expected = (np.bincount(d.i, games * p[d.i] / (p[d.i] + p[d.j]), n) +
                np.bincount(d.j, games * p[d.j] / (p[d.i] + p[d.j]), n))
    wins, _, _ = d.totals()
    np.testing.assert_allclose(expected, wins, atol=1e-8, err_msg=method)


def test_a_team_that_never_lost_has_no_mle_and_the_prior_keeps_it_finite(
    baseball):
  # Milwaukee wins every one of its games.
  d = baseball
  top = d.index('Milwaukee')
  wins_i = np.where(d.i == top, d.wins_i + d.wins_j, np.where(d.j == top, 0.,
                                                               d.wins_i))
  wins_j = np.where(d.j == top, d.wins_i + d.wins_j, np.where(d.i == top, 0.,
                                                               d.wins_j))
  unbeaten = ranking.comparisons(d.i, d.j, wins_i, wins_j, 0., d.home,
                                 names=d.names)
  with pytest.raises(DataError) as e:
    ranking.fit(unbeaten)
  message = str(e.value)
  assert '\n' not in message and "never lost: 'Milwaukee'" in message
  assert 'prior' in message
  prior = ranking.Prior('gamma', shape=2., rate=1.)
  fits = [ranking.fit(unbeaten, home=True, prior=prior, method=m,
                      errors=False) for m in ('mm', 'newman', 'newton')]
  for f in fits:
    assert f.converged and np.all(np.isfinite(f.log_strength))
    np.testing.assert_allclose(f.log_strength, fits[2].log_strength,
                               atol=1e-7, err_msg=f.method)
    assert f.order()[0] == top
  # The MAP's stationarity in pi (Caron & Doucet 2012): a - 1 + W_i = pi_i
  # (b + sum_j n_ij g / (g pi_i + pi_j)) with g = theta at home.
  f = fits[0]
  p, g = f.strength, np.exp(f.home * unbeaten.home)
  games = wins_i + wins_j
  den = (np.bincount(d.i, games * g / (g * p[d.i] + p[d.j]), d.num_players) +
         np.bincount(d.j, games / (g * p[d.i] + p[d.j]), d.num_players))
  wins, _, _ = unbeaten.totals()
  np.testing.assert_allclose(prior.shape - 1 + wins, p * (prior.rate + den),
                             rtol=1e-8)


def test_davidson_ties_and_home_advantage_recover_generated_parameters():
  data, truth = ranking.generate(1, 12, 6000, scale=0.8, home=0.4, tie=0.6)
  fit = ranking.fit(data, home=True, ties='davidson')
  assert fit.converged and fit.method == 'newton'
  # Within four standard errors of the truth.
  assert abs(fit.home - 0.4) < 4 * fit.home_se
  assert abs(fit.tie - np.log(0.6)) < 4 * fit.tie_se
  assert np.all(np.abs(fit.centred - truth) < 4 * fit.se)
  # Ties scored as ties: the predictions sum to one.
  pi, pt, pj = ranking.predict_proba(fit, data.i[:5], data.j[:5],
                                     data.home[:5])
  np.testing.assert_allclose(pi + pt + pj, 1.)


# Two teams, A and B, in the baseball table's layout: A won 7 of 10.
TWO_TEAMS = """# generated: two teams
home.team,away.team,home.wins,away.wins
A,B,4,1
B,A,2,3
"""
SHAPE, WINS, GAMES = 2., 7., 10.
POSTERIOR = dict(num_chains=4, num_warmup=400, num_draws=1000)


@pytest.fixture(scope='module')
def two_teams(tmp_path_factory):
  path = tmp_path_factory.mktemp('two_teams') / 'two.csv'
  path.write_text(TWO_TEAMS)
  return str(path)


def _exact():
  # pi_A, pi_B iid Gamma(a, b): p = pi_A / (pi_A + pi_B) ~ Beta(a, a)
  # independently of pi_A + pi_B, and the likelihood depends on p alone, so
  # after w wins in m games p ~ Beta(a + w, a + m - w) exactly.
  return stats.beta(SHAPE + WINS, SHAPE + GAMES - WINS)


def test_two_player_posterior_matches_the_beta_posterior(two_teams):
  data = ranking.load('baseball', two_teams)
  assert data.names == ('A', 'B')
  # The same data, prior and sampler settings as the entry test below, so
  # that test finds this compiled sampler in the session's XLA cache.
  post = ranking.sample_posterior(
      data, 0, ties='none', prior=ranking.Prior('gamma', shape=SHAPE),
      **POSTERIOR)
  p = 1. / (1. + np.exp(post.s[..., 1] - post.s[..., 0]))
  exact = _exact()
  ess = hmc.ess_bulk(p)
  assert ess > 1000
  assert abs(p.mean() - exact.mean()) < 4 * exact.std() / np.sqrt(ess)
  for q in (0.1, 0.5, 0.9):
    assert abs(np.mean(p <= exact.ppf(q)) - q) < 0.04
  assert post.p_best[0] == pytest.approx(exact.sf(0.5), abs=0.04)
  assert post.p_best.sum() == pytest.approx(1.)


def test_rank_probabilities_count_ranks_per_draw():
  draws = np.array([[3., 2., 1.], [1., 3., 2.], [2., 1., 3.], [3., 1., 2.]])
  p_best, p_top2, mean_rank = ranking.rank_probabilities(draws, 2)
  np.testing.assert_allclose(p_best, [0.5, 0.25, 0.25])
  np.testing.assert_allclose(p_top2, [0.75, 0.5, 0.75])
  np.testing.assert_allclose(mean_rank, [1.75, 2.25, 2.])


@pytest.mark.parametrize('make, match', [
    (lambda: ranking.comparisons([], [], []), 'empty'),
    (lambda: ranking.comparisons([0, 1], [1, 0], [0., 0.]), 'empty'),
    (lambda: ranking.comparisons([0, 5], [1, 2], 1., num_players=3),
     'player id 5 was never seen'),
    (lambda: ranking.from_pairs(['a', 'z'], ['b', 'a'], names=['a', 'b']),
     "'z' was never seen"),
    (lambda: ranking.comparisons([0, 1], [0, 2], 1.), 'compared with itself'),
    (lambda: ranking.comparisons([0], [1], [-1.]), 'non-negative'),
    (lambda: ranking.load('football', '/nonexistent/football.csv'),
     'data.path'),
    (lambda: ranking.load('chess'), 'unknown data set'),
])
def test_bad_input_is_one_clear_line(make, match):
  with pytest.raises(DataError, match=match) as e:
    make()
  assert '\n' not in str(e.value)


def test_bad_options_are_one_clear_line(baseball, tmp_path):
  with pytest.raises(DataError, match='never seen'):
    ranking.predict_proba(ranking.fit(baseball, errors=False), 'Nobody',
                          'Boston')
  with pytest.raises(ConfigError, match="method='newton'"):
    ranking.fit(ranking.generate(0, 5, 200, tie=0.5)[0], ties='davidson',
                method='mm')
  with pytest.raises(DataError, match="ties='none'"):
    ranking.fit(baseball, ties='davidson')
  with pytest.raises(ConfigError, match='shape > 1'):
    ranking.Prior('gamma', shape=1.)
  with pytest.raises(ConfigError, match='proper prior'):
    ranking.posterior_target(baseball, prior='none')
  # An unknown data set stops before any record is written.
  config = run_lib.example_config('chess')
  with pytest.raises(ConfigError, match='data.name'):
    run_lib.main(config, str(tmp_path / 'bad'))
  assert not os.path.exists(tmp_path / 'bad' / 'config.json')
  config = run_lib.example_config('baseball')
  config.data.test_season = '2012-13'
  with pytest.raises(ConfigError, match='football only'):
    run_lib.main(config, str(tmp_path / 'bad'))
  assert not os.path.exists(tmp_path / 'bad' / 'config.json')


def test_entry_smoke_and_rerun(two_teams, tmp_path):
  config = run_lib.example_config('baseball')
  config.data.path = two_teams
  config.model.home = False
  config.prior.kind = 'gamma'
  config.prior.shape = SHAPE
  config.posterior.prior = 'gamma'
  config.posterior.update(POSTERIOR)
  config.top_k = 1
  workdir = str(tmp_path / 'two_teams')
  final = run_lib.main(config, workdir)
  for name in ('config.json', 'ranking.txt', 'ranking.json', 'ranking.png',
               'final_metrics.json'):
    assert os.path.exists(os.path.join(workdir, name)), name
  with open(os.path.join(workdir, 'ranking.json')) as f:
    rows = json.load(f)
  assert [r['player'] for r in rows] == ['A', 'B']
  assert all(r['lo'] < r['log_strength'] < r['hi'] for r in rows)
  # The centred log-strength of A is logit(p) / 2: its posterior mean and
  # interval against the exact Beta posterior of p.
  exact = _exact()
  a = rows[0]
  mean = (special.digamma(exact.args[0]) - special.digamma(exact.args[1])) / 2
  assert a['post_mean'] == pytest.approx(mean, abs=0.05)
  lo, hi = special.logit(exact.ppf([0.025, 0.975])) / 2
  assert (a['post_lo'], a['post_hi']) == pytest.approx((lo, hi), abs=0.08)
  assert a['p_best'] == pytest.approx(exact.sf(0.5), abs=0.04)
  assert a['p_best'] + rows[1]['p_best'] == pytest.approx(1.)
  assert final['posterior_max_rhat'] < 1.05
  # Run again in the same workdir (resume): the same numbers, one record.
  again = run_lib.main(config, workdir)
  assert again == final | {'fit_s': again['fit_s'],
                           'posterior_compile_s': again['posterior_compile_s'],
                           'posterior_run_s': again['posterior_run_s']}
  assert not os.path.exists(os.path.join(workdir, 'config.1.json'))


def test_entry_on_the_embedded_baseball_table(tmp_path):
  config = run_lib.example_config('baseball')
  config.posterior.num_draws = 0  # Point estimates only (sampled above).
  final = run_lib.main(config, str(tmp_path / 'baseball'))
  assert final['home'] == pytest.approx(0.3023, abs=1e-4)
  assert final['top_player'] == 'Milwaukee' and final['converged']
  with open(tmp_path / 'baseball' / 'ranking.txt') as f:
    assert 'Milwaukee' in f.readline() or 'Milwaukee' in f.readline()
