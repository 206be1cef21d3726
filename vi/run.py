"""Entry for conjugate-exponential VI configs (`config.entry = 'vi.run'`).

`model.name`:
  * 'gmm': a Gaussian mixture on `dataset` (scikit-learn's bundled iris,
    wine or breast_cancer, standardised, or a local .npz holding `x`
    [N, d]) fitted by `model.algorithm`: 'cavi' (the Bayesian mixture,
    sklearn's BayesianGaussianMixture model), 'em' (maximum likelihood,
    GaussianMixture's) or 'svi' (stochastic VI on the Bayesian mixture).
    From sklearn's random responsibilities with `seed`, so the same seed
    in sklearn (`init_params='random'`, `random_state=seed`) starts at the
    same point. One compiled run: CAVI and EM take milliseconds.
  * 'lda': latent Dirichlet allocation by stochastic VI (Hoffman et al.
    2013, arXiv:1206.7051) or batch VI on a corpus file (one document per
    line), with a seeded held-out split; checkpointed after every pass and
    resumed from the newest intact checkpoint.

Writes final_metrics.json, summary.txt/.json (the mixture's weights and
means, or every topic's top words), elbo.png (the ELBO per iteration, or
the held-out per-word bound per pass) and metrics.jsonl.
"""
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import checkpoint as checkpoint_lib
from common import metrics as metrics_lib
from common import record
from common.errors import ConfigError, DataError, NonFiniteLossError
from vi import corpus as corpus_lib
from vi import lda as lda_lib
from vi import bayesian_mixture
from vi import mixture
from vi import svi

SKLEARN_DATASETS = ('iris', 'wine', 'breast_cancer')


def load_points(cfg):
  """[N, d] float64 points of `cfg.name` (standardised), or of cfg.npz_path."""
  if cfg.npz_path:
    if not os.path.exists(cfg.npz_path):
      raise DataError(f'dataset.npz_path={cfg.npz_path} does not exist')
    try:
      with np.load(cfg.npz_path) as f:
        x = np.asarray(f['x'], np.float64)
    except (KeyError, ValueError, OSError) as e:
      raise DataError(f'dataset.npz_path={cfg.npz_path}: cannot read an array '
                      f'"x" [num_points, dim] ({type(e).__name__})') from None
  elif cfg.name in SKLEARN_DATASETS:
    import sklearn.datasets  # pylint: disable=g-import-not-at-top
    x = getattr(sklearn.datasets, f'load_{cfg.name}')().data.astype(np.float64)
  else:
    raise ConfigError(f'unknown dataset.name {cfg.name!r}; use one of '
                      f'{SKLEARN_DATASETS} or set dataset.npz_path')
  if cfg.standardise:
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-12)
  return mixture.check_data(x, 1)


def random_responsibilities(n, k, seed):
  """sklearn's init_params='random': uniform draws normalised per row."""
  resp = np.random.RandomState(seed).uniform(size=(n, k))
  return resp / resp.sum(1, keepdims=True)


def main(config, workdir):
  m = config.model
  if m.name == 'gmm':
    return run_gmm(config, workdir)
  if m.name == 'lda':
    return run_lda(config, workdir)
  raise ConfigError(f'unknown model.name {m.name!r}; use gmm or lda')


# ----------------------------------------------------------------------------
# Gaussian mixtures.


def run_gmm(config, workdir):
  if config.model.algorithm not in ('cavi', 'em', 'svi'):
    raise ConfigError(f'model.algorithm={config.model.algorithm!r}: use cavi, '
                      'em or svi')
  with jax.enable_x64(True):  # sklearn's precision, without a global switch.
    return _run_gmm(config, workdir)


