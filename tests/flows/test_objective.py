"""The Real NVP image objective: the loss value and the shape of its compiled step.

`weight_scale_l2` is one reduction over the concatenated gains rather than a
Python sum of per-leaf reductions (see its docstring): the loss and its
gradient must be those of the per-leaf definition, and the compiled training
step must not copy a per-gain chain of scalar adds into the NaN guard's
per-leaf selects (that made realnvp_cifar's compile quadratic: 20 min on CPU).
"""
import re

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from common import bpd
from common import trainer
from flows import objective as objective_lib
from flows import realnvp


def _per_leaf_scale_l2(params):
  """The definition before the compile-time fix, as the reference."""
  flat = flax.traverse_util.flatten_dict(params)
  return sum(jnp.sum(jnp.square(v)) for k, v in flat.items() if k[-1] == 'scale')


@pytest.fixture(scope='module')
def setup():
  """A one-scale Real NVP (4 couplings) with batch norm inside s/t: 28 gains
  named 'scale' (WNConv and BatchNorm). Parameters moved off their init."""
  model = realnvp.RealNVP(data_shape=(4, 4, 3), num_scales=1, features=4,
                          num_blocks=1, net_norm='batch')
  objective = objective_lib.ImageFlowObjective(model, levels=256, scale_l2=0.1)
  rng = np.random.default_rng(0)
  batch = {'x': rng.integers(0, 256, (4, 4, 4, 3), dtype=np.uint8)}
  tx = optax.adam(1e-3)
  state = trainer.create_state(objective, tx, jax.random.key(0),
                               jax.random.key(1), batch, 0.0)
  params = jax.tree.map(
      lambda p: p + 0.5 * rng.standard_normal(p.shape, np.float32), state.params)
  state = state.replace(params=params, opt_state=tx.init(params))
  return objective, tx, state, batch


def test_weight_scale_l2_equals_per_leaf_sum(setup):
  params = setup[2].params
  value, grads = jax.value_and_grad(objective_lib.weight_scale_l2)(params)
  ref_value, ref_grads = jax.value_and_grad(_per_leaf_scale_l2)(params)
  np.testing.assert_allclose(value, ref_value, rtol=1e-6)
  jax.tree.map(np.testing.assert_array_equal, grads, ref_grads)
  assert float(objective_lib.weight_scale_l2({'a': {'kernel': jnp.ones(3)}})) == 0.0


def test_train_step_loss_and_no_gain_chain_in_selects(setup):
  """The compiled training step: the loss is the per-leaf definition's, and
  the NaN guard's per-leaf selects do not each recompute the penalty.

  With the per-leaf sum, XLA fused the chain of one scalar add per gain into
  every select of `make_train_step` (one per state leaf): 28 adds in each
  here, ~560 in each of thousands of selects for realnvp_cifar.
  """
  objective, tx, state, batch = setup
  num_gains = sum(1 for k in flax.traverse_util.flatten_dict(state.params)
                  if k[-1] == 'scale')
  step = jax.jit(trainer.make_train_step(objective, tx, lambda _: 1e-3, 0.0))
  compiled = step.lower(state, batch).compile()
  _, metrics = compiled(state, batch)
  reg = objective.scale_l2 * _per_leaf_scale_l2(state.params)
  assert float(reg) > 1.0  # The penalty matters here.
  np.testing.assert_allclose(metrics['scale_l2_nats'], reg, rtol=1e-6)
  # loss = bits/dim of (mean NLL + reg); bpd = mean bits/dim of the NLL.
  np.testing.assert_allclose(
      metrics['loss'], metrics['bpd'] + bpd.nats_to_bpd(reg, 4 * 4 * 3),
      rtol=1e-6)
  assert float(metrics['grad_norm']) > 0

  select_fusions = [body for body in re.findall(
      r'\n%fused_computation[^\n]*\{\n(.*?)\n\}', compiled.as_text(), re.S)
                    if 'ROOT %select' in body]
  scalar_adds = [len(re.findall(r'= f32\[\] add\(', body))
                 for body in select_fusions]
  assert num_gains == 28 and len(select_fusions) > 100
  assert max(scalar_adds) < num_gains // 2, (max(scalar_adds), num_gains)
