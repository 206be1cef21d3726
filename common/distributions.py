"""Log-densities shared by every family (one place for each formula).

Every `*_log_prob` sums over all non-batch dimensions and returns shape [B]
unless it says otherwise. Discrete image likelihoods take integer data with
`levels` values and map it to bin centres in [-1, 1], as in PixelCNN++
(Salimans et al. 2017, arXiv:1701.05517 Sec. 2.1).
"""
import math

import jax
import jax.numpy as jnp

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
  per_dim = 0.5 * (jnp.exp(2.0 * log_scale) + jnp.square(mean) - 1.0) - log_scale
  return sum_per_example(per_dim)


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


def discretized_logistic_mixture_log_prob(x, logit_weights, means, log_scales,
                                          levels, min_log_scale=-7.0):
  """log P(x) of a mixture of discretized logistics, per sub-pixel: [B].

  Each sub-pixel value x (an integer in 0..L-1) gets the probability mass of
  its bin [c - 1/(L-1), c + 1/(L-1)] around its centre c in [-1, 1], with the
  two edge bins extended to -inf and +inf so the masses sum to one
  (PixelCNN++, arXiv:1701.05517 Sec. 2.1). Sub-pixels are independent given
  the parameters; PixelCNN++'s channel coupling lives in the model.

  Args:
    x: integer data, shape S = [B, ...].
    logit_weights, means, log_scales: shape S + [K] for K components.
    levels: L, the number of values per sub-pixel.
    min_log_scale: clamp that keeps the bin masses finite (PixelCNN++ uses -7).

  Returns:
    log-probabilities summed over every non-batch dimension, shape [B].
  """
  log_scales = jnp.maximum(log_scales, min_log_scale)
  c = to_unit_interval_centres(x, levels)[..., None]
  half_bin = 1.0 / (levels - 1)
  inv_s = jnp.exp(-log_scales)
  plus = inv_s * (c - means + half_bin)
  minus = inv_s * (c - means - half_bin)
  log_cdf_plus = plus - jax.nn.softplus(plus)       # log sigmoid(plus)
  log_one_minus_cdf_minus = -jax.nn.softplus(minus)  # log(1 - sigmoid(minus))
  # log(sigmoid(plus) - sigmoid(minus)), stable via log-diff-exp.
  mid_mass = log_cdf_plus + jnp.log(
      -jnp.expm1(jax.nn.log_sigmoid(minus) - log_cdf_plus) + 1e-30)
  # Where the bin mass underflows, the density at the centre times the bin
  # width: log f(c) = -u - log s - 2 softplus(-u) with u = (c - mu) / s.
  u = inv_s * (c - means)
  log_pdf_mid = -u - log_scales - 2.0 * jax.nn.softplus(-u)
  mid = jnp.where(mid_mass > -20.0, mid_mass,
                  log_pdf_mid + math.log(2.0 * half_bin))
  xi = x[..., None]
  log_p = jnp.where(xi == 0, log_cdf_plus,
                    jnp.where(xi == levels - 1, log_one_minus_cdf_minus, mid))
  per_dim = jax.nn.logsumexp(log_p + jax.nn.log_softmax(logit_weights), -1)
  return sum_per_example(per_dim)


def discretized_logistic_mixture_sample(rng, logit_weights, means, log_scales,
                                        levels):
  """Integer samples (int32, shape S) from the mixture above."""
  k_rng, u_rng = jax.random.split(rng)
  k = jax.random.categorical(k_rng, logit_weights)
  pick = lambda a: jnp.take_along_axis(a, k[..., None], -1)[..., 0]
  mu, log_s = pick(means), pick(log_scales)
  u = jax.random.uniform(u_rng, mu.shape, minval=1e-5, maxval=1.0 - 1e-5)
  v = mu + jnp.exp(log_s) * (jnp.log(u) - jnp.log1p(-u))
  return jnp.clip(jnp.round((v + 1.0) * (levels - 1) / 2.0), 0,
                  levels - 1).astype(jnp.int32)
