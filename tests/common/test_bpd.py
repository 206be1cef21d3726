"""Likelihood bookkeeping: exact 8 bits/dim for a uniform model, logit Jacobian."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from common import bpd
from common import distributions


def test_uniform_model_on_8bit_data_is_exactly_8_bpd():
  # Uniform density on [0, 256)^D: log p = -D log 256 for every dequantized x.
  x = jax.random.randint(jax.random.key(0), (4, 8, 8, 3), 0, 256)
  v = bpd.uniform_dequantize(jax.random.key(1), x, 256)
  num_dims = 8 * 8 * 3
  nll = jnp.full((4,), num_dims * math.log(256.0))
  assert bool(jnp.all((v >= 0) & (v < 256)))
  np.testing.assert_allclose(bpd.nats_to_bpd(nll, num_dims), 8.0, rtol=1e-12)


@pytest.mark.parametrize('levels', [2, 17, 256])
def test_uniform_model_through_the_logit_transform(levels):
  # The density on y = logit(p) that is uniform in p on (alpha, 1 - alpha) is
  # logistic(y) / (1 - 2 alpha); with the logit's log-det it must give exactly
  # log2(levels) bits/dim, which checks the Jacobian bookkeeping end to end.
  alpha, num_dims = 0.05, 12
  x = jax.random.randint(jax.random.key(0), (5, num_dims), 0, levels)
  v = bpd.uniform_dequantize(jax.random.key(1), x, levels)
  y, log_det = bpd.logit_transform(v, levels, alpha)
  log_py = jnp.sum(-y - 2 * jax.nn.softplus(-y) - math.log(1 - 2 * alpha), -1)
  bits = bpd.nats_to_bpd(-(log_py + log_det), num_dims)
  np.testing.assert_allclose(bits, math.log2(levels), rtol=1e-5)


def test_logit_log_det_matches_autodiff_and_inverts():
  levels, alpha = 256, 0.05
  v = jax.random.uniform(jax.random.key(0), (3, 6), maxval=256.0)
  _, log_det = bpd.logit_transform(v, levels, alpha)
  for i in range(3):
    jac = jax.jacfwd(lambda vi: bpd.logit_transform(vi[None], levels, alpha)[0][0])(v[i])
    np.testing.assert_allclose(log_det[i], jnp.linalg.slogdet(jac)[1], rtol=1e-5)
  y, _ = bpd.logit_transform(v, levels, alpha)
  np.testing.assert_allclose(bpd.inverse_logit_transform(y, levels, alpha), v,
                             rtol=1e-4, atol=1e-3)
  np.testing.assert_array_equal(bpd.quantize(v, levels), np.floor(v).astype(np.uint8))


def test_standard_normal_log_prob_matches_closed_form():
  z = jnp.array([[0.0, 1.0], [2.0, -1.0]])
  expected = -math.log(2 * math.pi) - 0.5 * jnp.sum(z ** 2, -1)
  np.testing.assert_allclose(distributions.standard_normal_log_prob(z), expected,
                             rtol=1e-6)
  np.testing.assert_allclose(
      distributions.diagonal_normal_log_prob(z, jnp.zeros_like(z), jnp.zeros_like(z)),
      expected, rtol=1e-6)
