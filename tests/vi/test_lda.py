"""SVI for LDA against oracles: the local fixed point, unbiased replicated
minibatches, a numpy CAVI sweep, a monotone batch ELBO, recovery of known
topics, scikit-learn's perplexity on its own fitted model, and the corpus
reader's errors."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.special import digamma

from common.errors import ConfigError
from common.errors import DataError
from vi import corpus
from vi import lda
from vi import svi


@pytest.fixture(scope='module')
def synthetic():
  counts, topics, _ = corpus.synthetic_lda(0, num_docs=200, num_topics=4,
                                           words_per_topic=8, doc_length=60)
  return counts[:160], counts[160:], topics


def _small_lam(seed, k, v):
  return jnp.asarray(np.random.default_rng(seed).gamma(100.0, 0.01, (k, v)),
                     jnp.float32)


def test_local_step_reaches_its_fixed_point(synthetic):
  train, _, _ = synthetic
  docs = corpus.pad(train[:12])
  lam = _small_lam(1, 4, train.shape[1]) * 5.0
  local = jax.jit(lda.local_step)(lam, docs, 0.3, 2000, 2e-5)
  assert int(local.num_iters.max()) < 2000  # Converged, not capped.
  phi = lda.responsibilities(lam, docs, local.gamma)
  np.testing.assert_allclose(phi.sum(-1), 1.0, rtol=1e-5)
  implied = 0.3 + jnp.einsum('bl,blk->bk', docs.counts, phi)
  np.testing.assert_allclose(local.gamma, implied, rtol=1e-4, atol=1e-3)
  np.testing.assert_allclose(local.exp_elog_theta,
                             jnp.exp(lda.dirichlet_expectation(local.gamma)),
                             rtol=1e-5)


def test_natural_gradient_is_lambda_hat_minus_lambda(synthetic):
  """T-B1 on lda.py itself: with the documents' q(theta) fixed (gamma) and
  phi at its optimum, the bound's gradient in lambda (envelope theorem:
  the phi-fixed gradient), premultiplied by the inverse Fisher of
  q(beta_k) (the Hessian of its log-normaliser, arXiv:1206.7051 Eqs.
  13-14), equals lambda_hat - lambda with lambda_hat = eta + the expected
  counts at that phi."""
  train, _, _ = synthetic
  docs = corpus.pad(train[:8])
  alpha, eta = 0.3, 0.1
  lam = _small_lam(3, 4, train.shape[1]) * 2.0
  gamma = lda.local_step(lam, docs, alpha, 20, 0.0).gamma * 1.3  # Any gamma.
  local = lda.Local(gamma, jnp.exp(lda.dirichlet_expectation(gamma)),
                    jnp.zeros(gamma.shape[0], jnp.int32))
  lam_hat = eta + lda.expected_counts(lam, docs, local)
  bound = lambda l: lda.approx_bound(l, docs, alpha, eta, gamma)[0]
  log_norm = lambda row: (jnp.sum(jax.scipy.special.gammaln(row))
                          - jax.scipy.special.gammaln(row.sum()))
  fisher_inv_grad = jax.jit(lambda l: jax.vmap(jnp.linalg.solve)(
      jax.vmap(jax.hessian(log_norm))(l), jax.grad(bound)(l)))
  np.testing.assert_allclose(fisher_inv_grad(lam),
                             svi.natural_gradient(lam, lam_hat),
                             rtol=2e-3, atol=2e-3)


def test_replicated_minibatch_lambda_hat_is_unbiased(synthetic):
  train, _, _ = synthetic
  docs = corpus.pad(train[:6])
  lam = _small_lam(2, 4, train.shape[1])
  # tol=0 with a fixed count: each document's local parameters are the same
  # whatever minibatch it is in.
  fn = jax.jit(lda.lambda_hat, static_argnums=(4,))
  full, _ = fn(lam, docs, 0.3, 0.1, 6, 30, 0.0)
  subsets = list(itertools.combinations(range(6), 2))
  mean = sum(fn(lam, jax.tree.map(lambda a, s=s: a[np.array(s)], docs),
                0.3, 0.1, 6, 30, 0.0)[0] for s in subsets) / len(subsets)
  np.testing.assert_allclose(mean, full, rtol=1e-5)
  # A short minibatch padded with empty rows counts only its real documents.
  padded = jax.tree.map(lambda a: np.concatenate([a[:2], 0 * a[:1]]), docs)
  np.testing.assert_allclose(fn(lam, padded, 0.3, 0.1, 6, 30, 0.0)[0],
                             fn(lam, jax.tree.map(lambda a: a[:2], docs),
                                0.3, 0.1, 6, 30, 0.0)[0], rtol=1e-6)


def _numpy_cavi_sweep(lam, dense, alpha, eta, iters):
  # Explicit per-token phi, float64: one E-step (gamma from ones, `iters`
  # updates) per document, then lambda = eta + expected counts.
  elog_beta = digamma(lam) - digamma(lam.sum(1, keepdims=True))
  new = np.full_like(lam, eta)
  for row in dense:
    words = np.repeat(np.arange(len(row)), row)
    gamma = np.ones(lam.shape[0])
    for _ in range(iters):
      elog_theta = digamma(gamma) - digamma(gamma.sum())
      logits = elog_theta[None] + elog_beta[:, words].T
      phi = np.exp(logits - logits.max(1, keepdims=True))
      phi /= phi.sum(1, keepdims=True)
      gamma = alpha + phi.sum(0)
    elog_theta = digamma(gamma) - digamma(gamma.sum())
    logits = elog_theta[None] + elog_beta[:, words].T
    phi = np.exp(logits - logits.max(1, keepdims=True))
    phi /= phi.sum(1, keepdims=True)
    np.add.at(new.T, words, phi)
  return new


def test_full_batch_rho_one_is_one_cavi_sweep(synthetic):
  train, _, _ = synthetic
  sub = train[:20]
  lam = _small_lam(3, 4, train.shape[1])
  state = lda.State(lam, jnp.zeros((), jnp.int32))
  new, info = jax.jit(lda.step, static_argnames=('num_docs', 'max_iter'))(
      state, corpus.pad(sub), 1.0, alpha=0.3, eta=0.1, num_docs=20,
      max_iter=25, tol=0.0)
  ref = _numpy_cavi_sweep(np.asarray(lam, np.float64), sub.toarray(), 0.3,
                          0.1, 25)
  np.testing.assert_allclose(new.lam, ref, rtol=2e-4, atol=1e-4)
  assert int(new.step) == 1 and float(info.mean_local_iters) == 25


def test_batch_vi_elbo_never_decreases(synthetic):
  train, _, _ = synthetic
  # Evaluating on the training documents, the per-pass "held-out" bound with
  # the topic term is the full-data ELBO per word.
  _, trace = lda.fit(jax.random.key(0), train, 4, passes=12, method='batch',
                     alpha=0.3, eta=0.1, max_iter=300, tol=1e-5,
                     random_gamma_init=False, heldout=train)
  elbo = np.array(trace['heldout_per_word'])
  assert np.all(np.diff(elbo) > -1e-5), elbo
  assert elbo[-1] > elbo[0] + 0.05
  assert trace['rho'] == [1.0] * 12


def test_svi_recovers_known_topics_and_heldout_bound_improves(synthetic):
  train, heldout, topics = synthetic
  state, trace = lda.fit(jax.random.key(1), train, 4, passes=20,
                         batch_size=16, kappa=0.7, tau=2.0, alpha=0.2,
                         eta=0.05, shuffle=True, heldout=heldout)
  est = np.asarray(lda.topic_means(state.lam))
  dist = 0.5 * np.abs(est[:, None, :] - topics[None]).sum(-1)  # TV distances.
  rows, cols = linear_sum_assignment(dist)
  assert dist[rows, cols].max() < 0.1, dist[rows, cols]
  assert len(trace['rho']) == 20 * 10
  np.testing.assert_allclose(trace['rho'][:2], [2.0**-0.7, 3.0**-0.7],
                             rtol=1e-6)
  for name in ('heldout_per_word', 'heldout_per_word_docs'):
    curve = trace[name]
    assert curve[-1] > curve[0] + 0.01 and curve[-1] >= max(curve) - 0.01, curve


def test_our_bound_on_sklearn_topics_is_its_perplexity(synthetic):
  from sklearn.decomposition import LatentDirichletAllocation
  train, heldout, _ = synthetic
  # Words 0-3 never occur in training: every topic gives them exp E[log
  # beta] ~1e-8, where a float32-sized eps in phi's normaliser would show.
  train = sp.csr_matrix(train.multiply(np.arange(train.shape[1]) > 3))
  model = LatentDirichletAllocation(
      n_components=4, doc_topic_prior=0.3, topic_word_prior=0.1,
      learning_method='online', batch_size=32, max_iter=10, random_state=0)
  model.fit(train)
  lam = jnp.asarray(model.components_, jnp.float32)
  docs = corpus.pad(heldout)
  score, words = jax.jit(lda.approx_bound)(lam, docs, 0.3, 0.1)
  assert abs(float(score) / model.score(heldout) - 1) < 1e-4
  assert words == heldout.sum()
  ours = np.exp(-float(score) / float(words))  # lda.perplexity's definition.
  assert abs(ours / model.perplexity(heldout) - 1) < 1e-3


def test_bad_hyperparameters_and_counts_are_one_line_errors(synthetic):
  train, _, _ = synthetic
  key = jax.random.key(0)
  with pytest.raises(ConfigError, match='kappa'):
    lda.fit(key, train, 4, kappa=0.5)
  with pytest.raises(ConfigError, match='alpha'):
    lda.fit(key, train, 4, alpha=0.0)
  with pytest.raises(ConfigError, match='eta'):
    lda.fit(key, train, 4, eta=-1.0)
  with pytest.raises(ConfigError, match='vocabulary size'):
    lda.fit(key, train, train.shape[1] + 1)
  with pytest.raises(ConfigError, match='num_topics'):
    lda.fit(key, train, 0)
  with pytest.raises(DataError, match='negative'):
    lda.fit(key, np.array([[1, -2], [3, 0]]), 2)
  with pytest.raises(DataError, match='non-integer'):
    lda.fit(key, np.array([[1.5, 2.0], [3.0, 0.0]]), 2)
  with pytest.raises(DataError, match='document 1 .*no words'):
    lda.fit(key, sp.csr_matrix(np.array([[1, 2], [0, 0], [3, 1]])), 2)
  with pytest.raises(DataError, match='same vocabulary'):
    lda.fit(key, train, 4, heldout=train[:, :31])


def _write(tmp_path, text, name='c.txt'):
  path = tmp_path / name
  path.write_bytes(text.encode('utf-8') if isinstance(text, str) else text)
  return str(path)


def test_corpus_empty_line_is_an_error_naming_it_unless_dropped(tmp_path):
  path = _write(tmp_path, 'Cats chase mice.\n\nDogs chase cats!\n')
  with pytest.raises(DataError, match=r'line 2 of .*drop_empty=True'):
    corpus.load_corpus(path)
  c = corpus.load_corpus(path, drop_empty=True)
  assert c.counts.shape == (2, 4) and list(c.lines) == [1, 3]
  # A line emptied by the stop words names itself too.
  path = _write(tmp_path, 'cats chase mice\nthe and of 42\n', 'd.txt')
  with pytest.raises(DataError, match='line 2 .*stop-word'):
    corpus.load_corpus(path, stop_words=['the', 'and', 'of'])


def test_corpus_tokenisation_and_pruning(tmp_path):
  assert corpus.tokenize("It's 2024: Naïve_bayes, e-mail x", min_len=2) == [
      'it', 'naïve', 'bayes', 'mail']
  text = ('apple banana apple the cherry\n'
          'banana apple the date banana\n'
          'apple the elder elder\n')
  c = corpus.load_corpus(_write(tmp_path, text), stop_words={'THE'},
                         min_count=2, max_doc_frac=0.9)
  # apple is in every document (> 0.9), the is a stop word, cherry and date
  # occur once.
  assert c.vocab == ('banana', 'elder')
  np.testing.assert_array_equal(c.counts.toarray(), [[1, 0], [2, 0], [0, 2]])
  c = corpus.load_corpus(_write(tmp_path, text, 'e.txt'))
  assert c.vocab == ('apple', 'banana', 'cherry', 'date', 'elder', 'the')
  np.testing.assert_array_equal(c.counts.toarray()[0], [2, 1, 1, 0, 0, 1])
  docs = corpus.pad(c.counts)
  assert docs.word_ids.shape == (3, 4) and docs.counts.sum() == c.counts.sum()
  train, held = corpus.split(c, 1 / 3, seed=0)
  assert train.counts.shape[0] == 2 and held.counts.shape[0] == 1
  again = corpus.split(c, 1 / 3, seed=0)[1]
  assert list(held.lines) == list(again.lines)


def test_corpus_missing_empty_and_non_utf8_files(tmp_path):
  with pytest.raises(DataError, match='not found'):
    corpus.load_corpus(str(tmp_path / 'nope.txt'))
  with pytest.raises(DataError, match='empty'):
    corpus.load_corpus(_write(tmp_path, ''))
  with pytest.raises(DataError, match='line 2 .*UTF-8'):
    corpus.load_corpus(_write(tmp_path, b'fine\n\xff\xfe bad\n', 'b.txt'))
  with pytest.raises(ConfigError, match='min_count'):
    corpus.load_corpus(_write(tmp_path, 'a b', 'f.txt'), min_count=0)
