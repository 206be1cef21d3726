"""nutpie's adaptation from draws and gradients (Seyboldt, Carlson &
Carpenter, "If only my posterior were normal: Fisher-informed HMC", 2025;
PyMC's nutpie sampler), as a warm-up `Scheme` (hmc/adaptation.py).

For a Gaussian target N(mu, Sigma) the gradient g = -Sigma^{-1}(x - mu) has
Cov(g) = Sigma^{-1}, so Var(x) and 1 / Var(g) both estimate the diagonal
metric; nutpie takes their geometric mean, sqrt(Var(x) / Var(g)), the
diagonal that minimises the Fisher divergence between the target and the
preconditioned standard normal (and the dense analogue, the SPD geometric
mean of Cov(x) and Cov(g)^{-1}). Every draw brings d values of each, so the
estimate settles after tens of draws where Stan's needs hundreds, and the
metric is refreshed after every draw from a "foreground" estimator while a
"background" one collects the draws since the last switch; at a switch the
background becomes the foreground and a fresh background starts (every 10
draws in the first 30% of the warm-up, every 80 later), so early draws far
from the typical set are forgotten. The last 15% tunes the step size only.
"""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hmc.adaptation import dual_averaging_init
from hmc.adaptation import dual_averaging_update
from hmc.adaptation import DualAveraging
from hmc.adaptation import find_reasonable_step_size
from hmc.adaptation import Scheme
from hmc.adaptation import Welford
from hmc.adaptation import welford_init
from hmc.adaptation import welford_update


def nutpie_schedule(num_warmup, early_window=0.3, step_size_window=0.15,
                    early_switch=10, switch=80):
  """Per-iteration (adapt_mass, switch, restart) boolean arrays.

  adapt_mass[i]: draw i enters the estimators and the metric is refreshed;
  switch[i]: after draw i the background estimator replaces the foreground
  one (only where at least `switch` draws remain before the step-size-only
  window, as in nutpie); restart[i]: dual averaging restarts after draw i
  (at the start of the final step-size-only window).
  """
  final = num_warmup - int(step_size_window * num_warmup)
  early_end = int(early_window * num_warmup)
  adapt = np.arange(num_warmup) < final
  switches = np.zeros(num_warmup, bool)
  background = 1  # The starting point is the first entry.
  for i in range(final):
    background += 1
    freq = early_switch if i < early_end else switch
    if background >= freq and freq + i <= final:
      switches[i] = True
      background = 0
  restart = np.zeros(num_warmup, bool)
  if 0 < final < num_warmup:
    restart[final - 1] = True
  return adapt, switches, restart


def draw_grad_inverse_mass(w, previous):
  """sqrt(Var(x) / Var(g)) from a Welford over [x, g] (2d entries); where it
  is not a positive finite number (fewer than 3 entries, a coordinate that
  never moved or a constant gradient) the previous value is kept."""
  dim = previous.shape[0]
  var = w.m2 / jnp.maximum(w.count - 1, 1)
  new = jnp.sqrt(var[:dim] / var[dim:])
  ok = (w.count >= 3) & jnp.isfinite(new) & (new > 0)
  return jnp.where(ok, new, previous)


def gradient_inverse_mass(grad):
  """nutpie's first metric, 1 / |g| at the starting point (1 where g is 0
  or not finite): for N(0, s^2) started a typical distance away, |g| ~ 1/s."""
  inv = 1.0 / jnp.abs(grad)
  return jnp.where(jnp.isfinite(inv) & (inv > 0), inv, 1.0)


# A dense estimate is taken over a diagonal one only where it lowers the
# Fisher loss by this fraction; a Gaussian with diagonal covariance ties.
DENSE_GAIN = 0.02


def dense_draw_grad_inverse_mass(cov_x, cov_g, choose=False):
  """The dense metric (Cov x) # (Cov g)^{-1}, the SPD geometric mean of the
  draws' covariance and the inverse of the gradients' (Seyboldt et al.,
  Theorem 2.3): it minimises the sample Fisher divergence
  L(S) = tr(S Cov g) + tr(S^{-1} Cov x) between the preconditioned target
  and N(0, I), and for a Gaussian it is the covariance exactly, on any
  full-rank sample (Cov g = S^{-1} Cov x S^{-1} there).

  Computed after scaling by the diagonal estimate D = sqrt(diag Cov x /
  diag Cov g) (the mean is congruence-invariant; this keeps the two
  eigendecompositions well conditioned in float32). With `choose`, returns
  diag(D) instead unless the dense metric lowers L by `DENSE_GAIN`.
  """
  scale = jnp.sqrt(jnp.sqrt(jnp.diag(cov_x) / jnp.diag(cov_g)))  # D^{1/2}
  a = cov_x / jnp.outer(scale, scale)
  b = cov_g * jnp.outer(scale, scale)
  eig_b, vec_b = jnp.linalg.eigh(b)
  eig_b = jnp.maximum(eig_b, 1e-12 * jnp.max(eig_b))
  b_half = (vec_b * jnp.sqrt(eig_b)) @ vec_b.T
  b_inv_half = (vec_b / jnp.sqrt(eig_b)) @ vec_b.T
  eig_c, vec_c = jnp.linalg.eigh(b_half @ a @ b_half)
  root_c = jnp.sqrt(jnp.maximum(eig_c, 0.0))
  mean = b_inv_half @ ((vec_c * root_c) @ vec_c.T) @ b_inv_half
  dense = jnp.outer(scale, scale) * 0.5 * (mean + mean.T)
  if not choose:
    return dense
  # In the scaled space the diagonal metric is I, so L_diag = tr a + tr b,
  # and at the geometric mean L_dense = 2 tr((a b)^{1/2}) = 2 sum sqrt(c).
  better = 2 * jnp.sum(root_c) < (1 - DENSE_GAIN) * (jnp.trace(a) +
                                                     jnp.trace(b))
  return jnp.where(better, dense, jnp.diag(scale**2))


