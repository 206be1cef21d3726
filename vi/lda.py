"""Stochastic variational inference for latent Dirichlet allocation.

Online LDA of Hoffman, Blei & Bach (NeurIPS 2010) as the LDA instance of
SVI (Hoffman, Blei, Wang & Paisley 2013, arXiv:1206.7051, Sec. 4 / Fig. 6).
The global factor is q(beta_k) = Dir(lambda_k) per topic; each document d
has q(theta_d) = Dir(gamma_d) and q(z_dn) = Cat(phi_dn). Pure functions,
NamedTuple state, no jit inside (the caller jits; `fit` is a convenience
that does):

  init(key, num_topics, vocab_size)                     -> State
  local_step(lam, docs, alpha, ...)                      -> Local (gamma, ...)
  lambda_hat(lam, docs, alpha, eta, num_docs, ...)       -> (lambda_hat, Local)
  step(state, docs, rho, alpha=, eta=, num_docs=, ...)   -> (State, Info)
  approx_bound / per_word_bound / perplexity(lam, docs, alpha, eta)
  fit(key, counts, num_topics, ...)                      -> (State, trace)

Local step: phi_dnk ∝ exp(E[log theta_dk] + E[log beta_{k,w_dn}]),
gamma_d = alpha + sum_n c_dn phi_dn, iterated per document until the mean
absolute change of gamma_d falls below `tol` or `max_iter` updates. Global
step: lambda_hat = eta + (D/|S|) sum_{d in S} sum_n c_dn phi_dn 1[w_dn = v]
and lambda <- (1 - rho) lambda + rho lambda_hat (vi/svi.py). Batch VI
(CAVI) is the special case S = all documents, rho = 1.

The arithmetic follows scikit-learn's `LatentDirichletAllocation` so the
two run with identical settings: phi is never stored (the E-step works with
exp E[log theta] and exp E[log beta], phi_dnk = those / their inner
product); the local iteration, its stopping rule and the eps added to the
normaliser are sklearn's (its eps only in float64; see `_eps`); gamma
starts at 1 for evaluation and, in training, at Gamma(100, 1/100) jitter,
as lambda does (`gamma_jitter`; other random numbers than sklearn's).
One difference in convention: sklearn's step size is
(learning_offset + t)^-kappa counting updates from t = 1, ours is
vi.svi.step_size(t) = (t + tau)^-kappa from t = 0, so sklearn's
learning_offset = tau0 is our tau = tau0 + 1.

The bound (`approx_bound`) is sklearn's `_approx_bound` without
subsampling: sum over the given documents of E[log p(w_d | theta_d, beta)]
with phi maximised out, plus E[log p(theta_d) - log q(theta_d)], plus the
topics' E[log p(beta) - log q(beta)] counted once (topic_term=True). Divided
by the documents' word count it is the per-word bound whose exp(-.) is
sklearn's `perplexity`. With topic_term=False it is the sum of held-out
document ELBOs with the topics fixed at their mean-field posterior, a
per-document lower bound on log p(w_d | data) averaged per word, which does
not grow with the ratio of vocabulary to held-out words.
"""
import time
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma
from jax.scipy.special import gammaln

from common.errors import ConfigError
from common.errors import DataError
from vi import corpus as corpus_lib
from vi import svi
from vi.corpus import Docs


class State(NamedTuple):
  lam: jax.Array   # [K, V] Dirichlet parameters of q(beta); sklearn's components_.
  step: jax.Array  # int32: number of global updates taken.


class Local(NamedTuple):
  gamma: jax.Array           # [B, K] Dirichlet parameters of q(theta_d).
  exp_elog_theta: jax.Array  # [B, K] exp E[log theta_d] at gamma.
  num_iters: jax.Array       # [B] int32 local updates until convergence.


class Info(NamedTuple):
  rho: jax.Array
  mean_local_iters: jax.Array
  natgrad_norm: jax.Array    # ||lambda_hat - lambda||_F, the natural gradient.


def dirichlet_expectation(params):
  """E[log x] under Dir(params), along the last axis."""
  return digamma(params) - digamma(jnp.sum(params, -1, keepdims=True))


