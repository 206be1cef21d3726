"""Latent Dirichlet allocation by stochastic variational inference
(Hoffman, Blei, Wang & Paisley 2013, arXiv:1206.7051; the online algorithm
of Hoffman, Blei & Bach 2010) on a corpus with one document per line, with
sklearn's LatentDirichletAllocation(learning_method='online') defaults
(alpha = eta = 1/K, kappa 0.7, learning offset 10; batch 32 instead of its
128, as the corpora here have a few hundred documents) and an 80/20
document split; reports the held-out per-word bound as sklearn's
`perplexity` defines it (bench/lda_vs_sklearn.py compares the two).

Command:   python launch.py --config=configs/vi_lda.py \\
             --config.corpus.path=../shared/data/text/lee_background.cor --workdir=runs/vi_lda_lee
Hardware:  2-core CPU (no accelerator).
Wall time: 19 s for lee_background (compile 3.5 s, 10 passes 0.27 s), 18 s for head500; shared CPU.
Result:    K = 10, 10 passes: lee_background (300 news articles, 3733 words
           after stop words and pruning) held-out per-word bound -10.62
           (-8.48 without the topic term; sklearn's definition); head500
           (250 Wikipedia articles, corpus.stop_words='') -10.50 (-9.31).
           Against sklearn on the same settings: docs/RESULTS.md.
Smoke:     --config=configs/vi_lda.py:smoke (a synthetic corpus, seconds).

Arguments: k (topics), passes, batch, kappa, method=online|batch,
corpus (a path, or 'synthetic': 200 documents from 4 known topics).
"""
from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, smoke=False, k=10, passes=10, batch=32, kappa=0.7,
                       method='online', corpus='')
  c = common.lda_config(a.corpus, a.k)
  m = c.model
  m.passes, m.batch_size, m.kappa, m.method = a.passes, a.batch, a.kappa, a.method
  if a.smoke:
    c.corpus.path = a.corpus or 'synthetic'
    c.corpus.stop_words, c.corpus.min_count, c.corpus.max_doc_frac = '', 1, 1.0
    m.num_topics, m.passes, m.batch_size = 4, 4, 40
    c.ckpt_every_passes = 2
    c.keep_checkpoints = 10
  return c
