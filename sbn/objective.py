"""Objectives for discrete-latent models, trained with any estimator.

`SBNObjective` maximises the ELBO of a sigmoid belief network (or of the
categorical VAE) with the estimator `estimator` names; its `grads` hook
(common/objective.py) returns the model's gradient and, for estimators
with learned control variates, theirs:

* unbiased single-sample estimators (reinforce, nvil, muprop, rebar,
  relax, arm, disarm) act on each stochastic layer l in turn: with the
  layers below at the drawn sample and the layers above drawn from it by
  fixed noise, f_l(z_l) is the ELBO as a function of z_l alone (parameters
  held constant), and the estimator's surrogate gives the recognition
  network's gradient through layer l's logits; the ELBO at the drawn
  sample gives every parameter's pathwise gradient (the generative model's
  and the direct -log q term). Unbiased for the ELBO's gradient, except
  NVIL's variance normalisation, which rescales the score part (the
  paper's choice; `nvil_normalise=False` turns it off). Control variates
  (REBAR, RELAX, MuProp's baseline) see the layers above relaxed with the
  same noise, so they are smooth in z_l, as their pathwise terms need.
  The relaxed estimators below evaluate the Bernoulli mass at relaxed
  values (the relaxed ELBO of the REBAR paper's Concrete baseline), not
  the Concrete densities.
* vimco: the K-sample bound log (1/K) sum_k w_k with leave-one-out
  baselines (one estimator for the whole chain of layers).
* relaxed estimators (concrete, straight_through, straight_through_mean,
  straight_through_gumbel): every layer relaxed (or straight-through) in
  one ancestral pass; the gradient of the relaxed ELBO, biased.

Control-variate parameters (NVIL's baseline network, REBAR's eta and
temperature, RELAX's c_phi) are the 'control' parameter group
(`config.optim_groups.control`); REBAR and RELAX tune theirs by minimising
the variance of the estimate of the recognition network's gradient
(Grathwohl et al. 2018, arXiv:1711.00123 Sec. 3). Running baselines
(moving averages, NVIL's centring) live in the 'estimator_state'
collection, so they are checkpointed and resumed.

Reported: the training ELBO of the drawn sample (train/elbo, the REBAR and
RELAX papers' metric), the test -ELBO, and the test NLL bound
-log (1/k) sum w with k = `eval_k` importance samples, all in nats.
"""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from common import bpd
from common import metrics as metrics_lib
from common import objective as objective_lib
from common.errors import ConfigError
from estimators import base as est_base
from estimators import discrete
from estimators import relaxed
from sbn import models
from vae import bounds

sg = jax.lax.stop_gradient

UNBIASED = ('reinforce', 'nvil', 'muprop', 'rebar', 'relax', 'arm', 'disarm')
RELAXED = {'concrete': 'concrete', 'gumbel_softmax': 'concrete',
           'straight_through': 'identity', 'straight_through_mean': 'mean',
           'straight_through_gumbel': 'gumbel'}
ESTIMATORS = UNBIASED + ('vimco',) + tuple(RELAXED)
VARIANCE_TUNED = ('rebar', 'relax')


class NVILBaseline(nn.Module):
  """C_psi(x): one tanh layer of 100 units (Mnih & Gregor 2014)."""
  hidden: int = 100

  @nn.compact
  def __call__(self, x):
    return nn.Dense(1)(jnp.tanh(nn.Dense(self.hidden)(2.0 * x - 1.0)))[:, 0]


class RelaxResidual(nn.Module):
  """r_rho(zeta) of RELAX's c_phi = eta f(sigma(zeta / tau)) + r_rho(zeta):
  one hidden layer (Grathwohl et al. 2018 Sec. 6.2)."""
  hidden: int = 200

  @nn.compact
  def __call__(self, zeta):
    h = jnp.tanh(nn.Dense(self.hidden)(zeta.reshape(zeta.shape[0], -1)))
    return nn.Dense(1, kernel_init=nn.initializers.zeros)(h)[:, 0]


