"""Shapley values (explain/): the axioms on small models, closed forms,
KernelSHAP at full enumeration and as the budget grows, permutation SHAP's
unbiasedness, integrated gradients' completeness, one-line errors, and
agreement with the `shap` package. The configs' end-to-end runs (train,
explain, resume, reopen) are in tests/test_launch.py."""
import itertools
import math

import jax.numpy as jnp
import numpy as np
import pytest

from common.errors import ConfigError, DataError
from explain import gradients
from explain import shapley

RNG = np.random.default_rng(0)
D = 6
W1 = RNG.normal(size=(D, 12)).astype(np.float32)
W2 = RNG.normal(size=(12, 2)).astype(np.float32)
X = RNG.normal(size=(4, D)).astype(np.float32)
BG = RNG.normal(size=(16, D)).astype(np.float32)


def mlp(z):
  """A smooth nonlinear model with two outputs."""
  return jnp.tanh(z @ W1) @ W2


def brute_force(f, x, background, m, player_of):
  """Shapley values by averaging marginal contributions over all M!
  orderings, in numpy, one coalition at a time: an independent reference."""
  f_np = lambda z: np.asarray(f(jnp.asarray(z)), np.float64)

  def v(coalition):
    mask = np.isin(player_of, list(coalition))
    return f_np(np.where(mask, x, background)).mean(0)

  phi = 0.0
  orders = list(itertools.permutations(range(m)))
  for order in orders:
    contrib = np.zeros((m,) + v(()).shape)
    for k, player in enumerate(order):
      contrib[player] = v(order[:k + 1]) - v(order[:k])
    phi = phi + contrib
  return phi / len(orders)


def _efficiency_gap(e):
  return np.max(np.abs(e.values.sum(1) - (e.output - e.base_values)))


# -- Exact values.


def test_exact_matches_brute_force_and_is_efficient():
  e = shapley.exact_shapley(mlp, X, BG)
  assert e.values.shape == (4, D, 2) and e.base_values.shape == (4, 2)
  ref = brute_force(mlp, X[1], BG, D, np.arange(D))
  np.testing.assert_allclose(e.values[1], ref, atol=2e-5)
  assert _efficiency_gap(e) < 1e-9
  np.testing.assert_allclose(e.base_values[0],
                             np.asarray(mlp(BG), np.float64).mean(0), atol=1e-6)
  np.testing.assert_allclose(e.output, np.asarray(mlp(X)), atol=1e-6)


def test_symmetry_and_dummy():
  # f is symmetric in features 0 and 1 and ignores feature 3; with x0 = x1
  # and b0 = b1 in every background row the game is symmetric in 0 and 1.
  f = lambda z: jnp.tanh(z[:, 0] + z[:, 1]) * z[:, 2] + z[:, 4] ** 2 + 0 * z[:, 3]
  x, bg = X[:2].copy(), BG.copy()
  x[:, 1], bg[:, 1] = x[:, 0], bg[:, 0]
  full = 2 ** D - 2
  for e in (shapley.exact_shapley(f, x, bg),
            shapley.kernel_shap(f, x, bg, num_samples=full),
            shapley.permutation_shap(f, x, bg, num_permutations=64)):
    assert e.values.shape == (2, D)
    np.testing.assert_allclose(e.values[:, 3], 0, atol=1e-6, err_msg=e.method)
    np.testing.assert_allclose(e.values[:, 5], 0, atol=1e-6, err_msg=e.method)
    if e.method != 'permutation':  # Sampled orderings are not symmetric.
      np.testing.assert_allclose(e.values[:, 0], e.values[:, 1], atol=1e-5)
    assert _efficiency_gap(e) < 1e-9


def test_linearity():
  g = lambda z: jnp.sin(z[:, :3].sum(1)) * z[:, 4]
  h = lambda z: mlp(z)[:, 0]
  combo = lambda z: 2.0 * g(z) - 0.5 * h(z)
  eg, eh, ec = (shapley.exact_shapley(f, X, BG) for f in (g, h, combo))
  np.testing.assert_allclose(ec.values, 2 * eg.values - 0.5 * eh.values,
                             atol=1e-5)


