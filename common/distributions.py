"""Log-densities shared by every family (one place for each formula).

Every `*_log_prob` sums over all non-batch dimensions and returns shape [B]
unless it says otherwise. Discrete image likelihoods take integer data with
`levels` values and map it to bin centres in [-1, 1], as in PixelCNN++
(Salimans et al. 2017, arXiv:1701.05517 Sec. 2.1).
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def sum_per_example(a):
  """Sums every non-batch dimension: [B, ...] -> [B]."""
  return jnp.sum(a.reshape(a.shape[0], -1), axis=-1)


def standard_normal_log_prob(z):
  """Sum over all non-batch dimensions of log N(z; 0, 1): shape [B]."""
  return sum_per_example(-_HALF_LOG_2PI - 0.5 * jnp.square(z))


def diagonal_normal_log_prob(x, mean, log_scale):
  """Sum over non-batch dimensions of log N(x; mean, exp(log_scale)^2)."""
  per_dim = (-_HALF_LOG_2PI - log_scale
             - 0.5 * jnp.square((x - mean) * jnp.exp(-log_scale)))
  return sum_per_example(per_dim)


def diagonal_normal_sample(rng, mean, log_scale):
  """The reparameterised draw mean + exp(log_scale) * eps (Kingma & Welling 2014)."""
  return mean + jnp.exp(log_scale) * jax.random.normal(rng, mean.shape)


def normal_kl_to_standard(mean, log_scale):
  """KL(N(mean, exp(log_scale)^2) || N(0, 1)), summed per example: [B].

  The closed form 0.5 * (sigma^2 + mu^2 - 1 - log sigma^2) of
  arXiv:1312.6114 Appendix B.
  """
  return sum_per_example(normal_kl_to_standard_per_dim(mean, log_scale))


def normal_kl_to_standard_per_dim(mean, log_scale):
  """The same KL per dimension, unsummed (free bits clamp each one)."""
  return 0.5 * (jnp.exp(2.0 * log_scale) + jnp.square(mean) - 1.0) - log_scale


def bernoulli_log_prob(x, logits):
  """log Bernoulli(x; sigmoid(logits)) for x in {0, 1}, summed per example.

  x * l - softplus(l) is log sigmoid(l) for x = 1 and log sigmoid(-l) for
  x = 0, computed without ever forming the probabilities.
  """
  x = x.astype(logits.dtype)
  return sum_per_example(x * logits - jax.nn.softplus(logits))


def categorical_log_prob(y, logits):
  """log Cat(y; softmax(logits)) for integer labels y: [B]."""
  log_p = jax.nn.log_softmax(logits)
  return jnp.take_along_axis(log_p, y[:, None].astype(jnp.int32), -1)[:, 0]


def categorical_entropy(logits):
  """H(Cat(softmax(logits))) in nats: [B]."""
  log_p = jax.nn.log_softmax(logits)
  return -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)


def to_unit_interval_centres(x, levels):
  """Integer levels 0..L-1 -> bin centres in [-1, 1] (bin width 2 / (L - 1))."""
  return x.astype(jnp.float32) * (2.0 / (levels - 1)) - 1.0


def bin_edges(levels):
  """The L - 1 boundaries between consecutive bins of
  `to_unit_interval_centres` (each centre plus half a bin, 1 / (L - 1)),
  float64 numpy: where a discretized CDF is evaluated (bits-back coding)."""
  return -1.0 + (2.0 * np.arange(1, levels) - 1.0) / (levels - 1)


# The log-scale clamp that keeps bin masses finite (PixelCNN++ uses -7).
MIN_LOG_SCALE = -7.0


def discretized_logistic_log_mass(x, means, log_scales, levels,
                                  min_log_scale=MIN_LOG_SCALE):
  """log of the bin mass of integer x under each discretized logistic.

  Each sub-pixel value x (an integer in 0..L-1) gets the probability mass of
  its bin [c - 1/(L-1), c + 1/(L-1)] around its centre c in [-1, 1], with the
  two edge bins extended to -inf and +inf so the masses sum to one
  (PixelCNN++, arXiv:1701.05517 Sec. 2.1).

  Args:
    x: integer data, shape S.
    means, log_scales: shape S + [K] for K components (broadcast against x).
    levels: L, the number of values per sub-pixel.
    min_log_scale: clamp that keeps the bin masses finite (PixelCNN++ uses -7).

  Returns:
    elementwise log-masses, shape S + [K].
  """
  log_scales = jnp.maximum(log_scales, min_log_scale)
  c = to_unit_interval_centres(x, levels)[..., None]
  half_bin = 1.0 / (levels - 1)
  inv_s = jnp.exp(-log_scales)
  plus = inv_s * (c - means + half_bin)
  minus = inv_s * (c - means - half_bin)
  log_cdf_plus = plus - jax.nn.softplus(plus)       # log sigmoid(plus)
  log_one_minus_cdf_minus = -jax.nn.softplus(minus)  # log(1 - sigmoid(minus))
  # log(sigmoid(plus) - sigmoid(minus)) by log-diff-exp, written with the
  # lower tail on the mean's far side: above the mean the same mass is
  # sigmoid(-minus) - sigmoid(-plus), and differences of two CDFs near 1
  # would lose every digit of a small bin mass in float32.
  upper = c > means
  a = jnp.where(upper, -minus, plus)
  b = jnp.where(upper, -plus, minus)
  log_a = jax.nn.log_sigmoid(a)
  mid_mass = log_a + jnp.log(-jnp.expm1(jax.nn.log_sigmoid(b) - log_a) + 1e-30)
  # A bin far narrower than the logistic (a - b = bin width / s tiny) has a
  # mass below the resolution of the CDF difference; there the density at
  # the centre times the bin width is the accurate one:
  # log f(c) = -u - log s - 2 softplus(-u) with u = (c - mu) / s.
  u = inv_s * (c - means)
  log_pdf_mid = -u - log_scales - 2.0 * jax.nn.softplus(-u)
  mid = jnp.where(a - b > 1e-3, mid_mass, log_pdf_mid + math.log(2.0 * half_bin))
  xi = x[..., None]
  return jnp.where(xi == 0, log_cdf_plus,
                   jnp.where(xi == levels - 1, log_one_minus_cdf_minus, mid))


def discretized_logistic_mixture_log_prob(x, logit_weights, means, log_scales,
                                          levels, min_log_scale=MIN_LOG_SCALE):
  """log P(x) of a mixture of discretized logistics per sub-pixel: [B].

  Sub-pixels are independent given the parameters (each has its own mixture
  weights); see `coupled_logistic_mixture_log_prob_terms` for PixelCNN++'s
  per-pixel mixture with linear channel coupling.

  Args:
    x: integer data, shape S = [B, ...].
    logit_weights, means, log_scales: shape S + [K] for K components.
    levels: L, the number of values per sub-pixel.
    min_log_scale: see `discretized_logistic_log_mass`.

  Returns:
    log-probabilities summed over every non-batch dimension, shape [B].
  """
  log_p = discretized_logistic_log_mass(x, means, log_scales, levels,
                                        min_log_scale)
  per_dim = jax.nn.logsumexp(log_p + jax.nn.log_softmax(logit_weights), -1)
  return sum_per_example(per_dim)


def discretized_logistic_mixture_pmf(logit_weights, means, log_scales, levels):
  """P(x = 0..L-1) [n, L] (float64 numpy) of discretized logistic mixtures
  with parameters [n, K]: the bin masses of `discretized_logistic_log_mass`
  (what the models train on), mixed over the components. Eager: the
  encoder and decoder of a coder get identical tables from identical
  parameters."""
  x = jnp.broadcast_to(jnp.arange(levels)[None, :], (means.shape[0], levels))
  log_mass = discretized_logistic_log_mass(
      x, jnp.asarray(means)[:, None, :], jnp.asarray(log_scales)[:, None, :],
      levels)
  log_p = jax.nn.logsumexp(
      log_mass + jax.nn.log_softmax(jnp.asarray(logit_weights))[:, None, :], -1)
  return np.exp(np.asarray(log_p, np.float64))


def coupled_means(means, coeffs, x_centres):
  """PixelCNN++'s linear channel coupling (arXiv:1701.05517 Sec. 2.2).

  Channel c's mean moves by a linear function of the values of the earlier
  channels of the same pixel: mu_c + sum_{c' < c} a_{c,c'} x_{c'}.

  Args:
    means: [..., C, K] per channel and component.
    coeffs: [..., C * (C - 1) // 2, K], the a_{c,c'} in the order
      (1,0), (2,0), (2,1), ... (for RGB: a_GR, a_BR, a_BG).
    x_centres: [..., C] the pixel's values as bin centres in [-1, 1].
  """
  num_channels = means.shape[-2]
  out, i = [], 0
  for ch in range(num_channels):
    m = means[..., ch, :]
    for prev in range(ch):
      m = m + coeffs[..., i, :] * x_centres[..., prev, None]
      i += 1
    out.append(m)
  return jnp.stack(out, -2)


def coupled_logistic_mixture_log_prob_terms(x, logit_weights, means,
                                            log_scales, coeffs, levels,
                                            x_centres=None):
  """Per-sub-pixel conditionals of PixelCNN++'s per-pixel mixture: [B,...,C].

  One mixture component is shared by all C channels of a pixel, and the
  channel means are coupled linearly (`coupled_means`), so
  P(pixel) = sum_k pi_k prod_c P(x_c | k, x_<c). Entry c of the result is
  log P(x_c | x_<c) = log sum_k pi_k prod_{c'<=c} P_c'k - log sum_k pi_k
  prod_{c'<c} P_c'k, so the terms sum to log P(pixel) and each one is the
  likelihood of exactly one sub-pixel (what the causality tests need).

  Args:
    x: integer pixels [B, ..., C].
    logit_weights: [B, ..., K]; means, log_scales: [B, ..., C, K];
    coeffs: [B, ..., C(C-1)/2, K].
    x_centres: the values the coupling reads (default: x's bin centres); a
      float input here lets gradients flow through the coupling in tests.
  """
  if x_centres is None:
    x_centres = to_unit_interval_centres(x, levels)
  mu = coupled_means(means, coeffs, x_centres)
  log_mass = discretized_logistic_log_mass(x, mu, log_scales, levels)
  log_w = jax.nn.log_softmax(logit_weights)[..., None, :]
  joint = log_w + jnp.cumsum(log_mass, axis=-2)  # [..., C, K]: prod_{c'<=c}
  log_joint = jax.nn.logsumexp(joint, -1)        # log P(x_<=c)
  prev = jnp.concatenate(
      [jnp.zeros_like(log_joint[..., :1]), log_joint[..., :-1]], -1)
  return log_joint - prev


def discretized_logistic_mixture_sample(rng, logit_weights, means, log_scales,
                                        levels):
  """Integer samples (int32, shape S) from the mixture above."""
  k_rng, u_rng = jax.random.split(rng)
  k = jax.random.categorical(k_rng, logit_weights)
  pick = lambda a: jnp.take_along_axis(a, k[..., None], -1)[..., 0]
  u = jax.random.uniform(u_rng, k.shape, minval=1e-5, maxval=1.0 - 1e-5)
  return discretized_logistic_quantile(u, pick(means), pick(log_scales), levels)


def discretized_logistic_quantile(u, mean, log_scale, levels):
  """The integer level whose bin holds the logistic quantile at u in (0, 1).

  Inverse-CDF sampling: with u uniform, the result is distributed exactly as
  the discretized logistic (edge bins extended to +-inf) with these
  parameters.
  """
  v = mean + jnp.exp(log_scale) * (jnp.log(u) - jnp.log1p(-u))
  return jnp.clip(jnp.round((v + 1.0) * (levels - 1) / 2.0), 0,
                  levels - 1).astype(jnp.int32)
