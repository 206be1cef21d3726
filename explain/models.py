"""A Flax MLP for tabular data and its objective for `common.trainer.fit`.

The model takes the raw features and standardises them inside with the
training split's mean and scale (constants of the objective, not
parameters), so explanations are in the data's own units ("bmi = 0.06")
and a background drawn from the data needs no preprocessing.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from common import objective as objective_lib
from common.errors import ConfigError


class MLP(nn.Module):
  """Dense layers with a nonlinearity, then `outputs` linear units."""
  hidden: tuple = (64, 64)
  outputs: int = 1
  activation: str = 'gelu'

  @nn.compact
  def __call__(self, x):
    act = {'relu': nn.relu, 'gelu': nn.gelu, 'tanh': jnp.tanh,
           'softplus': nn.softplus}[self.activation]
    for width in self.hidden:
      x = act(nn.Dense(width)(x))
    return nn.Dense(self.outputs)(x)


ACTIVATIONS = ('relu', 'gelu', 'tanh', 'softplus')


class TabularObjective(objective_lib.Objective):
  """Squared error (regression, targets standardised) or cross-entropy
  (classification) of `MLP` on float features [B, D]."""

  def __init__(self, model, task, x_mean, x_scale, y_mean=0.0, y_scale=1.0):
    if task not in ('regression', 'classification'):
      raise ConfigError(f'unknown task {task!r}; use regression or classification')
    if model.activation not in ACTIVATIONS:
      raise ConfigError(f'unknown model.activation {model.activation!r}; use '
                        f'one of {", ".join(ACTIVATIONS)}')
    self.model, self.task = model, task
    self.x_mean = np.asarray(x_mean, np.float32)
    self.x_scale = np.asarray(x_scale, np.float32)
    self.y_mean, self.y_scale = float(y_mean), float(y_scale)

  def _raw(self, params, x):
    """The network's output on raw features: [B, outputs]."""
    z = (jnp.asarray(x, jnp.float32) - self.x_mean) / self.x_scale
    return self.model.apply({'params': params}, z)

  def init(self, rng, batch):
    return {'params': self.model.init(rng, self._standard_x(batch['x']))['params']}

  def _standard_x(self, x):
    return (jnp.asarray(x, jnp.float32) - self.x_mean) / self.x_scale

  def predict(self, variables, x):
    """What explanations explain: the prediction in the target's units
    (regression, [B]) or the class logits [B, K] (classification; log-odds
    are additive where probabilities saturate)."""
    out = self._raw(variables['params'], x)
    if self.task == 'regression':
      return out[:, 0] * self.y_scale + self.y_mean
    return out

  def _per_example(self, params, batch):
    out = self._raw(params, batch['x'])
    if self.task == 'regression':
      z = (batch['y'].astype(jnp.float32) - self.y_mean) / self.y_scale
      err = out[:, 0] - z
      return err ** 2, {'squared_error': (err * self.y_scale) ** 2,
                        'abs_error': jnp.abs(err) * self.y_scale}
    logp = jax.nn.log_softmax(out)
    y = batch['y'].astype(jnp.int32)
    nll = -jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
    acc = (jnp.argmax(out, -1) == y).astype(jnp.float32)
    return nll, {'nll': nll, 'accuracy': acc}

  def loss(self, variables, batch, rng, train):
    per, metrics = self._per_example(variables['params'], batch)
    return jnp.mean(per), {k: jnp.mean(v) for k, v in metrics.items()}, {}

  def evaluate(self, variables, batch, rng):
    return self._per_example(variables['params'], batch)[1]
