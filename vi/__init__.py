"""Variational inference as a library, in the functional style of `hmc`
(pure init / step functions, NamedTuple states, the caller jits).

  * Black-box VI with Gaussian families (vi/bbvi.py): mean-field or
    full-rank q, the reparameterised ELBO gradient (ADVI-style, optional
    sticking-the-landing) or the score-function one with
    Rao-Blackwellisation and per-factor control variates (Ranganath et al.
    2014); `fit` runs a whole optimisation in one compiled scan.
  * Classical VI: EM (vi/mixture.py) and CAVI (vi/bayesian_mixture.py)
    for the full-covariance Gaussian mixture (the Bayesian one with Dirichlet weights and
    Normal-Wishart components), reaching scikit-learn's fixed points;
    small closed-form conjugate models in vi/conjugate.py.
  * Stochastic VI for conjugate-exponential models (vi/svi.py: the
    Robbins-Monro step size and the natural-gradient update): the Bayesian
    mixture (`fit_svi`) and latent Dirichlet allocation (vi/lda.py, with
    the corpus reader in vi/corpus.py).

`vi.train` (black-box VI) and `vi.run` (CAVI, EM, SVI) are the config
entries (not imported here).

  import jax, numpy as np, targets, vi
  t = targets.linear_regression()
  res = vi.fit(jax.random.key(0), t.logdensity_flat, np.zeros(t.dim),
               family='fullrank', num_samples=8, stl=True)
  res.mean, res.std                   # The Gaussian q's moments.
  vi.elbo_estimate(jax.random.key(1), res.params, t.logdensity_flat)

  from sklearn.datasets import load_iris
  x = load_iris().data
  r0 = np.random.RandomState(0).uniform(size=(len(x), 3))
  cavi = vi.fit_cavi(x, r0 / r0.sum(1, keepdims=True))   # sklearn's fixed point
  vi.mixture_posterior(cavi.state.natural, vi.make_prior(x, 3)).means

  corpus = vi.load_corpus('docs.txt', stop_words=['the', 'a'])  # a line per doc
  state, trace = vi.fit_lda(jax.random.key(0), corpus.counts, num_topics=10)
"""
from vi.bbvi import check_initial
from vi.bbvi import check_settings
from vi.bbvi import covariance
from vi.bbvi import elbo_estimate
from vi.bbvi import elbo_surrogate
from vi.bbvi import entropy
from vi.bbvi import fit
from vi.bbvi import Info
from vi.bbvi import init
from vi.bbvi import init_params
from vi.bbvi import log_q
from vi.bbvi import make_optimizer
from vi.bbvi import mean_and_std
from vi.bbvi import Result
from vi.bbvi import sample
from vi.bbvi import State
from vi.bbvi import step
from vi.corpus import Corpus
from vi.corpus import load_corpus
from vi.corpus import split as split_corpus
from vi.lda import fit as fit_lda
from vi.lda import per_word_bound
from vi.lda import perplexity
from vi.lda import topic_means
from vi.bayesian_mixture import fit_cavi
from vi.bayesian_mixture import fit_svi
from vi.bayesian_mixture import make_prior
from vi.bayesian_mixture import posterior as mixture_posterior
from vi.mixture import fit_em
from vi.svi import check_schedule
from vi.svi import natural_gradient
from vi.svi import step_size

__all__ = [
    # Black-box VI.
    'fit', 'Result', 'init', 'step', 'State', 'Info', 'elbo_surrogate',
    'elbo_estimate', 'init_params', 'sample', 'log_q', 'entropy',
    'mean_and_std', 'covariance', 'make_optimizer', 'check_settings',
    'check_initial',
    # Gaussian mixtures: EM, CAVI, SVI.
    'fit_em', 'fit_cavi', 'fit_svi', 'make_prior', 'mixture_posterior',
    # LDA by SVI, and its corpora.
    'fit_lda', 'per_word_bound', 'perplexity', 'topic_means', 'Corpus',
    'load_corpus', 'split_corpus',
    # Stochastic VI.
    'check_schedule', 'step_size', 'natural_gradient',
]
