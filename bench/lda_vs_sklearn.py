"""Our SVI for LDA (vi/lda.py) against scikit-learn's online LDA.

  python bench/lda_vs_sklearn.py [--data_dir=../shared/data/text]
      [--topics=10,20] [--seeds=0,1,2] [--passes=10] [--batch_size=32]
      [--out=bench/results/lda_vs_sklearn.json]

Corpora (one document per line): lee_background.cor (300 news articles, raw
English: sklearn's ENGLISH_STOP_WORDS removed, words of >= 2 letters seen
>= 3 times kept) and head500.noblanks.cor (250 Wikipedia articles, already
stemmed: words of >= 2 letters seen >= 5 times kept). Each is split 80/20
into training and held-out documents with seed 0.

Both sides run the same algorithm with the same settings: K topics,
alpha = eta = 1/K, minibatches of --batch_size in the file order (sklearn's
`fit` order; no shuffling), --passes passes, rho_t = (10 + t)^-0.7 for
updates t = 1, 2, ... (sklearn learning_offset=10, learning_decay=0.7; ours
tau=11 since we count t from 0), E-step at most 100 updates per document,
stopping at a mean absolute change of gamma below 1e-3, lambda and training
gamma started at Gamma(100, 1/100) jitter. sklearn runs its passes as
`partial_fit` calls with total_samples = the training size (the same
updates as `fit`, without fit's final training-set perplexity).

Metrics on the held-out documents, one definition for both fitted topic
matrices: the per-word bound with the topic term (sklearn's `perplexity`
definition, computed by vi.lda.approx_bound; sklearn's own `perplexity` is
reported beside it as a check), its perplexity, and the per-word bound of
the held-out documents alone (topic_term=False: without the
E[log p(beta) - log q(beta)] term, which scales with K x V rather than with
the held-out words and dominates the first number on small held-out sets).
Wall time of training: ours compiled (compile time apart), sklearn single
process. Medians over seeds with [min, max].
"""
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp
import numpy as np
from absl import app
from absl import flags
from sklearn.decomposition import LatentDirichletAllocation
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from vi import corpus as corpus_lib
from vi import lda

_DATA = flags.DEFINE_string(
    'data_dir', os.path.join(ROOT, '..', 'shared', 'data', 'text'),
    'Folder with lee_background.cor and head500.noblanks.cor.')
_TOPICS = flags.DEFINE_list('topics', ['10', '20'], 'Numbers of topics K.')
_SEEDS = flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds of both fits.')
_PASSES = flags.DEFINE_integer('passes', 10, 'Passes over the training set.')
_BATCH = flags.DEFINE_integer('batch_size', 32, 'Minibatch size.')
_KAPPA = flags.DEFINE_float('kappa', 0.7, 'Forgetting rate (learning_decay).')
_OFFSET = flags.DEFINE_float('learning_offset', 10.0,
                             "sklearn's learning_offset; our tau is it + 1.")
_MAX_ITER = flags.DEFINE_integer('max_doc_update_iter', 100,
                                 'E-step updates per document at most.')
_TOL = flags.DEFINE_float('mean_change_tol', 1e-3, 'E-step stopping rule.')
_OUT = flags.DEFINE_string(
    'out', os.path.join(ROOT, 'bench', 'results', 'lda_vs_sklearn.json'),
    'JSON output path ("" for none).')

CORPORA = {
    'lee_background': dict(file='lee_background.cor',
                           stop_words=ENGLISH_STOP_WORDS, min_count=3,
                           min_len=2),
    'head500': dict(file='head500.noblanks.cor', stop_words=None, min_count=5,
                    min_len=2),
}


def _bounds_fn():
  # Per-word held-out bounds of a topic matrix, with and without the topic
  # term, from one E-step (gamma from ones: sklearn's `transform`).
  def bounds(lam, docs, alpha, eta, max_iter, tol):
    gamma = lda.local_step(lam, docs, alpha, max_iter, tol).gamma
    full, words = lda.approx_bound(lam, docs, alpha, eta, gamma)
    only, _ = lda.approx_bound(lam, docs, alpha, eta, gamma, topic_term=False)
    return full / words, only / words
  return jax.jit(bounds)


