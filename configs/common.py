"""Shared config pieces: the argument parser for `file.py:args` and defaults.

Conventions (docs/ARCHITECTURE.md): no None defaults (they cannot be
overridden from the command line), durations in steps or epochs, every
config has a `smoke` variant.
"""
import itertools

import ml_collections

from common.errors import ConfigError


def parse_arg(arg, **spec):
  """Parses 'smoke' or 'k=v,flag,...' into a ConfigDict typed by `spec`.

  Bare words set boolean fields to True, e.g. 'smoke,data=mnist'; a boolean
  given a value takes true/false, yes/no, 1/0 and nothing else.
  """
  out = ml_collections.ConfigDict(spec)
  for item in filter(None, (arg or '').split(',')):
    key, has_value, value = item.partition('=')
    if key not in spec:
      raise ConfigError(f'unknown config argument {key!r}; '
                        f'known: {sorted(spec)}')
    default = spec[key]
    if not has_value:
      if not isinstance(default, bool):
        raise ConfigError(f'config argument {key!r} needs a value')
      out[key] = True
    elif isinstance(default, bool):
      if value.lower() not in _BOOLEANS:
        raise ConfigError(f'config argument {key}={value!r} is not a boolean; '
                          f'use {key}, {key}=true or {key}=false')
      out[key] = _BOOLEANS[value.lower()]
    else:
      try:
        out[key] = type(default)(value)
      except ValueError:
        raise ConfigError(f'config argument {key}={value!r} is not '
                          f'{"an" if type(default) is int else "a"} '
                          f'{type(default).__name__}') from None
  return out


_BOOLEANS = {'1': True, 'true': True, 'yes': True,
             '0': False, 'false': False, 'no': False}


def base_config():
  """Trainer, data and optimizer defaults every training config starts from."""
  c = ml_collections.ConfigDict()
  c.entry = 'flows.train'
  c.seed = 0
  c.batch_size = 64
  c.eval_batch_size = 256
  c.eval_examples = 0        # Examples for periodic evals; 0 = whole test split.
  c.total_steps = 1000
  c.total_epochs = 0.0       # When > 0, overrides total_steps.
  c.log_every_steps = 100
  c.eval_every_steps = 0     # 0 = only the final evaluation.
  c.sample_every_steps = 0   # 0 = only at the end.
  c.ckpt_every_steps = 1000
  c.keep_checkpoints = 3

  c.data = ml_collections.ConfigDict()
  c.data.name = 'digits'
  c.data.data_dir = ''       # tfds data_dir; '' = $TFDS_DATA_DIR or default.
  c.data.npz_path = ''       # Local .npz with x_train, x_test (uint8).
  c.data.levels = 0          # Discrete values per dim; 0 = the dataset's own.
  c.data.hflip = False       # Random horizontal flips of training images.
  c.data.num_train = 10000   # Toy densities only.
  c.data.num_test = 2000
  c.data.test_fraction = 0.2  # Tables only: the held-out share.
  c.data.num_features = 0    # Tables only: keep the first k columns; 0 = all.
  c.data.seed = 0

  c.optim = ml_collections.ConfigDict()
  c.optim.name = 'adam'
  c.optim.learning_rate = 1e-3
  c.optim.b1 = 0.9
  c.optim.b2 = 0.999
  c.optim.eps = 1e-8
  c.optim.momentum = 0.9      # sgd only.
  c.optim.weight_decay = 0.0  # Decoupled, on every parameter.
  c.optim.grad_clip_norm = 0.0
  c.optim.warmup_steps = 0
  c.optim.schedule = 'constant'  # constant | cosine | step | exponential
  c.optim.min_lr_ratio = 0.0     # cosine: final lr / peak lr.
  c.optim.step_every = 1000      # step: decay interval in steps.
  c.optim.step_factor = 0.5      # step: multiplier per interval.
  c.optim.decay_rate = 1.0       # exponential: multiplier per step.
  c.optim.ema_decay = 0.0        # > 0 keeps an EMA of the parameters for eval.
  return c


def realnvp_model(**overrides):
  """Model block of the multi-scale image Real NVP (flows/realnvp.py)."""
  m = ml_collections.ConfigDict()
  m.name = 'realnvp'
  m.num_scales = 3
  m.features = 64
  m.num_blocks = 8
  m.net_norm = 'batch'       # Inside s/t: batch | instance | none.
  m.flow_batch_norm = True   # Batch norm on the flow path (paper Sec. 3.7).
  m.bn_momentum = 0.99
  m.alpha = 0.05             # Logit-transform margin.
  m.scale_l2 = 5e-5          # L2 on the weight-norm gains.
  m.num_samples = 64
  m.temperature = 1.0
  m.update(overrides)
  return m