def check_hyperparameters(num_topics, alpha, eta, vocab_size=None):
  """One-line ConfigError unless K is a positive integer and alpha, eta > 0."""
  if int(num_topics) != num_topics or num_topics < 1:
    raise ConfigError(f'num_topics={num_topics} must be an integer >= 1')
  if vocab_size is not None and num_topics > vocab_size:
    raise ConfigError(f'num_topics={num_topics} exceeds the vocabulary size '
                      f'{vocab_size}; use fewer topics than distinct words')
  for name, value in (('alpha', alpha), ('eta', eta)):
    if not (np.isfinite(value) and value > 0):
      raise ConfigError(f'{name}={value} must be a positive Dirichlet '
                        f'concentration (e.g. {name}=1/num_topics)')


def gamma_jitter(key, shape, concentration=100.0, dtype=jnp.float32):
  """Gamma(c, 1/c) draws (mean 1, sd 1/sqrt(c)): the starting jitter of lambda
  and gamma in sklearn and Hoffman et al. (2010), with c = 100.

  By the Wilson-Hilferty cube of a normal, c (1 - 1/(9c) + z/sqrt(9c))^3 / c,
  whose distribution at c = 100 is within ~1e-4 of the gamma's: it only
  breaks the symmetry between topics, and jax.random.gamma's rejection loop
  costs seconds of compile time for that.
  """
  z = jax.random.normal(key, shape, dtype)
  b = 1.0 / (9.0 * concentration)
  return jnp.maximum((1.0 - b + z * jnp.sqrt(b)) ** 3, 1e-3)


def init(key, num_topics: int, vocab_size: int, concentration: float = 100.0,
         dtype=jnp.float32) -> State:
  """lambda ~ Gamma(c, 1/c) elementwise (mean 1), as sklearn and Hoffman et
  al. (2010) start; drawn by `gamma_jitter`'s Wilson-Hilferty
  approximation (a cubed normal, very close at c = 100)."""
  if int(num_topics) != num_topics or num_topics < 1:
    raise ConfigError(f'num_topics={num_topics} must be an integer >= 1')
  if int(vocab_size) != vocab_size or vocab_size < 1:
    raise ConfigError(f'vocab_size={vocab_size} must be an integer >= 1')
  lam = gamma_jitter(key, (num_topics, vocab_size), concentration, dtype)
  return State(lam, jnp.zeros((), jnp.int32))


def _gather(exp_elog_beta, docs: Docs):
  # [B, K, L]: exp E[log beta_{k, w}] for each document's distinct words;
  # words on the minor axis, so the E-step's contractions over K vectorise
  # along the long axis (2-3x faster on CPU than [B, L, K]).
  return jnp.swapaxes(exp_elog_beta.T[docs.word_ids], 1, 2)


def _eps(dtype):
  # Added to phi's normaliser so that a word no topic explains does not
  # divide by zero. sklearn adds the float64 machine epsilon, 2.2e-16; the
  # float32 one, 1.2e-7, is not negligible: a word rare in every topic (one
  # unseen in training) has exp E[log beta] ~ 1e-9 and would lose most of
  # its weight in the E-step.
  return 1e-30 if jnp.dtype(dtype) == jnp.float32 else jnp.finfo(dtype).eps


def _norm(exp_elog_theta, beta_d, eps):
  # sum_k exp E[log theta_dk] exp E[log beta_kw]: phi's normaliser per word.
  return jnp.einsum('bk,bkl->bl', exp_elog_theta, beta_d) + eps


def local_step(lam, docs: Docs, alpha, max_iter=100, tol=1e-3,
               gamma_init=None) -> Local:
  """Coordinate ascent on (gamma_d, phi_d) for every document, topics fixed.

  Each document stops on its own once the mean absolute change of gamma_d
  is below `tol` (sklearn's `mean_change_tol`) or after `max_iter` updates
  (its `max_doc_update_iter`); finished documents are frozen while the
  others continue, so the result is the same as one document at a time.

  Args:
    lam: [K, V] topic Dirichlet parameters.
    docs: padded documents, [B, L].
    alpha: the symmetric Dirichlet prior on theta.
    max_iter, tol: the stopping rule.
    gamma_init: [B, K] starting gamma; ones when None.
  """
  exp_elog_beta = jnp.exp(dirichlet_expectation(lam))
  return _local_step(exp_elog_beta, docs, alpha, max_iter, tol, gamma_init)


