"""Our Gaussian BBVI (vi/bbvi.py) against NumPyro's SVI and BlackJAX's VI.

  pip install -r requirements-bench.txt
  python bench/vi_vs_peers.py [--targets=linear_regression,eight_schools]
      [--seeds=0,1,2,3,4] [--steps=5000] [--samples=8] [--lr=0.01]
      [--methods=ours_mf_stl,blackjax_mf,...] [--quick]
      [--out=bench/results/vi_vs_peers.json]

Every method fits q = N(m, L L^T) (mean-field: L diagonal) to the same flat
target log density (`Target.logdensity_flat`, float32) from the same start
(m = 0, every sd --init_scale = 0.1, L = 0.1 I), with the same optimiser
(Adam, --lr decayed by a cosine to 1% over the run; --schedule=constant
keeps it fixed), --steps steps and --samples draws of q per step, as one
jitted `lax.scan` over the steps, compiled once by `.lower().compile()`
(compile time reported apart) and run once (times are single runs; the
spread over seeds shows their noise). --quick: 200 steps, seed 0, only to
check that the harness runs. Rows:

  ours_mf_stl / ours_fr_stl: vi.bbvi.fit, estimator='reparam', stl=True
    (sticking the landing: log p(z) - log q(z) with q's parameters held
    fixed); params {'mean', 'log_scale'} / {'mean', 'chol'} (log L_ii on
    the diagonal).
  ours_mf / ours_fr: the same with stl=False (closed-form entropy).
  blackjax_mf / blackjax_fr: blackjax.meanfield_vi / fullrank_vi with their
    default (and documented, after Agrawal et al. 2020) STL estimator and
    KL objective, `step` in our scan. Their `init` fixes rho = -2 (sd 0.135)
    and L = I, so the start state is built by hand: MFVIState(mu=0,
    rho=log 0.1), FRVIState(mu=0, chol_params=[log 0.1 x d, 0 x d(d-1)/2])
    (d log-diagonal entries, then the strictly-lower part in row-major
    order). The same parameterisation as ours: log sd / log L_ii.
    Its step draws eps exactly as ours does (one normal of [S, d] per step
    from split(key, steps)), so with one seed its runs share our STL rows'
    noise: final ELBOs agree (exactly for mean-field, to ~0.01 nat of
    float32 drift for full rank), which checks the conversion, and the rows
    differ in time only.
  numpyro_mf / numpyro_fr: numpyro.infer.SVI with AutoNormal /
    AutoMultivariateNormal (init_loc_fn=init_to_value(zeros),
    init_scale=0.1) and Trace_ELBO(num_particles=--samples) (vectorised
    particles, its default), model = ImproperUniform 'x' over R^d plus
    numpyro.factor('logp', log p(x)). SVI.init, then `svi.update` in our
    scan (what `svi.run(progress_bar=False)` scans, but jitted as one
    function so that compile and run are timed apart). Their estimator is
    the plain reparameterised one with a Monte Carlo log q (no STL, no
    closed-form entropy; NumPyro has no STL option) and their
    parameterisations differ: sd = softplus(raw) (AutoNormal) and
    L = diag(softplus(raw)) @ (unit lower triangular) (scaled unit lower
    Cholesky) in place of exp.

Each fitted q is converted to our params (checked: our log q equals the
peer's own log q at random points) and scored with one estimator for all:
`vi.bbvi.elbo_estimate` with --final_draws (20000) fresh draws, with the
same key for every method of a seed. Per (target, method, seed):

  final_elbo: that estimate (its standard error beside it in the JSON).
  steps_to_best: the first step at which the per-step ELBO trace (each
    method's own --samples-draw estimate; NumPyro's loss and BlackJAX's
    `elbo` field are -ELBO and are negated), smoothed by a trailing running
    mean of --smooth (100) steps, is within --tol (1) nat of the best
    final ELBO on the target (the largest median-over-seeds final_elbo of
    all methods); None when never. The trailing window delays every method
    by about --smooth / 2 steps alike.
  secs_to_best: steps_to_best x run_s / steps.
  steps_to_family_best, secs_to_family_best: the same against the best
    final ELBO of the methods of the same family (mean-field rows rarely
    come within a nat of a full-rank optimum).
  compile_s, run_s: compiling and running the scan of all steps; setup_s:
    building the start state (NumPyro: SVI.init, which traces model and
    guide).
  mean_err: max_i |m_i - ref_mean_i| / ref_sd_i; sd_ratio_lo / _hi: the
    smallest and largest sd_i / ref_sd_i of q (sd_i from the diagonal of
    L L^T). ref: the exact posterior of linear_regression; otherwise NUTS
    draws from our hmc package (4 chains, 1000 warm-up, 2000 draws; cached
    in bench/results/vi_reference_<target>.npz with its min bulk ESS and
    max R-hat).

Reported: medians over seeds with [min, max], a markdown table per target,
the JSON (rows, summaries, median traces), and a PNG of the median smoothed
ELBO traces. linear_regression's posterior is Gaussian, so every full-rank
method should reach ELBO = log evidence (printed beside the table).
"""
import functools
import json
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp
import numpy as np
import optax
from absl import app
from absl import flags