def vae_model(**overrides):
  """Model block of vae.model.VAE: the IWAE paper's 1-layer MNIST MLP."""
  m = ml_collections.ConfigDict()
  m.name = 'vae'
  m.architecture = 'mlp'       # mlp | conv
  m.latents = (50,)            # Stochastic layer sizes, bottom-up.
  m.hidden = ((200, 200),)     # Deterministic widths per stochastic layer.
  m.conv_features = (32, 64)   # conv only: channels of the stride-2 stages.
  m.activation = 'tanh'
  m.likelihood = 'bernoulli'   # bernoulli | logistic_mixture
  m.num_mixtures = 5           # logistic_mixture components per sub-pixel.
  m.posterior = 'gaussian'     # gaussian | iaf
  m.iaf_steps = 0
  m.iaf_hidden = (320, 320)
  m.iaf_forget_bias = 2.0
  m.objective = 'elbo'         # elbo | iwae
  m.k = 1                      # Samples per example in the training bound.
  m.eval_k = 5000              # Importance samples of the test NLL estimate.
  m.eval_chunk = 250           # Samples per pass of that estimate (memory).
  m.num_samples = 64
  m.free_bits = 0.0            # > 0: min nats per latent dim in the ELBO loss.
  m.update(overrides)
  return m


def pixelcnn_model(name, **overrides):
  """Model block of the PixelCNN family (pixelcnn/train.py `build`).

  Every network is built by keyword from its block (`from_config`), and
  each key means one thing; a block holds only its network's keys, so an
  override another network would read is an unknown key (a ConfigError).

  Every network:
    name             pixelcnn | gated_pixelcnn | pixelcnnpp
    head             output distribution: softmax (pixelcnn, gated_pixelcnn)
                     | logistic_mixture (pixelcnnpp)
    num_samples      images in each sample grid (0: none)
  pixelcnn (arXiv:1601.06759):
    hidden           h: the residual stream has 2h channels, each block's
                     inner convolutions h
    residual_blocks  residual blocks after the mask-A layer
    first_kernel     side of the first (mask-A) convolution
    output_features  channels of the 1x1 output layers
    output_layers    1x1 output layers before the logits
  gated_pixelcnn (arXiv:1606.05328):
    stack_channels   channels of the vertical and of the horizontal stack
    gated_layers     gated layers of both stacks
    first_kernel     side of the first layer's kernels
    kernel           side of the later layers' kernels
    output_features  channels of the 1x1 output layer
    num_classes      > 0: class-conditional on the label
  pixelcnnpp (arXiv:1701.05517):
    filters          channels of every layer of the U-Net
    resnet_blocks    gated resnet blocks per stage
    num_scales       resolutions of the U-Net (halved num_scales - 1 times)
    dropout          dropout rate inside every block
    num_classes      > 0: class-conditional on the label
    num_mixtures     logistic mixture components per pixel
  """
  if name not in _PIXELCNN_NETWORKS:
    raise ConfigError(f'unknown PixelCNN model {name!r}; use '
                      f'{", ".join(_PIXELCNN_NETWORKS)}')
  m = ml_collections.ConfigDict()
  m.name = name
  m.head = 'logistic_mixture' if name == 'pixelcnnpp' else 'softmax'
  m.num_samples = 16
  m.update(_PIXELCNN_NETWORKS[name])
  unknown = sorted(set(overrides) - set(m))
  if unknown:
    raise ConfigError(
        f'{name} has no model key {", ".join(unknown)}; its keys: '
        f'{", ".join(sorted(m))}')
  m.update(overrides)
  return m


# Each network's keys and their defaults (the papers' sizes).
_PIXELCNN_NETWORKS = {
    'pixelcnn': dict(hidden=128, residual_blocks=15, first_kernel=7,
                     output_features=1024, output_layers=2),
    'gated_pixelcnn': dict(stack_channels=128, gated_layers=15, first_kernel=7,
                           kernel=5, output_features=1024, num_classes=0),
    'pixelcnnpp': dict(filters=160, resnet_blocks=5, num_scales=3, dropout=0.5,
                       num_classes=0, num_mixtures=10),
}


