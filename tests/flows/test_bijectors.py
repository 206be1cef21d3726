"""Oracle tests for every bijector and both Real NVP models.

Round trips inverse(forward(x)) == x, and log-dets against
slogdet(jax.jacfwd(...)) per example, in evaluation mode and in training mode
(batch statistics). Training-mode batch norm is checked through its defining
property: with momentum 0 the running statistics become the batch statistics,
so evaluation mode with the updated statistics must reproduce the training
pass exactly, and is then a per-example bijection whose Jacobian we can take.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flows import bijectors
from flows import realnvp

jax.config.update('jax_numpy_rank_promotion', 'allow')


def _perturb(variables, key, scale=0.3):
  """Moves parameters off the identity initialisation so the test has teeth."""
  params = variables['params']
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(key, len(leaves))
  noisy = [p + scale * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)]
  return {**variables, 'params': jax.tree.unflatten(treedef, noisy)}


class _Wrap(nn.Module):
  """Exposes a bijector's two methods as apply() targets."""
  layer: nn.Module

  def forward(self, x, train=False):
    return self.layer.forward_and_log_det(x, train)

  def inverse(self, y):
    return self.layer.inverse_and_log_det(y)


def _check_eval_mode(module, variables, x, fwd='forward', inv='inverse'):
  """Round trip and per-example log-det vs autodiff, evaluation mode."""
  y, log_det = module.apply(variables, x, method=fwd)
  x_back, inv_log_det = module.apply(variables, y, method=inv)
  np.testing.assert_allclose(x_back, x, atol=2e-5, rtol=1e-5)
  np.testing.assert_allclose(inv_log_det, -log_det, atol=1e-4, rtol=1e-5)

  def single(xi):
    out, _ = module.apply(variables, xi[None], method=fwd)
    return out.ravel()

  # One compiled Jacobian per example (eager jacfwd dispatches every op).
  jac = jax.jit(jax.vmap(jax.jacfwd(single)))(x)
  _, expected = jnp.linalg.slogdet(jac.reshape(len(x), y[0].size, x[0].size))
  np.testing.assert_allclose(log_det, expected, atol=2e-4, rtol=1e-4)
  return y, log_det


def _check_train_mode(module, variables, x, fwd='forward', inv='inverse'):
  """Training-mode log-det equals the Jacobian with batch statistics fixed."""
  (y_train, ld_train), updated = module.apply(
      variables, x, train=True, method=fwd, mutable=['batch_stats'])
  fixed = {**variables, **updated}
  y_eval, ld_eval = module.apply(fixed, x, method=fwd)
  np.testing.assert_allclose(y_eval, y_train, atol=1e-5, rtol=1e-5)
  np.testing.assert_allclose(ld_eval, ld_train, atol=1e-4, rtol=1e-5)
  _check_eval_mode(module, fixed, x, fwd, inv)


@pytest.mark.parametrize('mask,parity', [('checkerboard', 0), ('checkerboard', 1),
                                         ('channel', 0), ('channel', 1)])
def test_affine_coupling_image(mask, parity):
  c = 4
  out = c if mask == 'checkerboard' else c // 2
  layer = bijectors.AffineCoupling(mask, parity, bijectors.ResNetST(out, 8, 1, 'none'))
  module = _Wrap(layer)
  x = jax.random.normal(jax.random.key(0), (3, 4, 4, c))
  variables = _perturb(module.init(jax.random.key(1), x, method='forward'),
                       jax.random.key(2))
  y, log_det = _check_eval_mode(module, variables, x)
  assert float(jnp.max(jnp.abs(log_det))) > 1e-2  # Not the identity.
  # The conditioning half passes through unchanged.
  if mask == 'checkerboard':
    b = bijectors.checkerboard(4, 4, parity)
    np.testing.assert_array_equal(y * b, x * b)


@pytest.mark.parametrize('dims,parity', [(2, 0), (2, 1), (5, 0), (5, 1)])
def test_affine_coupling_vector(dims, parity):
  out = dims - dims // 2 if parity == 0 else dims // 2
  module = _Wrap(bijectors.AffineCoupling('channel', parity,
                                          bijectors.MLPST(out, 16, 2)))
  x = jax.random.normal(jax.random.key(0), (4, dims))
  variables = _perturb(module.init(jax.random.key(1), x, method='forward'),
                       jax.random.key(2))
  _check_eval_mode(module, variables, x)