def _local_step(exp_elog_beta, docs, alpha, max_iter, tol, gamma_init):
  dtype = exp_elog_beta.dtype
  num_docs, num_topics = docs.word_ids.shape[0], exp_elog_beta.shape[0]
  eps = _eps(dtype)
  beta_d = _gather(exp_elog_beta, docs)
  counts = docs.counts.astype(dtype)
  gamma = (jnp.ones((num_docs, num_topics), dtype) if gamma_init is None
           else jnp.asarray(gamma_init, dtype))
  e_theta = jnp.exp(dirichlet_expectation(gamma))

  def cond(carry):
    it, _, _, done, _ = carry
    return (it < max_iter) & ~jnp.all(done)

  def body(carry):
    it, gamma, e_theta, done, iters = carry
    ratio = counts / _norm(e_theta, beta_d, eps)
    new_gamma = alpha + e_theta * jnp.einsum('bl,bkl->bk', ratio, beta_d)
    new_e_theta = jnp.exp(dirichlet_expectation(new_gamma))
    change = jnp.mean(jnp.abs(new_gamma - gamma), -1)
    keep = done[:, None]
    gamma = jnp.where(keep, gamma, new_gamma)
    e_theta = jnp.where(keep, e_theta, new_e_theta)
    iters = iters + (~done).astype(jnp.int32)
    return it + 1, gamma, e_theta, done | (change < tol), iters

  start = (jnp.zeros((), jnp.int32), gamma, e_theta,
           jnp.zeros((num_docs,), bool), jnp.zeros((num_docs,), jnp.int32))
  _, gamma, e_theta, _, iters = jax.lax.while_loop(cond, body, start)
  return Local(gamma, e_theta, iters)


def responsibilities(lam, docs: Docs, gamma):
  """phi [B, L, K]: q(z = k) for each document's distinct words given gamma."""
  elog_beta = dirichlet_expectation(lam)
  logits = dirichlet_expectation(gamma)[:, None, :] + elog_beta.T[docs.word_ids]
  return jax.nn.softmax(logits, -1)


def expected_counts(lam, docs: Docs, local: Local):
  """[K, V] sum_d sum_n c_dn phi_dnk 1[w_dn = v] at the local parameters."""
  exp_elog_beta = jnp.exp(dirichlet_expectation(lam))
  return _expected_counts(exp_elog_beta, docs, local.exp_elog_theta)


def _expected_counts(exp_elog_beta, docs, e_theta):
  dtype = exp_elog_beta.dtype
  beta_d = _gather(exp_elog_beta, docs)
  ratio = docs.counts.astype(dtype) / _norm(e_theta, beta_d, _eps(dtype))
  # phi_dnk c_dn = e_theta_dk exp_elog_beta_kw c_dn / norm_dn; the beta factor
  # is applied once after the scatter, as sklearn does.
  contrib = e_theta[:, None, :] * ratio[:, :, None]          # [B, L, K]
  num_topics = exp_elog_beta.shape[0]
  sstats = jnp.zeros_like(exp_elog_beta).at[:, docs.word_ids.reshape(-1)].add(
      contrib.reshape(-1, num_topics).T)
  return sstats * exp_elog_beta


def _num_real(docs):
  # Real documents are never empty (corpus.check_counts); all-zero rows pad
  # a short last minibatch and must not count in D/|S|.
  return jnp.sum(jnp.sum(docs.counts, -1) > 0)


def lambda_hat(lam, docs: Docs, alpha, eta, num_docs, max_iter=100, tol=1e-3,
               gamma_init=None):
  """(lambda_hat, Local): eta + (D/|S|) x the minibatch's expected counts.

  The complete conditional's expected natural parameter as if the minibatch
  were replicated D/|S| times (arXiv:1206.7051 Eq. 20); with every document
  it is the CAVI update.
  """
  exp_elog_beta = jnp.exp(dirichlet_expectation(lam))
  local = _local_step(exp_elog_beta, docs, alpha, max_iter, tol, gamma_init)
  sstats = _expected_counts(exp_elog_beta, docs, local.exp_elog_theta)
  scale = svi.replicate_scale(num_docs, jnp.maximum(_num_real(docs), 1))
  return eta + scale * sstats, local