def smoke_pixelcnn(m):
  """Shrinks a PixelCNN-family model block to a seconds-long smoke run."""
  if m.name == 'pixelcnn':
    m.hidden, m.residual_blocks, m.output_features = 12, 2, 24
  elif m.name == 'gated_pixelcnn':
    m.stack_channels, m.gated_layers, m.output_features = 12, 2, 24
  else:
    m.filters, m.resnet_blocks = 8, 1
    m.num_scales = min(m.num_scales, 2)
    m.num_mixtures = min(m.num_mixtures, 3)
  m.num_samples = 4
  return m


def hmc_config(target, **overrides):
  """An HMC run (hmc/run.py): target, kernel, chains and adaptation."""
  c = ml_collections.ConfigDict()
  c.entry = 'hmc.run'
  c.seed = 0
  c.target = target
  c.dim = 0                  # Dimension for std_gaussian / funnel /
                             # ill_conditioned; 0 = the target's default.
  c.kernel = 'nuts'          # nuts | hmc | rwmh | chees (many chains)
  c.num_chains = 4
  c.num_warmup = 1000
  c.num_draws = 1000
  c.num_steps = 10           # hmc: leapfrog steps per iteration.
  c.max_depth = 10           # nuts: maximum tree depth.
  c.dense_mass = False       # Dense instead of diagonal mass matrix.
  c.adaptation = 'stan'      # stan | nutpie (the metric from draws and
                             # gradients; 300 warm-up is plenty).
  c.step_size_jitter = 0.0   # Step sizes drawn from eps * [1 - j, 1 + j].
  c.target_accept = 0.8
  c.float64 = False
  c.plot_params = 4          # Parameters in trace.png.
  c.vae = ml_collections.ConfigDict()
  c.vae.workdir = ''         # vae_latent: a trained one-layer VAE's workdir.
  c.vae.image_index = 0      # vae_latent: which test image.
  c.vae.npz_path = ''        # vae_latent: overrides the VAE's data path.
  c.update(overrides)
  return c


def hmc_args(arg, **extra):
  """The arguments every HMC config accepts. With 'smoke' the chains, warmup
  and draws default to a seconds-long run; values given beside it stay."""
  spec = dict(smoke=False, kernel='nuts', chains=4, warmup=1000, draws=1000,
              dense=False, float64=False, adaptation='stan', jitter=0.0,
              **extra)
  a = parse_arg(arg, **spec)
  if a.smoke:
    a = parse_arg(arg, **dict(spec, chains=2, warmup=60, draws=60))
  return a


def apply_hmc_args(c, a):
  c.kernel, c.num_chains = a.kernel, a.chains
  c.num_warmup, c.num_draws = a.warmup, a.draws
  c.dense_mass, c.float64 = a.dense, a.float64
  c.adaptation, c.step_size_jitter = a.adaptation, a.jitter
  if a.kernel == 'chees':  # Its harmonic-mean acceptance target.
    c.target_accept = 0.651
  if a.smoke:
    c.max_depth = 5
  return c


def bbans_config(data, vae_config, chains=0):
  """A bits-back run (coding/run.py): data, model and coder settings."""
  c = ml_collections.ConfigDict()
  c.entry = 'coding.run'
  c.seed = 0                 # Seed of the initial (clean) bits.
  c.data = base_config().data
  c.data.name = data
  c.model_workdir = ''       # A trained one-layer VAE; '' = train vae_config.
  c.vae_config = vae_config  # 'config_name[:arg]' trained when no workdir.
  c.vae_npz_path = ''        # Data for that training ('' = data.npz_path).
  c.chains = chains          # BB-ANS chains (rANS lanes); 0 = 1 per 250 images.
  c.bucket_bits = 8          # log2 of the latent buckets per dimension.
  c.precision = 24           # Bits of the rANS frequency tables.
  c.max_images = 0           # Test images to code; 0 = the whole split.
  return c


def smoke_vae(m):
  """Shrinks a VAE model block's evaluation and sampling for smoke runs."""
  m.eval_k = 20
  m.eval_chunk = 10
  m.num_samples = 16
  return m