class SBNObjective(objective_lib.Objective):
  """The ELBO of `model` (models.SBN or models.CategoricalVAE) on binary
  images, its gradient by `estimator`."""

  def __init__(self, model, estimator, levels, *, num_samples=5, eval_k=1000,
               eval_chunk=100, temperature=0.5, anneal_rate=0.0,
               min_temperature=0.5, baseline='moving_average', num_images=64,
               nvil_normalise=True):
    if estimator not in ESTIMATORS:
      raise ConfigError(f'unknown estimator {estimator!r}; use one of '
                        f'{", ".join(ESTIMATORS)}')
    self.categorical = isinstance(model, models.CategoricalVAE)
    if self.categorical and estimator in ('arm', 'disarm'):
      raise ConfigError(f'{estimator} is for Bernoulli latents')
    if self.categorical and estimator == 'vimco':
      raise ConfigError('vimco is implemented for the SBN')
    if levels < 2:
      raise ConfigError('discrete-latent models need integer images')
    self.model = model
    self.estimator = estimator
    self.levels = levels
    self.kind = 'categorical' if self.categorical else 'bernoulli'
    self.num_samples = num_samples
    self.eval_k, self.eval_chunk = eval_k, eval_chunk
    self.temperature = temperature
    self.anneal_rate, self.min_temperature = anneal_rate, min_temperature
    self.baseline = baseline
    # NVIL's variance normalisation rescales the step (Mnih & Gregor 2014);
    # off, the estimate is of the gradient itself (for variance benchmarks).
    self.nvil_normalise = nvil_normalise
    self.num_images = num_images
    self.layers = ([model.num_variables] if self.categorical
                   else list(model.layers))
    self.cv_nets = {'nvil': NVILBaseline(), 'relax': RelaxResidual()}

  # -- Parameters and state.

  def _flat(self, batch, rng):
    x = bpd.binarize(rng, batch['x'], self.levels)
    return x.reshape(x.shape[0], -1)

  def init(self, rng, batch):
    x = self._flat(batch, jax.random.key(0))
    k_model, k_cv = jax.random.split(rng)
    params = {'model': self.model.init(k_model, x)['params']}
    cv = self._init_cv(k_cv, x)
    if cv is not None:
      params['cv'] = cv
    variables = {'params': params}
    state = self._init_state()
    if state:
      variables['estimator_state'] = state
    return variables

  def _init_cv(self, key, x):
    if self.estimator == 'nvil':
      return self.cv_nets['nvil'].init(key, x)['params']
    if self.estimator == 'rebar':
      return [discrete.rebar_params(1.0, self.temperature) for _ in self.layers]
    if self.estimator == 'relax':
      keys = jax.random.split(key, len(self.layers))
      return [{**discrete.rebar_params(1.0, self.temperature),
               'r': self.cv_nets['relax'].init(
                   k, jnp.zeros((1, *self._zeta_shape(l))))['params']}
              for l, k in enumerate(keys)]
    return None

  def _zeta_shape(self, l):
    d = self.layers[l]
    return (d, self.model.num_categories) if self.categorical else (d,)

  def _init_state(self):
    state = {'step': jnp.zeros((), jnp.int32)}
    if self.estimator == 'reinforce' and self.baseline != 'none':
      state['baselines'] = [discrete.reinforce_state(d) for d in self.layers]
    if self.estimator == 'nvil':
      state['nvil'] = [discrete.nvil_state() for _ in self.layers]
    return state

  def param_labels(self, params):
    return {k: jax.tree.map(lambda _, k=k: 'model' if k == 'model' else 'control', v)
            for k, v in params.items()}

  # -- The model's log-densities as functions of parameters.

  def _apply(self, params, *args, method):
    return self.model.apply({'params': params}, *args, method=method)

  def _q_logits(self, params, l, below):
    if self.categorical:
      return self._apply(params, below, method=self.model.q_logits)
    return self._apply(params, l, below, method=self.model.q_logits)

  def _elbo(self, params, x, zs):
    """log p(x, z) - log q(z | x) [B] (the categorical VAE: with its
    analytic KL to the uniform prior)."""
    if self.categorical:
      logits = self._q_logits(params, 0, x)
      return (self._apply(params, x, zs[0], method=self.model.log_px)
              - self._apply(params, logits, method=self.model.kl))
    return (self._apply(params, x, zs, method=self.model.log_joint)
            - self._apply(params, x, zs, method=self.model.log_q))

  def _log_w(self, params, x, zs):
    if self.categorical:
      logits = self._q_logits(params, 0, x)
      log_q = est_base.Categorical.log_prob(logits, zs[0])
      log_prior = -self.layers[0] * jnp.log(self.model.num_categories)
      return self._apply(params, x, zs[0], method=self.model.log_px) + log_prior - log_q
    return (self._apply(params, x, zs, method=self.model.log_joint)
            - self._apply(params, x, zs, method=self.model.log_q))

  def _sample_q(self, params, key, x):
    if self.categorical:
      return [est_base.Categorical.sample(key, self._q_logits(params, 0, x))]
    return self._apply(params, key, x, method=self.model.sample_q)

  def _temperature(self, step):
    if not self.anneal_rate:
      return jnp.asarray(self.temperature)
    return relaxed.anneal_temperature(step, self.temperature, self.anneal_rate,
                                      self.min_temperature)

  # -- Training.

  def loss(self, variables, batch, rng, train):
    """-ELBO at one sample (what evaluation and the trainer's probes use);
    training goes through `grads`."""
    x = self._flat(batch, rng)
    params = variables['params']['model']
    zs = sg(self._sample_q(params, jax.random.fold_in(rng, 1), x))
    elbo = self._elbo(params, x, zs)
    return -jnp.mean(elbo), {'elbo': jnp.mean(elbo)}, {}

  def grads(self, variables, batch, rng):
    params = variables['params']
    state = variables.get('estimator_state', {})
    x_key, main_key, est_key = jax.random.split(rng, 3)
    x = self._flat(batch, x_key)
    b = x.shape[0]
    if self.estimator == 'vimco':
      (g, elbo), new_state = self._vimco_grads(params, x, main_key), state
    elif self.estimator in RELAXED:
      (g, elbo), new_state = self._relaxed_grads(params, x, est_key, state), state
    else:
      g, elbo, new_state = self._unbiased_grads(params, x, main_key, est_key, state)
    new_state = dict(new_state, step=state['step'] + 1) if state else {}
    grads = jax.tree.map(lambda a: -a / b, g)
    grads = {k: grads.get(k, jax.tree.map(jnp.zeros_like, v))
             for k, v in params.items()}
    # VIMCO's training objective is the K-sample bound, not the ELBO.
    name = f'bound_{self.num_samples}' if self.estimator == 'vimco' else 'elbo'
    metrics = {'loss': -jnp.mean(elbo), name: jnp.mean(elbo)}
    mutables = {'estimator_state': new_state} if new_state else {}
    return grads, metrics, mutables

  def _relaxed_grads(self, params, x, key, state):
    """The relaxed (or straight-through) ELBO's gradient, every layer relaxed
    in one ancestral pass; reports the ELBO of the hard forward values for
    straight-through and of the relaxed ones for Concrete."""
    tau = self._temperature(state['step'])
    method = RELAXED[self.estimator]

    def relaxed_elbo(p):
      zs, below = [], x
      for l, k in enumerate(jax.random.split(key, len(self.layers))):
        logits = self._q_logits(p['model'], l, below)
        below = relaxed.relaxed_value(k, logits, method=method, kind=self.kind,
                                      temperature=tau)
        zs.append(below)
      elbo = self._elbo(p['model'], x, zs)
      return jnp.sum(elbo), elbo

    g, elbo = jax.grad(relaxed_elbo, has_aux=True)(params)
    return g, sg(elbo)

  def _vimco_grads(self, params, x, key):
    k = self.num_samples

    def surrogate(p):
      zs = sg(jax.vmap(lambda kk: self._sample_q(p['model'], kk, x))(
          jax.random.split(key, k)))
      log_w = jax.vmap(lambda z: self._log_w(p['model'], x, z))(zs)
      log_q = jax.vmap(lambda z: self._apply(p['model'], x, z,
                                             method=self.model.log_q))(zs)
      est = discrete.vimco_surrogate(log_w, log_q)
      return est.surrogate, est.value

    g, bound = jax.grad(surrogate, has_aux=True)(params)
    return g, bound

  def _unbiased_grads(self, params, x, main_key, est_key, state):
    model_params = params['model']
    zs = sg(self._sample_q(model_params, main_key, x))
    # Every parameter's pathwise gradient at the drawn sample.
    g_path, elbo = jax.grad(
        lambda p: (jnp.sum(self._elbo(p, x, zs)), self._elbo(p, x, zs)),
        has_aux=True)(model_params)
    fixed = sg(model_params)
    noise = [jax.random.uniform(k, (x.shape[0], d)) for d, k in zip(
        self.layers, jax.random.split(jax.random.fold_in(est_key, 1),
                                      len(self.layers)))]
    keys = jax.random.split(est_key, len(self.layers))

    def layer_f(l, soft=False):
      """The ELBO as a function of layer l's values alone: the layers above
      drawn from it by fixed noise, 1[a > logit(noise)] (soft: relaxed to
      sigmoid((a - logit(noise)) / tau) with the same noise, a smooth
      function of z_l, which a control variate's pathwise terms need to be
      unbiased; Tucker et al. 2017 relax every layer the same way)."""
      def f(z_l):
        chain = list(zs[:l]) + [z_l]
        for m in range(l + 1, len(self.layers)):
          a = self._q_logits(fixed, m, chain[-1])
          margin = a - (jnp.log(noise[m]) - jnp.log1p(-noise[m]))
          if soft:
            chain.append(jax.nn.sigmoid(margin / self.temperature))
          else:
            chain.append(sg((margin > 0).astype(a.dtype)))
        return self._elbo(fixed, x, chain)
      return f

    def estimate(p_model, cv):
      """All layers' surrogates, as a mean over the batch."""
      total, cv_loss, states = 0.0, 0.0, []
      for l in range(len(self.layers)):
        below = x if l == 0 else zs[l - 1]
        logits = self._q_logits(p_model, l, below)
        est = self._layer_estimate(keys[l], logits, layer_f(l),
                                   layer_f(l, soft=True), cv, state, l, x)
        total, cv_loss = total + est.surrogate, cv_loss + est.cv_loss
        states.append(est.state)
      return est_base.Estimate(total / x.shape[0], jnp.zeros(()), cv_loss,
                               states)

    cv = params.get('cv')
    if cv is None:
      g_est = jax.grad(lambda p: estimate(p, None).surrogate)(model_params)
      est = estimate(model_params, None)
      g_cv = None
    else:
      g_est, g_cv, est = est_base.estimate_and_cv_grads(
          estimate, model_params, cv, self.estimator in VARIANCE_TUNED)
      # The cv objective is a mean; fit negates and divides by B.
      g_cv = jax.tree.map(lambda a: -a * x.shape[0], g_cv)
    # The estimate was of the batch mean: back to a sum, as g_path.
    g_model = jax.tree.map(lambda a, c: a + x.shape[0] * c, g_path, g_est)
    grads = {'model': g_model}
    if g_cv is not None:
      grads['cv'] = g_cv
    new_state = dict(state)
    if self.estimator == 'reinforce' and 'baselines' in state:
      new_state['baselines'] = est.state
    if self.estimator == 'nvil':
      new_state['nvil'] = est.state
    return grads, sg(elbo), new_state

  def _layer_estimate(self, key, logits, f, control_f, cv, state, l, x):
    kind = self.kind
    name = self.estimator
    if name == 'reinforce':
      if self.baseline == 'none':
        return discrete.reinforce(key, logits, f, kind=kind)
      return discrete.reinforce(key, logits, f, kind=kind, baseline=self.baseline,
                                state=state['baselines'][l])
    if name == 'nvil':
      c = cv  # One baseline network C_psi(x) for every layer's signal.
      return discrete.nvil(
          key, logits, f, kind=kind, cv_params=c, state=state['nvil'][l],
          baseline_fn=lambda p: self.cv_nets['nvil'].apply({'params': p}, x),
          normalise=self.nvil_normalise)
    if name == 'muprop':
      return discrete.muprop(key, logits, f, kind=kind, control_f=control_f)
    if name == 'rebar':
      return discrete.rebar(key, logits, f, kind=kind, cv_params=cv[l],
                            control_f=control_f)
    if name == 'relax':
      def control(c, zeta):
        tau = jnp.exp(c['log_tau'])
        return (c['eta'] * control_f(discrete.relaxed_sample(kind, zeta, tau))
                + self.cv_nets['relax'].apply({'params': c['r']}, zeta))
      return discrete.relax(key, logits, f, kind=kind, control=control,
                            cv_params=cv[l])
    if name == 'arm':
      return discrete.arm(key, logits, f)
    return discrete.disarm(key, logits, f)

  # -- Evaluation.

  def evaluate(self, variables, batch, rng):
    params = variables['params']['model']
    x_key, z_key, is_key = jax.random.split(rng, 3)
    x = self._flat(batch, x_key)
    zs = self._sample_q(params, z_key, x)
    neg_elbo = -self._elbo(params, x, zs)

    def log_w_fn(key, chunk):
      zs_k = jax.vmap(lambda k: self._sample_q(params, k, x))(
          jax.random.split(key, chunk))
      return jax.vmap(lambda z: self._log_w(params, x, z))(zs_k)

    bound = bounds.chunked_iwae_bound(log_w_fn, is_key, self.eval_k,
                                      self.eval_chunk)
    return {'neg_elbo_nats': neg_elbo, 'nll_nats': -bound}

  def dataset_metrics(self, variables, dataset, batch_size=1000):
    """-ELBO on the whole training split, one sample per image (minus the
    REBAR and RELAX papers' training ELBO), as train_split_neg_elbo_nats."""
    params = variables['params']['model']
    total = 0.0
    x_all = dataset.x_train
    for i in range(0, len(x_all), batch_size):
      total += float(self._train_elbo_sum(params, x_all[i:i + batch_size],
                                          jax.random.key(i)))
    return {'train_split_neg_elbo_nats': -total / len(x_all)}

  @functools.partial(jax.jit, static_argnums=(0,))
  def _train_elbo_sum(self, params, x, rng):
    x = self._flat({'x': x}, rng)
    zs = self._sample_q(params, jax.random.fold_in(rng, 1), x)
    return jnp.sum(self._elbo(params, x, zs))

  def sample_images(self, variables, rng):
    params = variables['params']['model']
    probs = np.asarray(self._mean_images(params, rng))
    side = int(round(np.sqrt(probs.shape[-1])))
    images = np.round(255 * probs).astype(np.uint8).reshape(-1, side, side, 1)
    return {'samples': metrics_lib.image_grid(images, 256)}

  @functools.partial(jax.jit, static_argnums=(0,))
  def _mean_images(self, params, rng):
    n = self.num_images
    if self.categorical:
      k = self.model.num_categories
      z = jax.nn.one_hot(jax.random.randint(rng, (n, self.layers[0]), 0, k), k)
      return jax.nn.sigmoid(self._apply(params, z, method=self.model.x_logits))
    _, zs = self._apply(params, rng, n, method=self.model.sample_p)
    return jax.nn.sigmoid(self._apply(params, zs[0], method=self.model.x_logits))