def test_flow_batch_norm_both_modes():
  module = _Wrap(bijectors.FlowBatchNorm(3, momentum=0.0))
  x = 2.0 + 3.0 * jax.random.normal(jax.random.key(0), (6, 2, 2, 3))
  variables = module.init(jax.random.key(1), x, method='forward')
  _check_train_mode(module, variables, x)
  (y, _), _ = module.apply(variables, x, train=True, method='forward',
                           mutable=['batch_stats'])
  np.testing.assert_allclose(jnp.mean(y, (0, 1, 2)), 0.0, atol=1e-5)
  np.testing.assert_allclose(jnp.var(y, (0, 1, 2)), 1.0, atol=1e-3)


def test_flow_batch_norm_running_average():
  module = _Wrap(bijectors.FlowBatchNorm(2, momentum=0.9))
  x = 5.0 + jax.random.normal(jax.random.key(0), (64, 2))
  variables = module.init(jax.random.key(1), x, method='forward')
  _, updated = module.apply(variables, x, train=True, method='forward',
                            mutable=['batch_stats'])
  np.testing.assert_allclose(updated['batch_stats']['layer']['mean'],
                             0.1 * jnp.mean(x, 0), rtol=1e-5)


def test_squeeze_round_trip_and_volume():
  module = _Wrap(bijectors.Squeeze())
  x = jax.random.normal(jax.random.key(0), (2, 4, 6, 3))
  y, log_det = module.apply({}, x, method='forward')
  assert y.shape == (2, 2, 3, 12)
  np.testing.assert_array_equal(bijectors.unsqueeze(y), x)
  np.testing.assert_array_equal(log_det, 0.0)
  _check_eval_mode(module, {}, x[:, :2, :2, :1])


def _small_realnvp(**kw):
  return realnvp.RealNVP(data_shape=(4, 4, 1), num_scales=2, features=8,
                         num_blocks=1, **kw)


@pytest.mark.parametrize('net_norm', ['batch', 'none'])
def test_realnvp_multiscale_both_bn_modes(net_norm):
  model = _small_realnvp(net_norm=net_norm, flow_batch_norm=True, bn_momentum=0.0)
  x = jax.random.normal(jax.random.key(0), (4, 4, 4, 1))
  variables = model.init(jax.random.key(1), x, method='forward')
  variables = _perturb(variables, jax.random.key(2), 0.2)
  _check_train_mode(model, variables, x)
  _check_eval_mode(model, variables, x)


def test_realnvp_identity_at_init():
  model = _small_realnvp(flow_batch_norm=False)
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 1))
  variables = model.init(jax.random.key(1), x, method='forward')
  z, log_det = model.apply(variables, x, method='forward')
  np.testing.assert_array_equal(log_det, 0.0)
  # The latent is a fixed permutation of x: same multiset of values.
  np.testing.assert_allclose(jnp.sort(z, -1), jnp.sort(x.reshape(2, -1), -1))


def test_realnvp_sample_and_log_prob():
  model = _small_realnvp(flow_batch_norm=True)
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 1))
  variables = _perturb(model.init(jax.random.key(1), x, method='forward'),
                       jax.random.key(2), 0.1)
  samples = model.apply(variables, jax.random.key(3), 5, method='sample')
  assert samples.shape == (5, 4, 4, 1)
  log_p = model.apply(variables, samples, method='log_prob')
  assert log_p.shape == (5,) and bool(jnp.all(jnp.isfinite(log_p)))


@pytest.mark.parametrize('flow_bn', [False, True])
def test_realnvp_2d(flow_bn):
  model = realnvp.RealNVP2D(num_couplings=4, hidden=16, flow_batch_norm=flow_bn,
                            bn_momentum=0.0)
  x = jax.random.normal(jax.random.key(0), (5, 2))
  variables = model.init(jax.random.key(1), x, method='forward')
  z0, ld0 = model.apply(variables, x, method='forward')
  if not flow_bn:  # Identity at initialisation.
    np.testing.assert_allclose(z0, x, atol=1e-6)
    np.testing.assert_array_equal(ld0, 0.0)
  variables = _perturb(variables, jax.random.key(2))
  if flow_bn:
    _check_train_mode(model, variables, x)
  _check_eval_mode(model, variables, x)


def test_realnvp_rejects_unsqueezable_shape():
  model = realnvp.RealNVP(data_shape=(6, 6, 1), num_scales=3, features=4,
                          num_blocks=1)
  with pytest.raises(ValueError, match='cannot be squeezed'):
    model.init(jax.random.key(0), jnp.zeros((1, 6, 6, 1)), method='forward')
