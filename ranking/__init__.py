"""Bradley-Terry models as a library: pairwise comparisons, MLE by Hunter's
MM algorithm or Newman's faster iteration, MAP under a gamma prior (Caron &
Doucet 2012) or a normal one, home advantage, ties (Davidson 1970), the
full posterior of the log-strengths by the project's NUTS with P(best) and
P(top k), and predictions. `ranking.run` is the config entry (not imported
here).

  import ranking
  games = ranking.load('baseball')           # the embedded 1987 AL East copy
  fit = ranking.fit(games, home=True)        # MLE (Newman's iteration)
  fit.centred, fit.se, fit.home              # log-strengths, s.e., log theta
  ranking.predict_proba(fit, 'Milwaukee', 'Boston', home=1)
  # A team that never lost: the MLE does not exist (one-line DataError);
  # a prior keeps every strength finite.
  fit = ranking.fit(games, prior=ranking.Prior('gamma', shape=2., rate=1.))
  post = ranking.sample_posterior(games, 0, home=True, prior='normal')
  post.p_best, post.p_top                    # rank probabilities per player
  # Your own results: winners and losers (ids or names), or counts per pair.
  games = ranking.from_pairs(['a', 'b', 'a'], ['b', 'c', 'c'])
  games = ranking.comparisons(i, j, wins_i, wins_j, ties, home, names=names)
"""
from ranking.data import aggregate
from ranking.data import check_mle_exists
from ranking.data import compact
from ranking.data import comparisons
from ranking.data import Comparisons
from ranking.data import DATASETS
from ranking.data import default_path
from ranking.data import from_pairs
from ranking.data import generate
from ranking.data import load
from ranking.data import load_baseball
from ranking.data import load_football
from ranking.data import load_icehockey
from ranking.data import mle_problem
from ranking.data import reindex
from ranking.models import Fit
from ranking.models import fit
from ranking.models import log_likelihood
from ranking.models import log_likelihood_of
from ranking.models import log_loss
from ranking.models import mm_step
from ranking.models import newman_step
from ranking.models import predict_proba
from ranking.models import Prior
from ranking.posterior import Posterior
from ranking.posterior import rank_probabilities
from ranking.posterior import sample as sample_posterior
from ranking.posterior import target as posterior_target

__all__ = [
    # Data.
    'Comparisons', 'comparisons', 'from_pairs', 'load', 'load_baseball',
    'load_football', 'load_icehockey', 'generate', 'aggregate', 'compact',
    'reindex', 'DATASETS', 'default_path', 'mle_problem', 'check_mle_exists',
    # Point estimates.
    'fit', 'Fit', 'Prior', 'log_likelihood', 'log_likelihood_of', 'mm_step',
    'newman_step', 'predict_proba', 'log_loss',
    # Posterior.
    'sample_posterior', 'posterior_target', 'Posterior', 'rank_probabilities',
]