def test_linear_model_closed_form_for_every_estimator():
  w = RNG.normal(size=D).astype(np.float32)
  lin = lambda z: z @ w + 3.0
  weights = RNG.uniform(0.5, 2.0, len(BG))
  mean = (weights / weights.sum()) @ BG
  expected = w * (X - mean)  # phi_i = w_i (x_i - E x_i)
  for e in (shapley.exact_shapley(lin, X, BG, background_weights=weights),
            # An additive game is fitted exactly by any full-rank design.
            shapley.kernel_shap(lin, X, BG, num_samples=24, seed=3,
                                background_weights=weights),
            shapley.permutation_shap(lin, X, BG, num_permutations=4,
                                     background_weights=weights)):
    np.testing.assert_allclose(e.values, expected, atol=2e-5, err_msg=e.method)
  eg = gradients.expected_gradients(lin, X, BG, num_samples=4000, seed=1)
  z = (eg.values - w * (X - BG.mean(0))) / np.maximum(eg.stderr, 1e-12)
  assert np.all(np.abs(z) < 5)


def test_groups_are_players():
  # A 4x4 one-channel image in 2x2 superpixels: 4 players.
  img_w = RNG.normal(size=(16, 3)).astype(np.float32)
  f = lambda z: jnp.tanh(z.reshape(len(z), -1) @ img_w)
  x = RNG.normal(size=(2, 4, 4, 1)).astype(np.float32)
  bg = RNG.normal(size=(5, 4, 4, 1)).astype(np.float32)
  groups = shapley.superpixels((4, 4, 1), 2)
  np.testing.assert_array_equal(groups, [[0, 0, 1, 1], [0, 0, 1, 1],
                                         [2, 2, 3, 3], [2, 2, 3, 3]])
  e = shapley.exact_shapley(f, x, bg, groups=groups)
  assert e.values.shape == (2, 4, 3)
  player_of = np.broadcast_to(groups[..., None], (4, 4, 1))
  ref = brute_force(f, x[0], bg, 4, player_of)
  np.testing.assert_allclose(e.values[0], ref, atol=2e-5)
  assert _efficiency_gap(e) < 1e-9
  k = shapley.kernel_shap(f, x, bg, groups=groups, num_samples=100)
  np.testing.assert_allclose(k.values, e.values, atol=1e-5)
  # Spread back over pixels: each pixel carries its superpixel's value.
  pixels = e.feature_values()
  assert pixels.shape == (2, 4, 4, 1, 3)
  np.testing.assert_allclose(pixels[0, 3, 3, 0], e.values[0, 3])
  # Index lists name the same partition.
  lists = [np.flatnonzero(groups.reshape(-1) == j) for j in range(4)]
  e2 = shapley.exact_shapley(f, x, bg, groups=lists)
  np.testing.assert_allclose(e2.values, e.values, atol=1e-6)


# -- KernelSHAP.


def test_kernel_exact_at_full_enumeration():
  exact = shapley.exact_shapley(mlp, X, BG)
  k = shapley.kernel_shap(mlp, X, BG, num_samples=10_000)  # > 2^6 - 2
  assert k.num_evaluations == 2 ** D - 2
  np.testing.assert_allclose(k.values, exact.values, atol=1e-5)
  np.testing.assert_array_equal(k.stderr, 0)


def test_kernel_converges_as_the_budget_grows():
  m = 8
  w1 = RNG.normal(size=(m, 16)).astype(np.float32)
  f = lambda z: jnp.sum(jnp.tanh(z @ w1) * jnp.arange(16), axis=1) / 8
  x = RNG.normal(size=(6, m)).astype(np.float32)
  bg = RNG.normal(size=(10, m)).astype(np.float32)
  exact = shapley.exact_shapley(f, x, bg).values
  errors, ratios = [], []
  for budget in (24, 80, 200, 2 ** m - 2):
    errs, ses = [], []
    for seed in range(3):
      k = shapley.kernel_shap(f, x, bg, num_samples=budget, seed=seed)
      assert _efficiency_gap(k) < 1e-9
      errs.append(np.sqrt(np.mean((k.values - exact) ** 2)))
      ses.append(np.sqrt(np.mean(k.stderr ** 2)))
    errors.append(np.mean(errs))
    ratios.append(np.mean(errs) / max(np.mean(ses), 1e-12))
  assert errors[0] > errors[1] > errors[2] > 100 * errors[3]
  assert errors[3] < 1e-5
  # The delta-method standard errors are the right size where sampling is.
  assert all(0.4 < r < 2.5 for r in ratios[1:3]), ratios


def test_kernel_design_weights():
  m = 7
  masks, w, pairs, mass = shapley.kernel_design(m, 2 ** m - 2,
                                                np.random.default_rng(0))
  assert pairs == 0 and len(masks) == 2 ** m - 2
  assert np.isclose(w.sum(), 1.0)
  s = masks.sum(1)
  kernel = (m - 1) / (np.array([math.comb(m, k) for k in s]) * s * (m - s))
  np.testing.assert_allclose(w / w.sum(), kernel / kernel.sum())
  # A partial budget: sizes 1 and 6 enumerated, the rest in complement pairs.
  masks, w, pairs, mass = shapley.kernel_design(m, 40, np.random.default_rng(0))
  assert len(masks) == 40 and pairs == (40 - 14) // 2
  sampled = masks[-2 * pairs:]
  np.testing.assert_array_equal(sampled[0::2], ~sampled[1::2])
  assert np.isclose(w.sum(), 1.0)


