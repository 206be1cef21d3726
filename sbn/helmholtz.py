"""Helmholtz machines trained by wake-sleep (Hinton et al. 1995) and
reweighted wake-sleep (Bornschein & Bengio 2015, arXiv:1406.2751).

The generative model and the recognition network are `models.SBN`'s. No
single objective is optimised: the generative parameters follow the wake
gradient E_q[grad log p(x, h)] (RWS: the K-sample self-normalised version
sum_k w~_k grad log p(x, h_k)), the recognition parameters either the sleep
gradient E_p[grad log q(h | x~)] on dreams (h, x~) ~ p, or (RWS wake-q)
sum_k w~_k grad log q(h_k | x). Each parameter appears in one term only, so
one scalar loss carries both updates. Evaluation is the SBN's: test -ELBO
and the importance-sampled NLL bound.
"""
import jax
import jax.numpy as jnp

from common.errors import ConfigError
from sbn import objective as sbn_objective

sg = jax.lax.stop_gradient


class HelmholtzObjective(sbn_objective.SBNObjective):
  """Wake-sleep (`num_samples` = 1, `q_update` = 'sleep') or reweighted
  wake-sleep (`num_samples` = K > 1; `q_update` 'wake', 'sleep' or 'both')."""

  def __init__(self, model, levels, *, num_samples=1, q_update='sleep', **kw):
    super().__init__(model, 'reinforce', levels, baseline='none', **kw)
    if q_update not in ('wake', 'sleep', 'both'):
      raise ConfigError(f"unknown q_update {q_update!r}; use wake, sleep or both")
    if num_samples == 1 and q_update != 'sleep':
      raise ConfigError('wake-sleep with one sample updates q in the sleep '
                        'phase; the wake-q update needs num_samples > 1 (RWS)')
    self.estimator = 'wake_sleep' if num_samples == 1 else 'rws'
    self.num_samples, self.q_update = num_samples, q_update

  grads = None  # One loss: `fit` differentiates it.

  def _init_state(self):
    return {}

  def loss(self, variables, batch, rng, train):
    params = variables['params']['model']
    x_key, q_key, dream_key = jax.random.split(rng, 3)
    x = self._flat(batch, x_key)
    k = self.num_samples
    zs = sg(jax.vmap(lambda kk: self._sample_q(params, kk, x))(
        jax.random.split(q_key, k)))                                  # K chains.
    log_joint = jax.vmap(lambda z: self._apply(params, x, z,
                                               method=self.model.log_joint))(zs)
    log_q = jax.vmap(lambda z: self._apply(params, x, z,
                                           method=self.model.log_q))(zs)
    log_w = log_joint - log_q                                         # [K, B]
    weights = sg(jax.nn.softmax(log_w, 0))                            # w~_k.
    wake_p = -jnp.mean(jnp.sum(weights * log_joint, 0))
    loss = wake_p
    if self.q_update in ('wake', 'both'):
      loss = loss - jnp.mean(jnp.sum(weights * log_q, 0))
    if self.q_update in ('sleep', 'both'):
      x_dream, h_dream = sg(self._apply(sg(params), dream_key, x.shape[0],
                                        method=self.model.sample_p))
      loss = loss - jnp.mean(self._apply(params, x_dream, h_dream,
                                         method=self.model.log_q))
    bound = jax.nn.logsumexp(sg(log_w), 0) - jnp.log(k)
    return loss, {'elbo': jnp.mean(sg(log_w)), f'bound_{k}': jnp.mean(bound)}, {}