def _stats(values):
  v = np.asarray(values, np.float64)
  return {'median': float(np.median(v)), 'min': float(v.min()),
          'max': float(v.max())}


def _fmt(s, digits=3):
  return (f"{s['median']:.{digits}f} [{s['min']:.{digits}f}, "
          f"{s['max']:.{digits}f}]")


def run_corpus(name, spec, bounds, rows, top_words):
  path = os.path.join(_DATA.value, spec['file'])
  corpus = corpus_lib.load_corpus(path, stop_words=spec['stop_words'],
                                  min_count=spec['min_count'],
                                  min_len=spec['min_len'])
  train, held = corpus_lib.split(corpus, 0.2, seed=0)
  held_docs = corpus_lib.pad(held.counts)
  held_docs = corpus_lib.Docs(jnp.asarray(held_docs.word_ids),
                              jnp.asarray(held_docs.counts))
  x_train = train.counts.astype(np.float64)
  x_held = held.counts.astype(np.float64)
  info = {'docs': corpus.counts.shape[0], 'vocab': len(corpus.vocab),
          'train_docs': train.counts.shape[0],
          'heldout_docs': held.counts.shape[0],
          'heldout_words': int(held.counts.sum())}
  print(f'{name}: {info}', flush=True)
  for k_str in _TOPICS.value:
    k = int(k_str)
    prior = 1.0 / k
    for seed_str in _SEEDS.value:
      seed = int(seed_str)
      state, trace = lda.fit(
          jax.random.key(seed), train.counts, k, passes=_PASSES.value,
          batch_size=_BATCH.value, kappa=_KAPPA.value,
          tau=_OFFSET.value + 1.0, alpha=prior, eta=prior,
          max_iter=_MAX_ITER.value, tol=_TOL.value, shuffle=False)
      model = LatentDirichletAllocation(
          n_components=k, doc_topic_prior=prior, topic_word_prior=prior,
          learning_method='online', learning_decay=_KAPPA.value,
          learning_offset=_OFFSET.value, batch_size=_BATCH.value,
          total_samples=x_train.shape[0], mean_change_tol=_TOL.value,
          max_doc_update_iter=_MAX_ITER.value, random_state=seed)
      t0 = time.perf_counter()
      for _ in range(_PASSES.value):
        model.partial_fit(x_train)
      sk_s = time.perf_counter() - t0
      row = {'corpus': name, 'K': k, 'seed': seed,
             'ours_run_s': trace['run_s'], 'ours_compile_s': trace['compile_s'],
             'sklearn_run_s': sk_s}
      for who, lam in (('ours', state.lam),
                       ('sklearn', jnp.asarray(model.components_,
                                               jnp.float32))):
        full, only = bounds(lam, held_docs, prior, prior, _MAX_ITER.value,
                            _TOL.value)
        row[f'{who}_per_word'] = float(full)
        row[f'{who}_perplexity'] = float(np.exp(-float(full)))
        row[f'{who}_per_word_docs'] = float(only)
      row['sklearn_own_perplexity'] = float(model.perplexity(x_held))
      row['perplexity_definition_rel_diff'] = (
          row['sklearn_perplexity'] / row['sklearn_own_perplexity'] - 1.0)
      rows.append(row)
      print(f"  K={k} seed={seed}: ours {row['ours_per_word']:.4f} "
            f"({row['ours_per_word_docs']:.4f}) {trace['run_s']:.2f}s "
            f"+{trace['compile_s']:.1f}s compile | sklearn "
            f"{row['sklearn_per_word']:.4f} ({row['sklearn_per_word_docs']:.4f}) "
            f"{sk_s:.2f}s | own perplexity rel diff "
            f"{row['perplexity_definition_rel_diff']:.1e}", flush=True)
      if seed == int(_SEEDS.value[0]) and k == int(_TOPICS.value[0]):
        means = np.asarray(lda.topic_means(state.lam))
        top_words[name] = [[corpus.vocab[i] for i in np.argsort(-means[t])[:8]]
                           for t in range(min(k, 6))]
  return info


