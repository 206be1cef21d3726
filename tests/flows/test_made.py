"""MADE (arXiv:1502.03509): the autoregressive property for every mask set,
exact normalisation by enumeration, the mask ensemble, sampling."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import data as data_lib
from flows import made
from flows import objective as objective_lib


@pytest.mark.parametrize('ordering', ['natural', 'reversed', 'random'])
@pytest.mark.parametrize('params_per_dim,hidden', [(1, (12,)), (2, (10, 9))])
def test_autoregressive_property_for_every_mask_set(ordering, params_per_dim,
                                                    hidden):
  d, num_masks = 6, 4
  model = made.MADE(num_inputs=d, hidden=hidden, params_per_dim=params_per_dim,
                    num_masks=num_masks, ordering=ordering, mask_seed=3)
  x = jax.random.normal(jax.random.key(0), (1, d))
  context = jnp.ones((1, 3))
  variables = model.init(jax.random.key(1), x, 0, context)
  orderings = model.masks().orderings
  for k in range(num_masks):
    jac = jax.jacfwd(lambda v: model.apply(variables, v[None], k, context)[0])(x[0])
    jac = np.asarray(jac)  # [P, D_out, D_in]
    degree = orderings[k]
    allowed = degree[None, :] < degree[:, None]  # [out, in]: in strictly before out.
    assert np.all(jac[:, ~allowed] == 0), (k, ordering)
    # With the direct connection every allowed pair is connected.
    assert np.all(np.abs(jac[:, allowed]) > 0), (k, ordering)
  if ordering == 'random':
    assert len({tuple(o) for o in orderings}) > 1


def test_hidden_degrees_stay_below_d():
  masks = made.made_masks(5, (7, 7), 1, 3, 'random', 0)
  for k in range(3):
    # Hidden degrees lie in [1, D - 1], and the first output sees only its bias.
    assert all(0 < m[k].sum(0).min() for m in masks.hidden)
    out_first = np.argmin(masks.orderings[k])
    assert masks.output[k][:, out_first].sum() == 0
    assert masks.direct[k][:, out_first].sum() == 0


def _binary_objective(d=4, num_masks=3):
  model = made.MADE(num_inputs=d, hidden=(8,), num_masks=num_masks,
                    ordering='random', mask_seed=1)
  return objective_lib.MadeObjective(model, (2, 2, 1), levels=2, num_samples=5)


def test_each_mask_set_is_a_normalised_distribution():
  obj = _binary_objective()
  all_x = np.array(list(itertools.product([0, 1], repeat=4)), np.uint8)
  batch = {'x': all_x.reshape(16, 2, 2, 1)}
  variables = obj.init(jax.random.key(0), batch)
  # Perturb the biases so the model is far from uniform.
  variables = jax.tree.map(
      lambda a: a + jax.random.normal(jax.random.key(2), a.shape), variables)
  out = obj.evaluate(variables, batch, jax.random.key(0))
  for key in ('nll_nats', 'nll_ensemble_nats'):
    total = np.exp(-np.asarray(out[key], np.float64)).sum()
    assert total == pytest.approx(1.0, abs=1e-5), key
  for k in range(3):
    log_p = obj._log_prob(variables, jnp.asarray(all_x, jnp.float32), k)
    assert np.exp(np.asarray(log_p, np.float64)).sum() == pytest.approx(1.0, abs=1e-5)


def test_ensemble_is_the_average_probability():
  obj = _binary_objective()
  x = np.random.default_rng(0).integers(0, 2, (6, 2, 2, 1)).astype(np.uint8)
  variables = obj.init(jax.random.key(0), {'x': x})
  variables = jax.tree.map(
      lambda a: a + jax.random.normal(jax.random.key(5), a.shape), variables)
  out = obj.evaluate(variables, {'x': x}, jax.random.key(0))
  flat = jnp.asarray(x.reshape(6, -1), jnp.float32)
  p = np.stack([np.exp(np.asarray(obj._log_prob(variables, flat, k), np.float64))
                for k in range(3)])
  np.testing.assert_allclose(out['nll_ensemble_nats'], -np.log(p.mean(0)), rtol=1e-5)


def test_samples_are_binary_images():
  obj = _binary_objective()
  x = np.zeros((2, 2, 2, 1), np.uint8)
  variables = obj.init(jax.random.key(0), {'x': x})
  s = np.asarray(obj.sample(variables, jax.random.key(1)))
  assert s.shape == (5, 2, 2, 1) and set(np.unique(s)) <= {0, 1}


def test_made_trains_on_a_binarized_npz(tmp_path):
  rng = np.random.default_rng(0)
  x = (rng.random((64, 4, 4)) < 0.3).astype(np.uint8)
  path = tmp_path / 'bin.npz'
  np.savez(path, x_train=x[:48], x_test=x[48:])
  from common import trainer
  from configs import made_binarized_mnist
  config = made_binarized_mnist.get_config('smoke')
  # 4x4 binary images, so data.name=npz (a binarized_mnist file is 28x28).
  config.data.name, config.data.npz_path = 'npz', str(path)
  ds = data_lib.load(config.data)
  assert ds.levels == 2 and ds.name == 'npz'
  final = trainer.fit(config, str(tmp_path / 'w'), _from_config(config, ds), ds)
  for key in ('eval/test/nll_nats', 'eval/test/nll_ensemble_nats'):
    assert 0 < final[key] < 16 * np.log(2) * 2, key  # Finite, near 16 bits.


def _from_config(config, ds):
  from flows import train
  return train.build(config, ds)
