"""One interface for every gradient estimator of E_{z ~ p(z|theta)}[f(z)].

An estimator is a function

    estimator(key, params, f, **options) -> Estimate

whose `Estimate.surrogate` is a scalar such that `jax.grad` of it with
respect to the distribution's parameters (and anything `f` closes over) is
the gradient estimate of E[sum(f(z))] (a stochastic computation graph's
surrogate loss, Schulman et al. 2015, arXiv:1506.05254). The surrogate's
value equals sum(f(z)) at the drawn samples, so it can be logged and
maximised like the objective itself; every control-variate term is built
as `x - stop_gradient(x)`, zero in value. The same code runs under `jit`
and `vmap`, with any Flax model inside `f`.

Conventions (discrete variables):
  * Bernoulli: `params` are logits [B, D]; z in {0, 1} as floats [B, D].
  * Categorical: `params` are logits [B, D, K]; z one-hot [B, D, K].
  * `f(z)` returns one value per example, [B]; the estimate is of the
    gradient of E[sum_b f_b(z_b)]. `f` may depend on `params` directly
    (an ELBO's -log q): that pathwise part is included.
  * `control_f` (where an estimator uses f inside a control variate, e.g.
    REBAR) defaults to `f`; pass a version of f with every parameter under
    `stop_gradient` to keep the control variate's zero-mean noise out of
    the model's own gradient.

Estimators with learned control-variate parameters take `cv_params` and
report `Estimate.cv_loss`: for NVIL the squared error the baseline network
minimises; for REBAR, RELAX and LAX `variance_loss` minimises E||g||^2 by
differentiating the estimate itself (second-order autodiff). Running
statistics (moving-average baselines) go in and out as `state`.
"""
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

sg = jax.lax.stop_gradient


class Estimate(NamedTuple):
  surrogate: jax.Array          # Scalar; jax.grad of it is the estimate.
  value: jax.Array              # [B] f at the samples (no gradient meaning).
  cv_loss: jax.Array = jnp.zeros(())  # Scalar the cv_params minimise.
  state: Any = None             # Updated running statistics, if any.


def score_term(coefficient, log_prob):
  """Zero in value; gradient coefficient * grad(log_prob) (the score-function
  term, with the coefficient held constant)."""
  return jnp.sum(sg(coefficient) * (log_prob - sg(log_prob)))


def zero_value(x):
  """x - stop_gradient(x): zero in value, the gradient of x."""
  return x - sg(x)


# ----------------------------------------------------------------------------
# The two discrete families: sampling, log-probabilities per example, means.


class Bernoulli:
  """Independent Bernoulli variables with logits [B, D]."""

  @staticmethod
  def sample(key, logits):
    return jax.random.bernoulli(key, jax.nn.sigmoid(logits)).astype(logits.dtype)

  @staticmethod
  def log_prob(logits, z):
    """log p(z) per example [B] (summed over the D variables)."""
    lp = z * jax.nn.log_sigmoid(logits) + (1 - z) * jax.nn.log_sigmoid(-logits)
    return lp.reshape(lp.shape[0], -1).sum(-1)

  @staticmethod
  def log_prob_per_variable(logits, z):
    return z * jax.nn.log_sigmoid(logits) + (1 - z) * jax.nn.log_sigmoid(-logits)

  @staticmethod
  def mean(logits):
    return jax.nn.sigmoid(logits)


class Categorical:
  """Independent categorical variables with logits [B, D, K], z one-hot."""

  @staticmethod
  def sample(key, logits):
    k = logits.shape[-1]
    return jax.nn.one_hot(jax.random.categorical(key, logits), k,
                          dtype=logits.dtype)

  @staticmethod
  def log_prob(logits, z):
    lp = jnp.sum(z * jax.nn.log_softmax(logits), -1)
    return lp.reshape(lp.shape[0], -1).sum(-1)

  @staticmethod
  def log_prob_per_variable(logits, z):
    return jnp.sum(z * jax.nn.log_softmax(logits), -1)

  @staticmethod
  def mean(logits):
    return jax.nn.softmax(logits)


def family(kind):
  """Bernoulli or Categorical by name ('bernoulli' | 'categorical')."""
  families = {'bernoulli': Bernoulli, 'categorical': Categorical}
  if kind not in families:
    raise ValueError(f'unknown discrete family {kind!r}; use bernoulli or '
                     'categorical')
  return families[kind]


def variance_loss(estimate_fn, params, cv_params):
  """E||g||^2 of the estimate g = grad(surrogate) wrt `params`, as a function
  of `cv_params`: its gradient is how REBAR/RELAX/LAX tune their control
  variates (unbiased for every cv_params, so the variance is what to
  minimise; Grathwohl et al. 2018, arXiv:1711.00123 Sec. 3).

  `estimate_fn(params, cv_params) -> Estimate` with fixed randomness.
  """
  g = jax.grad(lambda p: estimate_fn(p, cv_params).surrogate)(params)
  return sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(g))


def estimate_and_cv_grads(estimate_fn, params, cv_params, tune_variance):
  """(gradient estimate wrt params, gradient of the cv objective wrt
  cv_params, Estimate): what an objective's `grads` hook returns for an
  estimator with learned control variates.

  `estimate_fn(params, cv_params) -> Estimate`, with its randomness fixed
  (a closed-over key); `params` may be anything upstream of the
  distribution's logits (an encoder's weights). The cv objective is the
  estimate's `cv_loss` (NVIL's squared error) plus, with `tune_variance`
  (REBAR, RELAX, LAX), E||g||^2 of the estimate wrt `params`.
  """
  est = estimate_fn(params, cv_params)
  g = jax.grad(lambda p: estimate_fn(p, cv_params).surrogate)(params)

  def cv_objective(c):
    loss = estimate_fn(sg(params), c).cv_loss
    if tune_variance:
      loss = loss + variance_loss(estimate_fn, sg(params), c)
    return loss

  return g, jax.grad(cv_objective)(cv_params), est