def step(state: State, docs: Docs, rho, *, alpha, eta, num_docs,
         max_iter=100, tol=1e-3, key=None, gamma_init=None):
  """One SVI update from a minibatch: lambda <- (1 - rho) lambda + rho lambda_hat.

  Args:
    state: current State.
    docs: the minibatch, padded; all-zero rows are padding.
    rho: step size, e.g. vi.svi.step_size(state.step, kappa, tau); 1 with
      every document is a batch VI (CAVI) sweep.
    alpha, eta: symmetric Dirichlet priors on theta and on the topics.
    num_docs: D, the size of the whole corpus.
    max_iter, tol: the local stopping rule.
    key: when given, gamma starts at Gamma(100, 1/100) draws (sklearn's and
      Hoffman's training E-step; `gamma_jitter`); otherwise at ones.
    gamma_init: [B, K] starting gamma instead (e.g. jitter drawn ahead).
  """
  if key is not None:
    shape = (docs.word_ids.shape[0], state.lam.shape[0])
    gamma_init = gamma_jitter(key, shape, 100.0, state.lam.dtype)
  lam_hat, local = lambda_hat(state.lam, docs, alpha, eta, num_docs, max_iter,
                              tol, gamma_init)
  grad = svi.natural_gradient(state.lam, lam_hat)
  lam = svi.update(state.lam, lam_hat, rho)
  real = jnp.sum(docs.counts, -1) > 0
  mean_iters = (jnp.sum(jnp.where(real, local.num_iters, 0))
                / jnp.maximum(jnp.sum(real), 1))
  info = Info(jnp.asarray(rho, lam.dtype), mean_iters,
              jnp.sqrt(jnp.sum(grad**2)))
  return State(lam, state.step + 1), info


def _dirichlet_kl_terms(prior, params, elog, size):
  # sklearn's _loglikelihood: E[log Dir(x | prior) - log Dir(x | params)]
  # summed over rows, for a symmetric prior over `size` components.
  score = jnp.sum((prior - params) * elog)
  score += jnp.sum(gammaln(params) - gammaln(prior))
  score += jnp.sum(gammaln(prior * size) - gammaln(jnp.sum(params, -1)))
  return score


def approx_bound(lam, docs: Docs, alpha, eta, gamma=None, max_iter=100,
                 tol=1e-3, topic_term=True):
  """(bound, word count): the ELBO of `docs` with the topics' q fixed.

  sklearn's `_approx_bound(X, gamma, sub_sampling=False)` when topic_term is
  True. gamma defaults to the local step from ones (sklearn's `transform`).
  """
  if gamma is None:
    gamma = local_step(lam, docs, alpha, max_iter, tol).gamma
  dtype = lam.dtype
  real = jnp.sum(docs.counts, -1) > 0
  elog_theta = dirichlet_expectation(gamma)
  elog_beta = dirichlet_expectation(lam)
  logits = elog_theta[:, None, :] + elog_beta.T[docs.word_ids]  # [B, L, K]
  # E[log p(w | theta, beta)] with phi at its optimum given gamma.
  score = jnp.sum(docs.counts.astype(dtype)
                  * jax.nn.logsumexp(logits, -1))
  num_topics = lam.shape[0]
  per_doc = jax.vmap(lambda g, e: _dirichlet_kl_terms(alpha, g, e, num_topics))(
      gamma, elog_theta)
  score += jnp.sum(jnp.where(real, per_doc, 0.0))
  if topic_term:
    score += _dirichlet_kl_terms(eta, lam, elog_beta, lam.shape[1])
  return score, jnp.sum(docs.counts.astype(dtype))


def per_word_bound(lam, docs: Docs, alpha, eta, max_iter=100, tol=1e-3,
                   topic_term=True):
  """The bound divided by the documents' word count (nats per word)."""
  score, words = approx_bound(lam, docs, alpha, eta, None, max_iter, tol,
                              topic_term)
  return score / words


def perplexity(lam, docs: Docs, alpha, eta, max_iter=100, tol=1e-3,
               topic_term=True):
  """exp(-per-word bound): sklearn's `perplexity(X)` when topic_term=True."""
  return jnp.exp(-per_word_bound(lam, docs, alpha, eta, max_iter, tol,
                                 topic_term))


def topic_means(lam):
  """E[beta] = lambda / row sums: the topics as word distributions."""
  return lam / jnp.sum(lam, -1, keepdims=True)