# -- Permutation SHAP.


def test_permutation_is_unbiased():
  # 1500 independent antithetic pairs: their mean is within a few standard
  # errors of the exact values only if each pair's estimate is unbiased.
  exact = shapley.exact_shapley(mlp, X[:2], BG)
  p = shapley.permutation_shap(mlp, X[:2], BG, num_permutations=3000, seed=7)
  z = (p.values - exact.values) / p.stderr
  assert np.all(np.abs(z) < 4.5), np.abs(z).max()
  assert _efficiency_gap(p) < 1e-9
  # Every ordering is efficient, so even one antithetic pair sums exactly.
  one = shapley.permutation_shap(mlp, X, BG, num_permutations=2, seed=1)
  assert _efficiency_gap(one) < 1e-9


# -- Gradients.


def test_integrated_gradients_completeness():
  base = BG.mean(0)
  ig = gradients.integrated_gradients(mlp, X, base, steps=24, output=1)
  gap = ig.values.sum(1) - (np.asarray(mlp(X))[:, 1] - float(mlp(base[None])[0, 1]))
  assert np.max(np.abs(gap)) < 1e-4
  assert ig.efficiency_error() < 1e-4
  # The paper's Riemann rule converges too, more slowly.
  mid = gradients.integrated_gradients(mlp, X, base, steps=200, output=1,
                                       rule='riemann_midpoint')
  assert mid.efficiency_error() < 1e-2
  with pytest.raises(ConfigError, match='output='):
    gradients.integrated_gradients(mlp, X, base)


# -- Bad input: one line each.


def _one_line(excinfo):
  message = str(excinfo.value)
  assert '\n' not in message and len(message) < 300, message
  return message


def test_bad_input_is_one_line():
  wide = np.zeros((2, 21), np.float32)
  with pytest.raises(ConfigError) as e:
    shapley.exact_shapley(lambda z: z.sum(1), wide, wide)
  assert 'kernel_shap' in _one_line(e)
  with pytest.raises(DataError) as e:
    shapley.kernel_shap(mlp, X, BG[:, :5])
  assert 'same features' in _one_line(e)
  bad = X.copy()
  bad[2, 4] = np.nan
  with pytest.raises(DataError) as e:
    shapley.exact_shapley(mlp, bad, BG)
  assert 'row 2, feature 4' in _one_line(e)
  bad_bg = BG.copy()
  bad_bg[0, 0] = np.inf
  with pytest.raises(DataError) as e:
    shapley.permutation_shap(mlp, X, bad_bg)
  assert 'background' in _one_line(e)
  with pytest.raises(DataError) as e:
    shapley.exact_shapley(mlp, X, BG, groups=np.array([0, 0, 1, 1, 3, 3]))
  _one_line(e)
  with pytest.raises(DataError) as e:
    shapley.exact_shapley(lambda z: jnp.log(z[:, 0] - 100.0), X, BG)
  assert 'NaN' in _one_line(e)
  with pytest.raises(DataError) as e:
    shapley.exact_shapley(lambda z: z[:, :, None], X, BG)
  _one_line(e)
  with pytest.raises(ConfigError) as e:
    shapley.explain(mlp, X, BG, method='lime')
  _one_line(e)
  with pytest.raises(ConfigError) as e:
    shapley.kernel_shap(mlp, X, BG, max_rows=0)
  assert 'max_rows' in _one_line(e)


# -- Agreement with the shap package, when it is installed.


def test_agrees_with_the_shap_package():
  shap = pytest.importorskip('shap')
  f_np = lambda z: np.asarray(mlp(jnp.asarray(z, jnp.float32)))[:, 0]
  f = lambda z: mlp(z)[:, 0]
  ours = shapley.exact_shapley(f, X, BG)
  masker = shap.maskers.Independent(BG, max_samples=len(BG))
  theirs = shap.explainers.ExactExplainer(f_np, masker)(X)
  np.testing.assert_allclose(ours.values, theirs.values, atol=1e-5)
  np.testing.assert_allclose(ours.base_values, theirs.base_values, atol=1e-5)
  kernel = shap.KernelExplainer(f_np, BG).shap_values(
      X, nsamples=2 ** D - 2, silent=True, l1_reg=False)
  np.testing.assert_allclose(ours.values, kernel, atol=1e-5)