def _run_gmm(config, workdir):
  m = config.model
  x = load_points(config.dataset)
  mixture.check_data(x, m.n_components)
  resp0 = random_responsibilities(len(x), m.n_components, config.seed)
  prior = None if m.algorithm == 'em' else bayesian_mixture.make_prior(x, m.n_components)
  if m.algorithm == 'svi':
    svi.check_schedule(m.svi.kappa, m.svi.tau)
  start = time.time()
  if m.algorithm == 'em':
    res = mixture.fit_em(x, resp0, max_iter=m.max_iter, tol=m.tol,
                         reg_covar=m.reg_covar)
    trace, name = res.log_likelihood, 'mean_log_likelihood'
    weights, means = res.state.weights, res.state.means
  elif m.algorithm == 'cavi':
    res = bayesian_mixture.fit_cavi(x, resp0, prior, max_iter=m.max_iter, tol=m.tol,
                           reg_covar=m.reg_covar)
    trace, name = res.elbo, 'elbo'
    post = bayesian_mixture.posterior(res.state.natural, prior)
    weights, means = post.weights, post.means
  else:
    batch = min(m.svi.batch_size, len(x))
    res = bayesian_mixture.fit_svi(jax.random.key(config.seed), x, resp0, prior,
                          num_steps=m.svi.num_steps, batch_size=batch,
                          kappa=m.svi.kappa, tau=m.svi.tau,
                          eval_every=m.svi.eval_every, reg_covar=m.reg_covar)
    trace, name = res.elbo, 'elbo'
    post = bayesian_mixture.posterior(res.state.natural, prior)
    weights, means = post.weights, post.means
  trace = np.asarray(jax.block_until_ready(trace), np.float64)
  wall = time.time() - start
  if m.algorithm == 'svi':
    steps = np.asarray(res.steps)
  else:  # NaN-padded after the last iteration.
    trace = trace[:int(res.n_iter)]
    steps = np.arange(1, len(trace) + 1)
  if not np.all(np.isfinite(trace)):
    bad = int(steps[np.argmin(np.isfinite(trace))])
    raise NonFiniteLossError(
        f'{m.algorithm} diverged (non-finite {name}) at iteration {bad}; '
        'set model.reg_covar=1e-6 (a collapsing component) or, for svi, '
        'smaller steps (a larger model.svi.tau)')
  record.commit(config, workdir)  # The inputs were valid and the run finite.
  writer = metrics_lib.MetricWriter(workdir)
  for step, value in zip(steps, trace):
    writer.write_scalars(int(step), {f'train/{name}': float(value)})
  final = {f'final/{name}': float(trace[-1]), 'iterations': int(steps[-1]),
           'wall_s_with_compile': wall}
  if m.algorithm != 'svi':
    final['converged'] = bool(res.converged)
  writer.write_scalars(int(steps[-1]), final)
  writer.close()
  order = np.argsort(-np.asarray(weights))
  rows = [{'component': int(k), 'weight': float(weights[k]),
           'mean': np.asarray(means[k]).round(6).tolist()} for k in order]
  lines = [f'{m.algorithm} on {config.dataset.npz_path or config.dataset.name} '
           f'({len(x)} x {x.shape[1]}), K={m.n_components}: {name} '
           f'{trace[-1]:.6f} after {int(steps[-1])} iterations']
  lines += [f'  weight {r["weight"]:.4f}  mean {np.array2string(np.asarray(r["mean"]), precision=3)}'
            for r in rows]
  _write(workdir, final, {'components': rows}, lines)
  _plot(workdir, steps, trace, 'iteration' if m.algorithm != 'svi' else 'step',
        name.replace('_', ' '))
  metrics_lib.log('\n%s', '\n'.join(lines))
  return final


# ----------------------------------------------------------------------------
# LDA.


def load_corpus(cfg):
  """(train, held-out) Corpora from cfg.path, or from a seeded synthetic LDA
  corpus when cfg.path is 'synthetic' (4 known topics of 8 words each)."""
  if cfg.path == 'synthetic':
    counts, _, _ = corpus_lib.synthetic_lda(cfg.split_seed)
    vocab = tuple(f'topic{v // 8}_word{v % 8}' for v in range(counts.shape[1]))
    corpus = corpus_lib.Corpus(counts, vocab, np.arange(1, counts.shape[0] + 1))
    return corpus_lib.split(corpus, cfg.heldout_frac, cfg.split_seed)
  stop = None
  if cfg.stop_words == 'english':
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # pylint: disable=g-import-not-at-top
    stop = sorted(ENGLISH_STOP_WORDS)
  elif cfg.stop_words:
    raise ConfigError(f"corpus.stop_words={cfg.stop_words!r}: use 'english' or ''")
  if not cfg.path:
    raise ConfigError('set corpus.path to a text file with one document per '
                      'line (e.g. ../shared/data/text/lee_background.cor)')
  corpus = corpus_lib.load_corpus(cfg.path, stop_words=stop,
                                  min_count=cfg.min_count,
                                  max_doc_frac=cfg.max_doc_frac,
                                  drop_empty=cfg.drop_empty)
  return corpus_lib.split(corpus, cfg.heldout_frac, cfg.split_seed)