def vae_layers(m, layers):
  """The IWAE paper's 1- or 2-stochastic-layer MLP (arXiv:1509.00519 Sec. 5)."""
  if layers == 1:
    m.latents, m.hidden = (50,), ((200, 200),)
  elif layers == 2:
    m.latents, m.hidden = (100, 50), ((200, 200), (100, 100))
  else:
    raise ConfigError(f'layers must be 1 or 2, got {layers}')
  return m


def iwae_optim(c, steps_per_epoch):
  """The IWAE paper's Adam and schedule: 3^i epochs at 1e-3 * 10^(-i/7)."""
  c.optim.learning_rate = 1e-3
  c.optim.eps = 1e-4
  c.optim.schedule = 'iwae'
  c.optim.step_every = steps_per_epoch
  return c


def smoke_trainer(c, steps=4):
  """Shrinks the trainer cadences so a run takes seconds on a CPU."""
  c.total_steps = steps
  c.total_epochs = 0.0
  c.batch_size = 8
  c.eval_batch_size = 8
  c.eval_examples = 16
  c.log_every_steps = 1
  c.eval_every_steps = 2
  c.sample_every_steps = steps
  c.ckpt_every_steps = 2
  c.keep_checkpoints = 10
  return c


def product(**axes):
  """Sweep points: the Cartesian product of {'config.key': [values]}."""
  keys = list(axes)
  return [dict(zip(keys, values)) for values in itertools.product(*axes.values())]


def sbn_model(name='sbn', **overrides):
  """Model block of sbn/train.py: a discrete-latent model and its estimator."""
  m = ml_collections.ConfigDict()
  m.name = name                # sbn | categorical_vae | helmholtz
  m.layers = (200,)            # sbn, helmholtz: stochastic layers, bottom up.
  m.hidden = 0                 # sbn, helmholtz: 0 linear; W: two tanh layers.
  m.num_variables = 20         # categorical_vae: latent variables ...
  m.num_categories = 10        # ... of this many classes,
  m.hidden_layers = (512, 256)  # between ReLU MLPs of these widths.
  m.estimator = 'relax'        # sbn.objective.ESTIMATORS
  m.baseline = 'moving_average'  # reinforce: none | moving_average | optimal
                               # | optimal_per_variable
  m.num_samples = 5            # vimco, helmholtz (RWS): samples per example.
  m.q_update = 'sleep'         # helmholtz: sleep | wake | both.
  m.temperature = 0.5          # Relaxations; REBAR/RELAX's initial tau.
  m.anneal_rate = 0.0          # > 0: tau = max(min_temperature, tau e^{-rt}).
  m.min_temperature = 0.5
  m.eval_k = 1000              # Importance samples of the test NLL bound.
  m.eval_chunk = 100
  m.num_images = 64
  m.update(overrides)
  return m


SBN_LAYERS = {'linear1': ((200,), 0), 'linear2': ((200, 200), 0),
              'nonlinear': ((200,), 200), 'linear3': ((200, 200, 200), 0)}


def sbn_layers(name):
  """(layers, hidden) of the REBAR/RELAX SBN settings, by name."""
  if name not in SBN_LAYERS:
    raise ConfigError(f'layers must be one of {sorted(SBN_LAYERS)}, got {name!r}')
  return SBN_LAYERS[name]


def sbn_config(model, a):
  """A discrete-latent run on binarized MNIST (sbn/train.py): `model` and the
  parsed arguments' batch, epochs, lr and smoke."""
  c = base_config()
  c.entry = 'sbn.train'
  c.data.name = 'binarized_mnist'
  c.model = model
  c.batch_size = a.batch
  c.eval_batch_size = 500
  c.total_epochs = a.epochs
  c.log_every_steps = 500
  c.eval_every_steps = 10000
  c.eval_examples = 1000
  c.sample_every_steps = 0
  c.ckpt_every_steps = 10000
  c.optim.learning_rate = a.lr
  if a.smoke:
    sbn_smoke(c)
  return c


def sbn_smoke(c):
  """A seconds-long discrete-latent run."""
  smoke_trainer(c)
  m = c.model
  m.layers = tuple(min(d, 16) for d in m.layers)
  m.hidden = min(m.hidden, 16)
  m.hidden_layers = (32, 16)
  m.num_variables, m.num_categories = 4, 5
  m.eval_k, m.eval_chunk = 20, 10
  m.num_images = 4
  return c