class DrawGradState(NamedTuple):
  dual: DualAveraging
  foreground: Welford  # Over [x, g]: 2d entries (a [2d, 2d] m2 if dense).
  background: Welford
  inverse_mass: jax.Array


def nutpie_scheme(num_warmup, dim, dtype=jnp.float32, dense=False,
                  target_accept=0.8, initial_step_size=1.0,
                  initial_inverse_mass=None) -> Scheme:
  """nutpie's adaptation for one chain, with `stan_scheme`'s arguments. The
  metric starts at 1 / |g| (or the given one) and is re-estimated from
  draws and gradients; dual averaging tunes the step size throughout
  (restarted for the final step-size-only window, whose averaged step size
  the draws use).

  dense: False, a diagonal metric refreshed after every draw; True, the
  dense geometric mean (`dense_draw_grad_inverse_mass`), refreshed every
  10 draws once the foreground has more than d + 1 entries (the diagonal
  one, as a matrix, before); 'auto', the same but dense only where that
  lowers the Fisher loss by `DENSE_GAIN`.
  """
  as_matrix = bool(dense)
  empty = welford_init(2 * dim, as_matrix, dtype)
  adapt_mass, switches, restarts = nutpie_schedule(num_warmup)
  refresh = adapt_mass & ((np.arange(num_warmup) % 10 == 9) | switches)

  def init(rng, state, search_fn):
    if initial_inverse_mass is None:
      inv_mass0 = gradient_inverse_mass(state.logdensity_grad).astype(dtype)
      inv_mass0 = jnp.diag(inv_mass0) if as_matrix else inv_mass0
    else:
      inv_mass0 = jnp.asarray(initial_inverse_mass, dtype)
    eps0 = find_reasonable_step_size(rng, state, search_fn, inv_mass0,
                                     initial_step_size)
    first = welford_update(empty, jnp.concatenate([state.position,
                                                   state.logdensity_grad]))
    return DrawGradState(dual_averaging_init(eps0), first, first, inv_mass0)

  def dense_metric(fore, previous):
    cov = fore.m2 / jnp.maximum(fore.count - 1, 1)
    diagonal = draw_grad_inverse_mass(
        fore._replace(m2=jnp.diag(fore.m2)), jnp.diag(previous))
    full = dense_draw_grad_inverse_mass(cov[:dim, :dim], cov[dim:, dim:],
                                        choose=dense == 'auto')
    ok = (fore.count > dim + 1) & jnp.all(jnp.isfinite(full))
    return jnp.where(ok, full, jnp.diag(diagonal))

  def update(adapt, state, info, flags):
    adapting, switch, refresh_now, restart = (flags[0], flags[1], flags[2],
                                              flags[3])
    dual = dual_averaging_update(adapt.dual, info.acceptance_prob,
                                 target_accept)
    entry = jnp.concatenate([state.position, state.logdensity_grad])
    keep = lambda new, old: jax.tree.map(
        lambda n, o: jnp.where(adapting, n, o), new, old)
    fore = keep(welford_update(adapt.foreground, entry), adapt.foreground)
    back = keep(welford_update(adapt.background, entry), adapt.background)
    # At a switch the background becomes the foreground; a fresh one starts.
    fore = jax.tree.map(lambda b, f: jnp.where(switch, b, f), back, fore)
    back = jax.tree.map(lambda e, b: jnp.where(switch, e, b), empty, back)
    if as_matrix:  # Two eigendecompositions: only every 10 draws (a real
      # branch, the flags being the same for every chain).
      inverse_mass = jax.lax.cond(refresh_now, dense_metric,
                                  lambda f, p: p, fore, adapt.inverse_mass)
    else:
      inverse_mass = jnp.where(
          adapting, draw_grad_inverse_mass(fore, adapt.inverse_mass),
          adapt.inverse_mass)
    # The final window tunes the step size to the final metric afresh.
    dual = jax.tree.map(lambda r, d: jnp.where(restart, r, d),
                        dual_averaging_init(jnp.exp(dual.log_step)), dual)
    return DrawGradState(dual, fore, back, inverse_mass)

  return Scheme(init,
                lambda a: (jnp.exp(a.dual.log_step), a.inverse_mass),
                update,
                lambda a: (jnp.exp(a.dual.log_step_avg), a.inverse_mass),
                np.stack([adapt_mass, switches, refresh, restarts], 1))