def _batches(num_docs, batch_size, order):
  # Index matrix [num_batches, batch_size] into the documents, with index
  # num_docs (an all-zero padding row) filling the last, short batch: the
  # minibatches of sklearn's gen_batches over the order.
  num_batches = -(-num_docs // batch_size)
  idx = np.full(num_batches * batch_size, num_docs, np.int64)
  idx[:num_docs] = order
  return idx.reshape(num_batches, batch_size)


def _one_pass(state, all_docs, index, jitter, settings, online):
  # One pass of `fit`: a scan over the minibatches given by index rows.
  alpha, eta, num_docs, kappa, tau, max_iter, tol = settings

  def body(state, xs):
    idx, gamma_init = xs
    batch = Docs(all_docs.word_ids[idx], all_docs.counts[idx])
    rho = (svi.step_size(state.step, kappa, tau) if online
           else jnp.ones((), state.lam.dtype))
    return step(state, batch, rho, alpha=alpha, eta=eta, num_docs=num_docs,
                max_iter=max_iter, tol=tol, gamma_init=gamma_init)
  return jax.lax.scan(body, state, (index, jitter))


def _evaluate(lam, docs, settings):
  # Per-word held-out bounds, with and without the topic term, sharing gamma.
  alpha, eta, _, _, _, max_iter, tol = settings
  gamma = local_step(lam, docs, alpha, max_iter, tol).gamma
  full, words = approx_bound(lam, docs, alpha, eta, gamma)
  docs_only, _ = approx_bound(lam, docs, alpha, eta, gamma, topic_term=False)
  return full / words, docs_only / words


# Module-level jits: jax keeps their compiled programs per argument shapes,
# so refits with the same shapes (other seeds) skip compiling.
_ONE_PASS = jax.jit(_one_pass, static_argnames='online')
_EVALUATE = jax.jit(_evaluate)


def fit(key, counts, num_topics: int, passes: int = 10, batch_size: int = 64,
        kappa: float = 0.7, tau: float = 11.0, alpha: Optional[float] = None,
        eta: Optional[float] = None, max_iter: int = 100, tol: float = 1e-3,
        method: str = 'online', shuffle: bool = False,
        random_gamma_init: bool = True, heldout=None, state=None,
        first_pass: int = 0, on_pass=None):
  """Fits LDA by SVI (method='online') or batch VI (method='batch').

  Online: each pass visits the documents in minibatches of `batch_size`
  (in order, like sklearn's `fit`, or in a fresh random order per pass with
  shuffle=True, as SVI's uniform sampling assumes) with
  rho_t = (t + tau)^-kappa. Batch: `passes` CAVI sweeps over all documents
  (rho = 1; batch_size, kappa and tau unused).

  Args:
    key: PRNG key (initial lambda, shuffling, gamma initialisations).
    counts: [D, V] document-term counts (scipy sparse or dense).
    num_topics: K.
    passes: passes over the corpus (sklearn's max_iter).
    batch_size: |S| (sklearn's batch_size); capped at D.
    kappa, tau: the step-size schedule; tau = sklearn's learning_offset + 1.
    alpha, eta: Dirichlet priors on theta and topics; default 1/K (sklearn's).
    max_iter, tol: the local step's stopping rule.
    method: 'online' or 'batch'.
    shuffle: reshuffle the documents every pass (online only).
    random_gamma_init: start each training E-step at Gamma(100, 1/100) draws.
    heldout: optional [D', V] counts, evaluated (per-word bound, sklearn's
      definition and without the topic term) after every pass.
    state, first_pass: continue a fit: the State after `first_pass` passes
      (every pass's randomness depends only on the key and the pass index,
      so a resumed fit equals an uninterrupted one).
    on_pass: optional callback(pass_index + 1, state, pass_metrics) after
      every pass (the config entry checkpoints there).

  Returns:
    (State, trace): trace holds per-step 'rho', 'mean_local_iters' and
    'natgrad_norm', per-pass 'heldout_per_word' / 'heldout_per_word_docs'
    (when heldout is given), 'compile_s' (near 0 when an earlier fit with the same
    shapes compiled it) and 'run_s' (the passes, compiled, without
    evaluation).
  """
  if method not in ('online', 'batch'):
    raise ConfigError(f"method='{method}' must be 'online' or 'batch'")
  m = corpus_lib.check_counts(counts)
  num_docs, vocab_size = m.shape
  check_hyperparameters(num_topics, 1.0, 1.0, vocab_size)
  alpha = 1.0 / num_topics if alpha is None else float(alpha)
  eta = 1.0 / num_topics if eta is None else float(eta)
  check_hyperparameters(num_topics, alpha, eta, vocab_size)
  if int(passes) != passes or passes < 1:
    raise ConfigError(f'passes={passes} must be an integer >= 1')
  if int(max_iter) != max_iter or max_iter < 1:
    raise ConfigError(f'max_iter={max_iter} must be an integer >= 1')
  if tol < 0:
    raise ConfigError(f'tol={tol} must be >= 0 (e.g. 1e-3)')
  if method == 'online':
    svi.check_schedule(kappa, tau)
    if int(batch_size) != batch_size or batch_size < 1:
      raise ConfigError(f'batch_size={batch_size} must be an integer >= 1')
    batch_size = min(int(batch_size), num_docs)
  else:
    batch_size = num_docs
  held = None
  if heldout is not None:
    held_m = corpus_lib.check_counts(heldout, 'heldout')
    if held_m.shape[1] != vocab_size:
      raise DataError(f'heldout has {held_m.shape[1]} words per row but the '
                      f'training counts have {vocab_size}; build both with '
                      'the same vocabulary')
    held = corpus_lib.pad(held_m, what='heldout')

  docs = corpus_lib.pad(m)
  # One all-zero row at index D pads short minibatches.
  all_docs = Docs(
      jnp.asarray(np.concatenate([docs.word_ids, 0 * docs.word_ids[:1]])),
      jnp.asarray(np.concatenate([docs.counts, 0 * docs.counts[:1]])))
  init_key, run_key = jax.random.split(key)
  if state is None:
    state = init(init_key, num_topics, vocab_size)
  f32 = lambda x: np.asarray(x, np.float32)
  settings = (f32(alpha), f32(eta), f32(num_docs), f32(kappa), f32(tau),
              np.int32(max_iter), f32(tol))

  index0 = jnp.asarray(_batches(num_docs, batch_size, np.arange(num_docs)))
  jitter_shape = index0.shape + (num_topics,)
  ones = jnp.ones(jitter_shape, state.lam.dtype)
  t0 = time.perf_counter()
  # The E-step jitter is drawn outside the compiled pass: threefry inside
  # the scan doubles its compile time.
  pass_fn = _ONE_PASS.lower(state, all_docs, index0, ones, settings,
                            online=method == 'online').compile()
  eval_fn = None
  if held is not None:
    held = Docs(jnp.asarray(held.word_ids), jnp.asarray(held.counts))
    eval_fn = _EVALUATE.lower(state.lam, held, settings).compile()
  compile_s = time.perf_counter() - t0

  trace = {'rho': [], 'mean_local_iters': [], 'natgrad_norm': [],
           'heldout_per_word': [], 'heldout_per_word_docs': []}
  run_s = 0.0
  for p in range(first_pass, passes):
    perm_key, pass_key = jax.random.split(jax.random.fold_in(run_key, p))
    if shuffle and method == 'online':
      order = np.asarray(jax.random.permutation(perm_key, num_docs))
      index = jnp.asarray(_batches(num_docs, batch_size, order))
    else:
      index = index0
    jitter = (gamma_jitter(pass_key, jitter_shape) if random_gamma_init
              else ones)
    t0 = time.perf_counter()
    state, info = pass_fn(state, all_docs, index, jitter, settings)
    jax.block_until_ready(state)
    run_s += time.perf_counter() - t0
    for name in ('rho', 'mean_local_iters', 'natgrad_norm'):
      trace[name].extend(np.asarray(getattr(info, name)).tolist())
    metrics = {'mean_local_iters': float(np.mean(info.mean_local_iters))}
    if eval_fn is not None:
      full, docs_only = eval_fn(state.lam, held, settings)
      trace['heldout_per_word'].append(float(full))
      trace['heldout_per_word_docs'].append(float(docs_only))
      metrics.update(heldout_per_word=float(full),
                     heldout_per_word_docs=float(docs_only))
    if on_pass is not None:
      on_pass(p + 1, state, metrics)
  trace['compile_s'] = compile_s
  trace['run_s'] = run_s
  return state, trace