def vi_config(target, **model_overrides):
  """A black-box VI run (vi/train.py): a Gaussian q fitted to `target` by
  the training loop (data-free), compared with exact moments or NUTS."""
  c = base_config()
  c.entry = 'vi.train'
  del c.data                 # Data-free: the target holds its own data.
  c.target = target
  c.dim = 0                  # As in the HMC configs.
  c.vae = ml_collections.ConfigDict()
  c.vae.workdir = ''         # vae_latent: a trained one-layer VAE's workdir.
  c.vae.image_index = 0
  c.vae.npz_path = ''
  m = c.model = ml_collections.ConfigDict()
  m.name = 'gaussian_vi'
  m.family = 'meanfield'     # meanfield | fullrank
  m.estimator = 'reparam'    # reparam (ADVI-style) | score (black-box VI)
  m.num_samples = 1          # Draws of q per step.
  m.stl = False              # Sticking the landing (reparam only).
  m.rao_blackwell = True     # score only.
  m.control_variate = True   # score only: the per-factor optimal scale.
  m.init = 'zeros'           # zeros | random (uniform in [-2, 2], Stan's).
  m.init_scale = 0.1         # Initial sd of every coordinate.
  m.eval_samples = 10_000    # Draws for the ELBO estimates at evaluation.
  m.update(model_overrides)
  # Data-free: no batches are drawn; the sizes only need to divide the
  # device count of the mesh.
  c.batch_size = c.eval_batch_size = 8
  c.total_steps = 10_000
  c.log_every_steps = 100
  c.eval_every_steps = 2000
  c.ckpt_every_steps = 2000
  c.optim.learning_rate = 1e-2
  # Adam at a constant rate never settles: with sticking-the-landing the
  # gradient noise vanishes at the optimum, Adam's second moment decays and
  # a later gradient makes a large step; a cosine decay to 1% avoids it.
  c.optim.schedule = 'cosine'
  c.optim.min_lr_ratio = 0.01
  c.nuts = ml_collections.ConfigDict()
  c.nuts.compare = True      # NUTS reference where moments are unknown.
  c.nuts.chains = 4
  c.nuts.warmup = 1000
  c.nuts.draws = 1000
  return c


def vi_args(arg, **defaults):
  """The arguments every VI config accepts; `defaults` override the
  config's own defaults (and may add arguments)."""
  args = dict(smoke=False, family='meanfield', estimator='reparam', samples=1,
              steps=10_000, lr=1e-2, optimizer='adam', stl=False)
  args.update(defaults)
  return parse_arg(arg, **args)


def apply_vi_args(c, a):
  m = c.model
  m.family, m.estimator, m.num_samples = a.family, a.estimator, a.samples
  m.stl = a.stl
  c.total_steps, c.optim.learning_rate, c.optim.name = a.steps, a.lr, a.optimizer
  if a.optimizer == 'adagrad':
    c.optim.schedule = 'constant'  # AdaGrad's steps decay by themselves.
  if a.smoke:
    c.total_steps, c.log_every_steps = 4, 1
    c.eval_every_steps, c.ckpt_every_steps = 2, 2
    m.eval_samples = 1000
    c.nuts.warmup, c.nuts.draws, c.nuts.chains = 50, 50, 2
    # One smoke (eight schools) compiles the NUTS reference; the others
    # skip its compile, which dominates a smoke run.
    c.nuts.compare = c.target == 'eight_schools'
  return c


def gmm_config(dataset='iris', algorithm='cavi', n_components=3):
  """A Gaussian mixture by CAVI, EM or SVI (vi/run.py)."""
  c = ml_collections.ConfigDict()
  c.entry = 'vi.run'
  c.seed = 0                 # sklearn's random_state for the random start.
  c.dataset = ml_collections.ConfigDict()
  c.dataset.name = dataset   # iris | wine | breast_cancer
  c.dataset.npz_path = ''    # Or a local .npz holding x [N, d].
  c.dataset.standardise = True
  m = c.model = ml_collections.ConfigDict()
  m.name = 'gmm'
  m.algorithm = algorithm    # cavi | em | svi
  m.n_components = n_components
  m.max_iter = 500           # cavi / em, sklearn's tol rule.
  m.tol = 1e-3
  # sklearn's default 1e-6 keeps EM's covariances invertible; CAVI/SVI use
  # 0, which keeps their bound an exact ELBO (see vi/mixture.py).
  m.reg_covar = 1e-6 if algorithm == 'em' else 0.0
  m.svi = ml_collections.ConfigDict()
  m.svi.num_steps = 2000
  m.svi.batch_size = 10
  m.svi.kappa = 0.7
  m.svi.tau = 1.0
  m.svi.eval_every = 100
  return c