def run_lda(config, workdir):
  m = config.model
  train, held = load_corpus(config.corpus)
  num_topics = m.num_topics
  alpha = m.alpha or 1.0 / num_topics   # 0: sklearn's default 1/K.
  eta = m.eta or 1.0 / num_topics
  lda_lib.check_hyperparameters(num_topics, alpha, eta, len(train.vocab))
  if m.method == 'online':
    svi.check_schedule(m.kappa, m.tau)
  elif m.method != 'batch':
    raise ConfigError(f'model.method={m.method!r}: use online or batch')
  if m.passes < 1:
    raise ConfigError(f'model.passes={m.passes} must be >= 1')
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  if os.path.isdir(ckpt_dir) and os.listdir(ckpt_dir):
    record.check_resumable(config, workdir)
  ckpt = checkpoint_lib.Checkpointer(ckpt_dir, config.keep_checkpoints)
  vocab = len(train.vocab)
  template = lda_lib.State(jnp.zeros((num_topics, vocab), jnp.float32),
                           jnp.zeros((), jnp.int32))
  state, first_pass = None, 0
  if ckpt.latest_step() is not None:
    try:
      state, meta = ckpt.restore_newest_intact(checkpoint_lib.abstract_like(
          template._asdict()))
    except checkpoint_lib.StateMismatchError as e:
      raise record.mismatch_error(config, workdir, e) from None
    state, first_pass = lda_lib.State(**state), int(meta['pass'])
    metrics_lib.log('resumed after pass %d', first_pass)
  record.commit(config, workdir)
  writer = metrics_lib.MetricWriter(workdir, resume_step=first_pass)

  def on_pass(done, state, metrics):
    writer.write_scalars(done, {f'train/{k}': v for k, v in metrics.items()})
    metrics_lib.log('pass %d/%d %s', done, m.passes,
                    ' '.join(f'{k}={v:.4f}' for k, v in metrics.items()))
    if done % config.ckpt_every_passes == 0 or done == m.passes:
      ckpt.save(done, state._asdict(), {'pass': done})

  try:
    state, trace = lda_lib.fit(
        jax.random.key(config.seed), train.counts, num_topics,
        passes=m.passes, batch_size=m.batch_size, kappa=m.kappa, tau=m.tau,
        alpha=alpha, eta=eta, max_iter=m.local_max_iter, tol=m.local_tol,
        method=m.method, shuffle=m.shuffle, heldout=held.counts, state=state,
        first_pass=first_pass, on_pass=on_pass)
    held_docs = corpus_lib.pad(held.counts)
    bound = float(lda_lib.per_word_bound(state.lam, held_docs, alpha, eta,
                                         m.local_max_iter, m.local_tol))
    docs_only = float(lda_lib.per_word_bound(
        state.lam, held_docs, alpha, eta, m.local_max_iter, m.local_tol,
        topic_term=False))
    final = {'heldout_per_word_bound': bound,
             'heldout_perplexity': float(np.exp(-bound)),
             'heldout_per_word_bound_docs_only': docs_only,
             'compile_s': trace['compile_s'], 'run_s': trace['run_s'],
             'passes': m.passes, 'train_documents': int(train.counts.shape[0]),
             'heldout_documents': int(held.counts.shape[0]),
             'vocabulary': vocab}
    writer.write_scalars(m.passes, {f'final/{k}': v for k, v in final.items()
                                    if isinstance(v, float)})
  finally:
    writer.close()
    ckpt.close()
  topics = np.asarray(lda_lib.topic_means(state.lam))
  words = [[train.vocab[i] for i in np.argsort(-t)[:config.top_words]]
           for t in topics]
  lines = [f'LDA, {num_topics} topics, {m.passes} passes ({m.method}); held-out '
           f'per-word bound {bound:.4f} (perplexity {np.exp(-bound):.1f})']
  lines += [f'  topic {k:2d}: {" ".join(w)}' for k, w in enumerate(words)]
  _write(workdir, final, {'topics': words}, lines)
  steps, values = [], []
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    for line in f:
      r = json.loads(line)
      if 'train/heldout_per_word' in r:
        steps.append(r['step'])
        values.append(r['train/heldout_per_word'])
  _plot(workdir, steps, values, 'pass', 'held-out per-word bound (nats)')
  metrics_lib.log('\n%s', '\n'.join(lines))
  return final


# ----------------------------------------------------------------------------
# Outputs.


def _write(workdir, final, summary, lines):
  if jax.process_index() != 0:
    return
  with open(os.path.join(workdir, 'final_metrics.json'), 'w') as f:
    json.dump(final, f, indent=1)
  with open(os.path.join(workdir, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=1)
  with open(os.path.join(workdir, 'summary.txt'), 'w') as f:
    f.write('\n'.join(lines) + '\n')


def _plot(workdir, steps, values, xlabel, ylabel):
  if jax.process_index() != 0:
    return
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(6, 4))
  ax.plot(steps, values, '.-')
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, 'elbo.png'), dpi=90)
  plt.close(fig)