from hmc import diagnostics
from hmc import sampling
import targets
from vi import bbvi

METHODS = ('ours_mf_stl', 'ours_mf', 'blackjax_mf', 'numpyro_mf',
           'ours_fr_stl', 'ours_fr', 'blackjax_fr', 'numpyro_fr')

_TARGETS = flags.DEFINE_list(
    'targets', ['linear_regression', 'logistic_regression', 'eight_schools'],
    'Targets (targets/catalog.py).')
_METHODS = flags.DEFINE_list('methods', list(METHODS), 'Rows to run.')
_SEEDS = flags.DEFINE_list('seeds', ['0', '1', '2', '3', '4'], 'Seeds.')
_STEPS = flags.DEFINE_integer('steps', 5000, 'Optimiser steps.')
_SAMPLES = flags.DEFINE_integer('samples', 8, 'Draws of q per step.')
_LR = flags.DEFINE_float('lr', 1e-2, 'Adam learning rate.')
_SCHEDULE = flags.DEFINE_enum('schedule', 'cosine', ['cosine', 'constant'],
                              'Learning-rate schedule, the same for all: '
                              'cosine decay to 1% of --lr, or constant.')
_INIT_SCALE = flags.DEFINE_float('init_scale', 0.1, 'Initial sd of q.')
_FINAL_DRAWS = flags.DEFINE_integer('final_draws', 20000,
                                    'Draws of the final ELBO estimate.')
_SMOOTH = flags.DEFINE_integer('smooth', 100, 'Running-mean window (steps).')
_TOL = flags.DEFINE_float('tol', 1.0, 'Nats below the best final ELBO.')
_QUICK = flags.DEFINE_bool('quick', False,
                           'Tiny check of the harness: 200 steps, seed 0.')
_OUT = flags.DEFINE_string(
    'out', os.path.join(ROOT, 'bench', 'results', 'vi_vs_peers.json'),
    'JSON output path ("" for none); the PNG goes beside it.')
_REF_DIR = flags.DEFINE_string(
    'ref_dir', os.path.join(ROOT, 'bench', 'results'),
    'Where the NUTS references are cached.')

REF_CHAINS, REF_WARMUP, REF_DRAWS = 4, 1000, 2000


def _optimizer():
  # Constant Adam steps never settle: with sticking-the-landing the gradient
  # noise vanishes at the optimum, Adam's second moment decays and a later
  # gradient makes a large step. A cosine decay (the same for every
  # method) removes that; --schedule=constant shows it.
  if _SCHEDULE.value == 'cosine':
    return optax.adam(optax.cosine_decay_schedule(_LR.value, _STEPS.value, 0.01))
  return optax.adam(_LR.value)


def _compile_and_run(fn, *args):
  """(outputs, compile_s, run_s) of jit(fn)(*args), compiled apart."""
  start = time.time()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.time() - start
  start = time.time()
  out = jax.block_until_ready(compiled(*args))
  return out, compile_s, time.time() - start


def _close(a, b, what):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if not np.allclose(a, b, rtol=1e-3, atol=1e-3 * (1 + np.abs(b).max())):
    raise AssertionError(f'{what}: our log q of the converted params differs '
                         f'from the peer\'s own: {a} vs {b}')


# ----------------------------------------------------------------------------
# The methods. Each returns (our params, per-step ELBO trace, compile_s,
# run_s, setup_s).


def ours(target, family, stl, key, x0):
  start = time.time()
  res = bbvi.fit(key, target.logdensity_flat, x0, family=family,
                 estimator='reparam', num_steps=_STEPS.value,
                 optimizer=_optimizer(), num_samples=_SAMPLES.value,
                 init_scale=_INIT_SCALE.value, stl=stl, name=target.name)
  total = time.time() - start
  return (res.params, res.elbo_trace, res.compile_s, res.run_s,
          max(total - res.compile_s - res.run_s, 0.0))


