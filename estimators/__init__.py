"""Gradient estimators for stochastic computation graphs, behind one
interface (`estimators.base`): each returns an `Estimate` whose surrogate's
gradient is the estimate, under jit and vmap, with any Flax model in f.

  from estimators import discrete
  est = discrete.relax(key, logits, f, control=c_phi, cv_params=phi)
  g = jax.grad(lambda l: discrete.relax(key, l, f, control=c_phi,
                                        cv_params=phi).surrogate)(logits)

Unbiased (discrete): reinforce (+ baselines), reinforce_loo, nvil, muprop,
rebar, relax, arm, disarm, vimco. Biased (relaxed): concrete /
Gumbel-Softmax, straight_through (identity or mean), straight_through_gumbel.
Continuous: reparameterised, score_function, grep (G-REP), rsvi_gamma, lax.
"""
from estimators.base import (Bernoulli, Categorical, Estimate,
                             estimate_and_cv_grads, variance_loss)
from estimators.continuous import (grep, lax, reparameterised, rsvi_gamma,
                                   score_function)
from estimators.discrete import (arm, disarm, muprop, nvil, rebar, relax,
                                 reinforce, reinforce_loo, vimco)
from estimators.relaxed import (anneal_temperature, concrete, straight_through,
                                straight_through_gumbel)

__all__ = ['Bernoulli', 'Categorical', 'Estimate', 'anneal_temperature', 'arm',
           'concrete', 'disarm', 'estimate_and_cv_grads', 'grep', 'lax',
           'muprop', 'nvil', 'rebar', 'reinforce', 'reinforce_loo', 'relax',
           'reparameterised', 'rsvi_gamma', 'score_function',
           'straight_through', 'straight_through_gumbel', 'variance_loss',
           'vimco']