def main(_):
  t_start = time.perf_counter()
  bounds = _bounds_fn()
  rows, top_words, corpora = [], {}, {}
  for name, spec in CORPORA.items():
    corpora[name] = run_corpus(name, spec, bounds, rows, top_words)

  summary = []
  for name in CORPORA:
    for k in map(int, _TOPICS.value):
      sel = [r for r in rows if r['corpus'] == name and r['K'] == k]
      s = {'corpus': name, 'K': k}
      for key in ('ours_per_word', 'sklearn_per_word', 'ours_perplexity',
                  'sklearn_perplexity', 'sklearn_own_perplexity',
                  'ours_per_word_docs', 'sklearn_per_word_docs',
                  'ours_run_s', 'ours_compile_s', 'sklearn_run_s',
                  'perplexity_definition_rel_diff'):
        s[key] = _stats([r[key] for r in sel])
      summary.append(s)

  print('\n| corpus | K | per-word bound ours | sklearn | perplexity ours | '
        'sklearn (our def.) | sklearn (own) | held-out docs only ours | '
        'sklearn | train s ours (compile) | sklearn s |')
  print('|' + '---|' * 11)
  for s in summary:
    print(f"| {s['corpus']} | {s['K']} | {_fmt(s['ours_per_word'])} | "
          f"{_fmt(s['sklearn_per_word'])} | {_fmt(s['ours_perplexity'], 0)} | "
          f"{_fmt(s['sklearn_perplexity'], 0)} | "
          f"{_fmt(s['sklearn_own_perplexity'], 0)} | "
          f"{_fmt(s['ours_per_word_docs'])} | "
          f"{_fmt(s['sklearn_per_word_docs'])} | "
          f"{_fmt(s['ours_run_s'], 2)} ({s['ours_compile_s']['max']:.1f}) | "
          f"{_fmt(s['sklearn_run_s'], 2)} |")
  print('\nmax |our perplexity of sklearn topics / sklearn perplexity - 1|: '
        f"{max(abs(r['perplexity_definition_rel_diff']) for r in rows):.1e}")
  for name, topics in top_words.items():
    print(f'\n{name}, ours, K={_TOPICS.value[0]}, seed {_SEEDS.value[0]}:')
    for t, words in enumerate(topics):
      print(f'  topic {t}: {" ".join(words)}')
  total_s = time.perf_counter() - t_start
  print(f'\ntotal {total_s:.0f} s')

  if _OUT.value:
    os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
    settings = {'topics': [int(k) for k in _TOPICS.value],
                'seeds': [int(s) for s in _SEEDS.value],
                'passes': _PASSES.value, 'batch_size': _BATCH.value,
                'kappa': _KAPPA.value, 'learning_offset': _OFFSET.value,
                'ours_tau': _OFFSET.value + 1.0, 'alpha': '1/K', 'eta': '1/K',
                'max_doc_update_iter': _MAX_ITER.value,
                'mean_change_tol': _TOL.value, 'split': '80/20 seed 0',
                'shuffle': False, 'dtype': {'ours': 'float32',
                                            'sklearn': 'float64'},
                'jax_backend': jax.default_backend(),
                'corpora': {n: {**{k: v for k, v in CORPORA[n].items()
                                   if k != 'stop_words'},
                                'stop_words': ('sklearn ENGLISH_STOP_WORDS'
                                               if CORPORA[n]['stop_words']
                                               else None), **corpora[n]}
                            for n in CORPORA}}
    with open(_OUT.value, 'w') as f:
      json.dump({'settings': settings, 'summary': summary, 'runs': rows,
                 'top_words': top_words, 'total_s': total_s}, f, indent=1)
    print(f'wrote {_OUT.value}')


if __name__ == '__main__':
  app.run(main)