def lda_config(path='', num_topics=10):
  """LDA by stochastic (or batch) VI on a corpus file (vi/run.py)."""
  c = ml_collections.ConfigDict()
  c.entry = 'vi.run'
  c.seed = 0
  c.corpus = ml_collections.ConfigDict()
  c.corpus.path = path       # One document per line, UTF-8.
  c.corpus.stop_words = 'english'  # english (scikit-learn's list) | ''
  c.corpus.min_count = 2
  c.corpus.max_doc_frac = 0.5
  c.corpus.drop_empty = False
  c.corpus.heldout_frac = 0.2
  c.corpus.split_seed = 0
  m = c.model = ml_collections.ConfigDict()
  m.name = 'lda'
  m.num_topics = num_topics
  m.method = 'online'        # online (SVI) | batch
  m.passes = 10
  m.batch_size = 32
  m.kappa = 0.7
  m.tau = 11.0               # = sklearn's learning_offset + 1 (t from 0).
  m.alpha = 0.0              # 0: 1 / num_topics (sklearn's default).
  m.eta = 0.0
  m.local_max_iter = 100
  m.local_tol = 1e-3
  m.shuffle = False
  c.ckpt_every_passes = 1
  c.keep_checkpoints = 3
  c.top_words = 10
  return c


def ranking_config(c, arg):
  """A Bradley-Terry run (ranking/run.py) from `ranking.run.example_config`
  and the arguments every ranking config accepts."""
  a = parse_arg(arg, smoke=False, prior=c.prior.kind,
                draws=c.posterior.num_draws)
  c.prior.kind, c.posterior.num_draws = a.prior, a.draws
  if a.smoke:
    p = c.posterior
    p.num_chains, p.num_warmup, p.num_draws = 2, 100, min(a.draws, 100)
    if c.data.name != 'baseball':
      p.num_draws = 0  # The baseball smoke and tests/ranking cover NUTS.
  return c


def explain_block(**overrides):
  """The `explain` block of explain/run.py: which explainer and its sizes."""
  e = ml_collections.ConfigDict()
  e.method = 'kernel'        # exact | kernel | permutation |
                             # integrated_gradients | expected_gradients
  e.num_samples = 2048       # kernel: coalitions per row; expected
                             # gradients: draws per row.
  e.num_permutations = 64    # permutation: orderings (antithetic pairs).
  e.num_background = 100     # Background rows drawn from the training split.
  e.num_explain = 100        # Test rows explained (0 = the whole test split).
  e.seed = 0
  e.ig_steps = 32            # Integrated gradients: quadrature nodes.
  e.max_display = 10         # Bars in a waterfall, lines in the beeswarm.
  e.num_waterfalls = 3       # waterfall_<i>.png for the first rows.
  e.exact_check = True       # Also exact values (<= 16 players): the error.
  e.target_class = 1         # Tables: the class whose log-odds are
                             # explained; images: -1 = each row's own class.
  e.superpixel = 4           # Images: superpixel side in pixels.
  e.npz_path = ''            # Images: a local .npz for the model's data.
  e.update(overrides)
  return e


def explain_config(data, arg, hidden, steps, **explain):
  """explain/run.py on the tabular MLP of explain/train.py: trains the MLP
  into workdir/model (or reopens `model=WORKDIR`), then explains it."""
  a = parse_arg(arg, smoke=False, method=explain.get('method', 'kernel'),
                model='', samples=explain.get('num_samples', 2048))
  c = base_config()
  c.entry = 'explain.run'
  c.model_workdir = a.model
  c.train_config = ''
  c.data.name = data
  c.model = ml_collections.ConfigDict({'hidden': hidden, 'activation': 'gelu'})
  c.batch_size = 32
  c.eval_batch_size = 128
  c.total_steps = steps
  c.log_every_steps = 100
  c.ckpt_every_steps = steps
  c.optim.learning_rate = 3e-3
  c.optim.weight_decay = 1e-4
  explain.update(method=a.method, num_samples=a.samples)
  c.explain = explain_block(**explain)
  if a.smoke:
    smoke_trainer(c)
    c.explain.update(num_background=8, num_explain=5, num_waterfalls=1,
                     num_samples=min(a.samples, 256))
  return c
