"""The full posterior of the log-strengths by the project's NUTS, and rank
probabilities from its draws.

The position is {'s': [n]} plus scalars 'home' (log theta) and 'tie' (log
nu) when the model has them; the likelihood is `models.log_likelihood` and
the prior on s is a `models.Prior` in s-space: Normal(0, scale^2) on each
s_i, or the log-gamma density exp(a s - b e^s) of s = log pi with pi ~
Gamma(a, b) (Caron & Doucet 2012, arXiv:1011.1761, whose Gibbs sampler
targets the same posterior). Home and tie parameters get flat priors.

With the gamma prior the two-player posterior is known exactly: for pi_1,
pi_2 iid Gamma(a, b), p = pi_1 / (pi_1 + pi_2) ~ Beta(a, a) independently
of pi_1 + pi_2, and the likelihood depends on p alone, so after w wins in
m games p ~ Beta(a + w, a + m - w). The tests check NUTS draws against it.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import hmc
import targets
from common.errors import ConfigError
from ranking import models


@dataclasses.dataclass(frozen=True, eq=False)
class Posterior:
  """NUTS draws of the log-strengths and what follows from them.

  s: [chains, draws, n] log-strengths as sampled; centred: minus each
  draw's mean (the scale-free part that tables show). home, tie: [chains,
  draws] or None. p_best, p_top: [n] probability of being strongest / in
  the top `top_k`; mean_rank [n] (1 = best). result: the `hmc.Result`.
  """
  names: tuple
  s: np.ndarray
  home: np.ndarray
  tie: np.ndarray
  p_best: np.ndarray
  p_top: np.ndarray
  top_k: int
  mean_rank: np.ndarray
  summary: list
  result: hmc.Result

  @property
  def centred(self):
    return self.s - self.s.mean(-1, keepdims=True)


def rank_probabilities(s_draws, top_k=3):
  """From draws of log-strengths [..., n]: P(best) [n], P(in the top k) [n]
  and the mean rank [n] (1 = strongest), over all leading axes."""
  s = np.asarray(s_draws).reshape(-1, np.shape(s_draws)[-1])
  n = s.shape[1]
  if not 1 <= top_k <= n:
    raise ConfigError(f'top_k must be in [1, {n}] (the number of players); '
                      f'got {top_k}')
  # rank 0 = strongest, per draw.
  ranks = np.argsort(np.argsort(-s, axis=1, kind='stable'), axis=1)
  p_best = np.mean(ranks == 0, axis=0)
  p_top = np.mean(ranks < top_k, axis=0)
  return p_best, p_top, ranks.mean(0) + 1.


def target(data, home=False, ties='auto', prior='normal'):
  """The `targets.Target` of the posterior of (s, [home], [tie])."""
  prior = models.as_prior(prior)
  if prior.kind == 'none':
    raise ConfigError("the posterior needs a proper prior on the strengths: "
                      "use prior='normal' or 'gamma'")
  ties = models.resolve_ties(data, ties)
  models._check_counts(data, home, ties)  # pylint: disable=protected-access
  r = models.rows(data, ties)
  n = data.num_players
  template = {'s': np.zeros(n, np.float32)}
  if home:
    template['home'] = np.float32(0.)
  if ties == 'davidson':
    template['tie'] = np.float32(0.)

  def log_joint(p):
    s = p['s']
    return (models.log_likelihood(s, p.get('home'), p.get('tie'), r) +
            prior.log_density(s))

  names = ([f's[{name}]' for name in data.names] +
           (['home'] if home else []) + (['tie'] if ties == 'davidson' else []))
  return targets.Target('bradley_terry', log_joint, template, names=names)


def sample(data, rng, home=False, ties='auto', prior='normal', num_chains=4,
           num_warmup=500, num_draws=1000, top_k=3, max_depth=10):
  """NUTS (hmc.run_chains) on the posterior of the log-strengths, in
  float64. `rng` is a jax key or an int seed. Returns a `Posterior`."""
  with jax.enable_x64(True):
    if isinstance(rng, int):
      rng = jax.random.key(rng)
    t = target(data, home, ties, prior)
    init_key, run_key = jax.random.split(rng)
    res = hmc.run_chains(run_key, t, t.initial(init_key, num_chains,
                                               jnp.float64),
                         'nuts', num_warmup, num_draws, max_depth=max_depth)
  draws = res.named_draws
  s = np.asarray(draws['s'])
  top_k = min(top_k, data.num_players)  # Top 3 of 2 players is all of them.
  p_best, p_top, mean_rank = rank_probabilities(s, top_k)
  rows = hmc.summary(res.draws, res.names)
  return Posterior(data.names, s, draws.get('home'), draws.get('tie'),
                   p_best, p_top, top_k, mean_rank, rows, res)