def blackjax_vi(target, family, key, x0):
  import blackjax  # pylint: disable=g-import-not-at-top
  from blackjax.vi import fullrank_vi  # pylint: disable=g-import-not-at-top
  from blackjax.vi import meanfield_vi  # pylint: disable=g-import-not-at-top
  opt = _optimizer()
  d = x0.shape[0]
  log_s = jnp.full_like(x0, math.log(_INIT_SCALE.value))
  start = time.time()
  if family == 'meanfield':
    algo = blackjax.meanfield_vi(target.logdensity_flat, opt,
                                 num_samples=_SAMPLES.value)
    state = meanfield_vi.MFVIState(x0, log_s, opt.init((x0, log_s)))
  else:
    algo = blackjax.fullrank_vi(target.logdensity_flat, opt,
                                num_samples=_SAMPLES.value)
    chol = jnp.concatenate([log_s, jnp.zeros(d * (d - 1) // 2, x0.dtype)])
    state = fullrank_vi.FRVIState(x0, chol, opt.init((x0, chol)))
  setup_s = time.time() - start

  def run(key, state):
    def body(s, k):
      s, info = algo.step(k, s)
      return s, -info.elbo  # Their `elbo` is the loss E[log q - log p].
    return jax.lax.scan(body, state, jax.random.split(key, _STEPS.value))

  (state, trace), compile_s, run_s = _compile_and_run(run, key, state)
  z = jax.random.normal(jax.random.key(99), (5, d), x0.dtype) + state.mu
  if family == 'meanfield':
    params = {'mean': state.mu, 'log_scale': state.rho}
    theirs = meanfield_vi.generate_meanfield_logdensity(state.mu, state.rho)
  else:
    # d log-diagonal entries, then the strictly-lower part row by row.
    lower = jnp.zeros((d, d), x0.dtype).at[jnp.tril_indices(d, -1)].set(
        state.chol_params[d:])
    params = {'mean': state.mu, 'chol': lower + jnp.diag(state.chol_params[:d])}
    theirs = fullrank_vi.generate_fullrank_logdensity(state.mu,
                                                      state.chol_params)
  _close(bbvi.log_q(params, z), jax.vmap(theirs)(z), f'blackjax {family}')
  return params, np.asarray(trace), compile_s, run_s, setup_s


def numpyro_vi(target, family, key, x0):
  import numpyro  # pylint: disable=g-import-not-at-top
  from numpyro import distributions as dist  # pylint: disable=g-import-not-at-top
  from numpyro.distributions import constraints  # pylint: disable=g-import-not-at-top
  from numpyro.infer import autoguide  # pylint: disable=g-import-not-at-top
  from numpyro.infer import SVI, Trace_ELBO, init_to_value  # pylint: disable=g-import-not-at-top
  d = x0.shape[0]
  logdensity = target.logdensity_flat

  def model():
    x = numpyro.sample('x', dist.ImproperUniform(constraints.real, (), (d,)))
    numpyro.factor('logp', logdensity(x))

  guide_cls = (autoguide.AutoNormal if family == 'meanfield'
               else autoguide.AutoMultivariateNormal)
  guide = guide_cls(model, init_loc_fn=init_to_value(values={'x': x0}),
                    init_scale=_INIT_SCALE.value)
  svi = SVI(model, guide, _optimizer(),
            loss=Trace_ELBO(num_particles=_SAMPLES.value))
  start = time.time()
  svi_state = jax.block_until_ready(svi.init(key))
  setup_s = time.time() - start
  p0 = svi.get_params(svi_state)
  loc0 = p0['x_auto_loc' if family == 'meanfield' else 'auto_loc']
  if not np.allclose(loc0, x0):
    raise AssertionError(f'numpyro {family}: initial loc {loc0} is not x0')

  def run(svi_state):
    def body(s, _):
      s, loss = svi.update(s)
      return s, -loss  # Trace_ELBO's loss is -ELBO.
    return jax.lax.scan(body, svi_state, None, length=_STEPS.value)

  (svi_state, trace), compile_s, run_s = _compile_and_run(run, svi_state)
  p = svi.get_params(svi_state)  # Constrained: sd and L themselves.
  z = jax.random.normal(jax.random.key(99), (5, d), x0.dtype)
  if family == 'meanfield':
    loc, scale = p['x_auto_loc'], p['x_auto_scale']
    params = {'mean': loc, 'log_scale': jnp.log(scale)}
    z = z + loc
    theirs = dist.Normal(loc, scale).to_event(1).log_prob(z)
  else:
    post = guide.get_posterior(p)
    tril = post.scale_tril
    params = {'mean': post.loc,
              'chol': jnp.tril(tril, -1) + jnp.diag(jnp.log(jnp.diag(tril)))}
    z = z + post.loc
    theirs = post.log_prob(z)
  _close(bbvi.log_q(params, z), theirs, f'numpyro {family}')
  return params, np.asarray(trace), compile_s, run_s, setup_s


def fit_method(method, target, key, x0):
  family = 'meanfield' if '_mf' in method else 'fullrank'
  if method.startswith('ours'):
    return ours(target, family, method.endswith('_stl'), key, x0)
  if method.startswith('blackjax'):
    return blackjax_vi(target, family, key, x0)
  return numpyro_vi(target, family, key, x0)


# ----------------------------------------------------------------------------
# References and metrics.


def reference(target):
  """(mean, sd, info) of the posterior: exact for linear_regression, else
  NUTS draws (cached)."""
  if target.name == 'linear_regression':
    mean, cov = targets.linear_regression_posterior()
    # log Z of the unnormalised density: it is Gaussian in w.
    logp_mean = float(jax.jit(target.logdensity_flat)(
        jnp.asarray(mean, jnp.float32)))
    _, logdet = np.linalg.slogdet(cov)
    log_z = logp_mean + 0.5 * len(mean) * math.log(2 * math.pi) + 0.5 * logdet
    return mean, np.sqrt(np.diag(cov)), {'kind': 'exact',
                                          'log_evidence': log_z}
  path = os.path.join(_REF_DIR.value, f'vi_reference_{target.name}.npz')
  if os.path.exists(path):
    ref = np.load(path)
    print(f'{target.name}: NUTS reference from {path}', flush=True)
  else:
    print(f'{target.name}: computing the NUTS reference ({REF_CHAINS} chains, '
          f'{REF_WARMUP} warm-up, {REF_DRAWS} draws) ...', flush=True)
    key = jax.random.key(12345)
    res = sampling.run_chains(key, target, target.initial(key, REF_CHAINS),
                              'nuts', REF_WARMUP, REF_DRAWS)
    draws = np.asarray(res.draws, np.float64)
    flat = draws.reshape(-1, draws.shape[-1])
    ess = min(diagnostics.ess_bulk(draws[..., i])
              for i in range(draws.shape[-1]))
    rhat = max(diagnostics.rhat(draws[..., i])
               for i in range(draws.shape[-1]))
    ref = {'mean': flat.mean(0), 'sd': flat.std(0, ddof=1),
           'min_ess_bulk': ess, 'max_rhat': rhat,
           'divergences': int(np.sum(res.info.is_divergent)),
           'chains': REF_CHAINS, 'warmup': REF_WARMUP, 'draws': REF_DRAWS}
    os.makedirs(_REF_DIR.value, exist_ok=True)
    np.savez(path, **ref)
  info = {'kind': 'nuts', 'path': os.path.relpath(path, ROOT)}
  for k in ('min_ess_bulk', 'max_rhat', 'divergences', 'chains', 'warmup',
            'draws'):
    info[k] = float(ref[k])
  return np.asarray(ref['mean']), np.asarray(ref['sd']), info


def smooth(trace, window):
  """Trailing running mean (partial windows at the start)."""
  c = np.cumsum(np.concatenate([[0.0], np.asarray(trace, np.float64)]))
  t = np.arange(1, len(trace) + 1)
  lo = np.maximum(t - window, 0)
  return (c[t] - c[lo]) / (t - lo)


def _stats(values):
  """Median and [min, max] over seeds; None where every value is missing."""
  v = np.asarray([np.nan if x is None else x for x in values], np.float64)
  if np.isnan(v).all():
    return None
  # A NaN run (a diverged fit) makes the median NaN: it is not hidden.
  return {'median': float(np.median(v)), 'min': float(np.nanmin(v)),
          'max': float(np.nanmax(v))}


def _num(x, digits):
  if np.isnan(x):
    return 'nan'
  return 'never' if np.isinf(x) else f'{x:.{digits}f}'


def _fmt(s, digits=2):
  if s is None:
    return '-'
  if not np.isfinite(s['median']):
    return _num(s['median'], digits)
  return (f"{_num(s['median'], digits)} [{_num(s['min'], digits)}, "
          f"{_num(s['max'], digits)}]")


def _finite(obj):
  """JSON-safe: non-finite floats become None (never / not a number)."""
  if isinstance(obj, dict):
    return {k: _finite(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [_finite(v) for v in obj]
  if isinstance(obj, float) and not math.isfinite(obj):
    return None
  return obj


def run_target(name, seeds, methods):
  target = targets.get(name)
  d = target.dim
  x0 = jnp.zeros(d, jnp.float32)
  ref_mean, ref_sd, ref_info = reference(target)
  logdensity = target.logdensity_flat
  final_elbo = jax.jit(functools.partial(
      bbvi.elbo_estimate, logdensity=logdensity,
      num_samples=_FINAL_DRAWS.value))
  rows, traces = [], {m: [] for m in methods}
  for seed in seeds:
    for method in methods:
      key = jax.random.key(seed)
      params, trace, compile_s, run_s, setup_s = fit_method(
          method, target, key, x0)
      elbo, se = final_elbo(jax.random.key(10_000 + seed), params)
      mean, sd = bbvi.mean_and_std(params)
      mean, sd = np.asarray(mean, np.float64), np.asarray(sd, np.float64)
      ratio = sd / ref_sd
      traces[method].append(smooth(trace, _SMOOTH.value))
      row = {'target': name, 'method': method, 'seed': seed,
             'final_elbo': float(elbo), 'final_elbo_se': float(se),
             'compile_s': compile_s, 'run_s': run_s, 'setup_s': setup_s,
             's_per_step': run_s / _STEPS.value,
             'mean_err': float(np.max(np.abs(mean - ref_mean) / ref_sd)),
             'sd_ratio_lo': float(ratio.min()),
             'sd_ratio_hi': float(ratio.max()),
             'trace_nan': bool(np.isnan(trace).any())}
      print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                        for k, v in row.items()}), flush=True)
      rows.append(row)
  # The best final ELBO of all methods (medians over seeds), and of the
  # methods of the same family, then the steps each run took to come within
  # --tol nats of them.
  medians = {m: np.median([r['final_elbo'] for r in rows if r['method'] == m])
             for m in methods}
  best = float(np.nanmax(list(medians.values())))
  family_best = {f: float(np.nanmax([v for m, v in medians.items() if f in m]))
                 for f in ('_mf', '_fr') if any(f in m for m in methods)}
  for row in rows:
    sm = traces[row['method']][seeds.index(row['seed'])]
    fam = '_mf' if '_mf' in row['method'] else '_fr'
    for suffix, level in (('best', best), ('family_best', family_best[fam])):
      hit = np.nonzero(sm >= level - _TOL.value)[0]
      row[f'steps_to_{suffix}'] = int(hit[0]) + 1 if hit.size else None
      row[f'secs_to_{suffix}'] = (int(hit[0] + 1) * row['s_per_step']
                                  if hit.size else None)
  summary = []
  for method in methods:
    mine = [r for r in rows if r['method'] == method]
    s = {'method': method, 'seeds': len(mine),
         'reached': sum(r['steps_to_best'] is not None for r in mine),
         'reached_family': sum(r['steps_to_family_best'] is not None
                               for r in mine)}
    for k in ('final_elbo', 'compile_s', 'run_s', 'setup_s', 's_per_step',
              'mean_err', 'sd_ratio_lo', 'sd_ratio_hi'):
      s[k] = _stats([r[k] for r in mine])
    for k in ('steps_to_best', 'secs_to_best', 'steps_to_family_best',
              'secs_to_family_best'):  # Never: infinitely many.
      s[k] = _stats([np.inf if r[k] is None else r[k] for r in mine])
    summary.append(s)
  median_traces = {m: np.median(np.stack(traces[m]), 0) for m in methods}
  return {'target': name, 'dim': d, 'best_final_elbo': best,
          'family_best_final_elbo': {('meanfield' if f == '_mf' else
                                      'fullrank'): v
                                     for f, v in family_best.items()},
          'reference': ref_info, 'rows': rows, 'summary': summary,
          'median_traces': median_traces}


def print_table(res):
  ref = res['reference']
  extra = (f", log evidence {ref['log_evidence']:.3f} (exact)"
           if 'log_evidence' in ref else
           f", NUTS reference min ESS {ref['min_ess_bulk']:.0f}, max R-hat "
           f"{ref['max_rhat']:.3f}, {ref['divergences']:.0f} divergences")
  fam = ', '.join(f'{k} {v:.3f}'
                  for k, v in res['family_best_final_elbo'].items())
  print(f"\n### {res['target']} (d={res['dim']}): best final ELBO "
        f"{res['best_final_elbo']:.3f} (by family: {fam}){extra}\n")
  print('| method | final ELBO | steps to best-1 | s to best-1 | '
        'steps to family best-1 | s to family best-1 | compile s | run s | '
        'max abs mean err / sd | sd / ref sd lo | sd / ref sd hi |')
  print('|' + '---|' * 11)
  for s in res['summary']:
    n = s['seeds']
    print(f"| {s['method']} | {_fmt(s['final_elbo'], 3)} | "
          f"{_fmt(s['steps_to_best'], 0)} ({s['reached']}/{n}) | "
          f"{_fmt(s['secs_to_best'], 3)} | "
          f"{_fmt(s['steps_to_family_best'], 0)} ({s['reached_family']}/{n}) "
          f"| {_fmt(s['secs_to_family_best'], 3)} | {_fmt(s['compile_s'])} | "
          f"{_fmt(s['run_s'], 3)} | {_fmt(s['mean_err'], 3)} | "
          f"{_fmt(s['sd_ratio_lo'], 3)} | {_fmt(s['sd_ratio_hi'], 3)} |")
  print(flush=True)


def plot(results, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  styles = {'ours': '-', 'blackjax': '--', 'numpyro': ':'}
  fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5),
                           squeeze=False)
  for ax, res in zip(axes[0], results):
    best = res['best_final_elbo']
    top = max(best, res['reference'].get('log_evidence', best))
    finals = [s['final_elbo']['median'] for s in res['summary']]
    low = best - max(10.0, 3.0 * (best - float(np.nanmin(finals))))
    for method, trace in res['median_traces'].items():
      lib = method.split('_')[0]
      ax.plot(np.arange(1, len(trace) + 1), trace, styles[lib],
              color=f'C{METHODS.index(method)}', lw=1.3, label=method)
    ax.axhline(best, color='k', lw=0.6)
    ax.axhline(best - _TOL.value, color='k', lw=0.6, ls='--')
    if 'log_evidence' in res['reference']:
      ax.axhline(res['reference']['log_evidence'], color='r', lw=0.6,
                 label='log evidence')
    ax.set_ylim(low, top + 0.1 * (top - low))
    ax.set_xscale('log')
    ax.set_xlabel('step')
    ax.set_ylabel(f'ELBO (running mean of {_SMOOTH.value}, median of seeds)')
    ax.set_title(f"{res['target']} (d={res['dim']})")
    ax.legend(fontsize=7, loc='upper left', ncol=2)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  print(f'wrote {path}')


def main(_):
  if _QUICK.value:
    flags.FLAGS.steps = 200
    flags.FLAGS.seeds = ['0']
  unknown = sorted(set(_METHODS.value) - set(METHODS))
  if unknown:
    raise app.UsageError(f'unknown methods {unknown}; use some of {METHODS}')
  seeds = [int(s) for s in _SEEDS.value]
  results = []
  for name in _TARGETS.value:
    res = run_target(name, seeds, list(_METHODS.value))
    print_table(res)
    results.append(res)
  if not _OUT.value:
    return
  os.makedirs(os.path.dirname(_OUT.value) or '.', exist_ok=True)
  meta = {'device': str(jax.devices()[0].device_kind),
          'backend': jax.default_backend(), 'jax': jax.__version__,
          'steps': _STEPS.value, 'samples': _SAMPLES.value, 'lr': _LR.value,
          'schedule': _SCHEDULE.value,
          'optimizer': 'adam', 'init_scale': _INIT_SCALE.value,
          'final_draws': _FINAL_DRAWS.value, 'smooth': _SMOOTH.value,
          'tol': _TOL.value, 'seeds': seeds, 'quick': _QUICK.value,
          'dtype': 'float32'}
  try:
    import blackjax  # pylint: disable=g-import-not-at-top
    import numpyro  # pylint: disable=g-import-not-at-top
    meta.update(blackjax=blackjax.__version__, numpyro=numpyro.__version__)
  except ImportError:
    pass
  out = [dict(r, median_traces={m: [round(float(v), 4) for v in t[::10]]
                                for m, t in r['median_traces'].items()})
         for r in results]
  with open(_OUT.value, 'w') as f:
    json.dump(_finite({'meta': meta, 'median_traces_every': 10,
                       'results': out}), f, indent=1)
  print(f'wrote {_OUT.value}')
  plot(results, os.path.splitext(_OUT.value)[0] + '.png')


if __name__ == '__main__':
  app.run(main)
