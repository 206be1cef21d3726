"""THE training loop: `fit(config, workdir, objective, dataset)`.

Every trainable family hands an objective (`common.objective.Objective`:
init, loss, evaluate and optional hooks) to `fit` and gets its final test
metrics back; `fit` owns the rest, once: data order, optimizer (optax, from
`config.optim`, one per parameter group with `config.optim_groups`), jit with
NamedSharding over the ('data',) mesh and state donation, per-step RNG by
`fold_in`, cadences, the NaN guard, checkpoints with exact resume, metrics
and the final evaluation on the test split (or, for a data-free objective,
through the objective alone).
"""
import json
import os
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from common import checkpoint as checkpoint_lib
from common import data as data_lib
from common import metrics as metrics_lib
from common import record
from common import sharding
from common.errors import ConfigError, NonFiniteLossError


@flax.struct.dataclass
class TrainState:
  step: jax.Array            # int32: number of updates applied so far.
  params: Any
  opt_state: Any
  mutables: Any              # Non-param collections, e.g. batch_stats.
  ema_params: Any            # {} when EMA is off.
  rng: jax.Array             # uint32 key data of the training stream.
  first_bad_step: jax.Array  # int32: first non-finite update, -1 if none.


# ----------------------------------------------------------------------------
# Optimizer and schedule, from config.optim.


def num_train_steps(config, num_examples):
  """Converts `total_epochs` (if > 0) or `total_steps` to a step count.

  `num_examples` is None for a data-free objective, which counts steps.
  """
  if config.total_epochs > 0:
    if num_examples is None:
      raise ConfigError('a data-free objective has no epochs; set total_steps')
    return int(np.ceil(config.total_epochs * (num_examples // config.batch_size)))
  if config.total_steps <= 0:
    raise ConfigError('set total_steps or total_epochs to a positive value')
  return int(config.total_steps)


def make_schedule(cfg, total_steps):
  """Linear warm-up, then 'constant', 'cosine', 'step', 'exponential' or
  'iwae' (Burda et al.'s 3^i-epoch passes) decay."""
  lr, warmup = cfg.learning_rate, cfg.warmup_steps
  if cfg.schedule == 'constant':
    decay = optax.constant_schedule(lr)
  elif cfg.schedule == 'cosine':
    decay = optax.cosine_decay_schedule(
        lr, max(total_steps - warmup, 1), alpha=cfg.min_lr_ratio)
  elif cfg.schedule == 'step':
    decay = optax.exponential_decay(lr, cfg.step_every, cfg.step_factor,
                                    staircase=True)
  elif cfg.schedule == 'exponential':
    decay = optax.exponential_decay(lr, 1, cfg.decay_rate)
  elif cfg.schedule == 'iwae':
    # Burda et al. 2016 Sec. 5: pass i lasts 3^i epochs (step_every steps
    # each) at lr * 10^(-i/7), for i = 0..7.
    ends = np.cumsum([cfg.step_every * 3**i for i in range(8)])
    decay = optax.piecewise_constant_schedule(
        lr, {int(b): 10**(-1 / 7) for b in ends[:-1]})
  else:
    raise ConfigError(f'unknown optim.schedule {cfg.schedule!r}; use constant, '
                      'cosine, step, exponential or iwae')
  if warmup <= 0:
    return decay
  return optax.join_schedules(
      [optax.linear_schedule(0.0, lr, warmup), decay], [warmup])


def make_optimizer(cfg, total_steps):
  schedule = make_schedule(cfg, total_steps)
  parts = []
  if cfg.grad_clip_norm > 0:
    parts.append(optax.clip_by_global_norm(cfg.grad_clip_norm))
  if cfg.name == 'adam':
    parts.append(optax.scale_by_adam(cfg.b1, cfg.b2, cfg.eps))
  elif cfg.name == 'sgd':
    if cfg.momentum > 0:
      parts.append(optax.trace(cfg.momentum))
  elif cfg.name == 'adagrad':
    # Duchi et al. 2011: steps lr / sqrt(sum of squared gradients), what
    # black-box VI uses (Ranganath et al. 2014, arXiv:1401.0118).
    parts.append(optax.scale_by_rss(initial_accumulator_value=0.0, eps=cfg.eps))
  else:
    raise ConfigError(f'unknown optim.name {cfg.name!r}; use adam, sgd or '
                      'adagrad')
  if cfg.weight_decay > 0:  # Decoupled (AdamW-style) weight decay.
    parts.append(optax.add_decayed_weights(cfg.weight_decay))
  parts.append(optax.scale_by_learning_rate(schedule))
  return optax.chain(*parts), schedule


def make_tx(config, total_steps, objective, params):
  """(optax transform, schedule of the default group) for `objective`.

  Without `objective.param_labels` this is `make_optimizer(config.optim)`.
  With it, every parameter group gets its own optimizer: `config.optim`
  updated with `config.optim_groups[label]` (if any), combined by
  `optax.multi_transform`. Gradient clipping (by the global norm of all
  gradients) and EMA stay run-wide, from `config.optim`; the logged
  learning rate is the default group's.
  """
  tx, schedule = make_optimizer(config.optim, total_steps)
  groups = config.get('optim_groups', {}) or {}
  if objective.param_labels is None:
    if groups:
      raise ConfigError(f'optim_groups {sorted(groups)} given, but the objective '
                        'has no parameter groups')
    return tx, schedule
  labels = sorted(set(jax.tree.leaves(objective.param_labels(params))))
  unknown = sorted(set(groups) - set(labels))
  if unknown:
    raise ConfigError(f'optim_groups {unknown} name no parameter group; the '
                      f'objective has {labels}')
  transforms = {}
  for label in labels:
    cfg = ml_collections.ConfigDict(config.optim.to_dict())
    for key, value in (groups.get(label) or {}).items():
      if key not in cfg or key in ('grad_clip_norm', 'ema_decay'):
        raise ConfigError(f'optim_groups.{label}.{key} is not a per-group optim '
                          'key (clipping and EMA are run-wide)')
      cfg[key] = value
    cfg.grad_clip_norm = 0.0  # Clipped once below, over every group.
    transforms[label] = make_optimizer(cfg, total_steps)[0]
  tx = optax.multi_transform(transforms, objective.param_labels)
  if config.optim.grad_clip_norm > 0:
    tx = optax.chain(optax.clip_by_global_norm(config.optim.grad_clip_norm), tx)
  return tx, schedule


# ----------------------------------------------------------------------------
# Step functions.


def make_train_step(objective, tx, schedule, ema_decay):
  """One update. A non-finite loss or gradient freezes the state instead.

  Freezing (rather than raising inside jit) keeps the device asynchronous:
  the host checks `first_bad_step` at log and checkpoint time, so the last
  saved checkpoint is always from before the first bad update.
  """

  def train_step(state, batch):
    rng = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)

    def loss_fn(params):
      loss, metrics, new_mutables = objective.loss(
          {'params': params, **state.mutables}, batch, rng, train=True)
      return loss, (metrics, new_mutables)

    if objective.grads is None:
      (loss, (metrics, new_mutables)), grads = jax.value_and_grad(
          loss_fn, has_aux=True)(state.params)
    else:  # The objective's own estimator (e.g. with control variates).
      grads, metrics, new_mutables = objective.grads(
          {'params': state.params, **state.mutables}, batch, rng)
      if 'loss' not in metrics:
        raise ConfigError("objective.grads must return metrics with 'loss' "
                          f'(the value the NaN guard checks); got {sorted(metrics)}')
      loss = metrics['loss']
    updates, new_opt_state = tx.update(grads, state.opt_state, state.params)
    new_params = optax.apply_updates(state.params, updates)
    new_ema = state.ema_params
    if ema_decay > 0:
      new_ema = jax.tree.map(lambda e, p: ema_decay * e + (1 - ema_decay) * p,
                             state.ema_params, new_params)
    # One scalar covers every gradient: the global norm is finite iff all are.
    # (Per-leaf isfinite reductions multiply XLA compile time several-fold.)
    grad_norm = optax.tree.norm(grads)
    finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
    ok = finite & (state.first_bad_step < 0)
    keep = lambda new, old: jax.tree.map(
        lambda n, o: jnp.where(ok, n, o), new, old)
    new_state = state.replace(
        step=state.step + 1,
        params=keep(new_params, state.params),
        opt_state=keep(new_opt_state, state.opt_state),
        mutables=keep(new_mutables, state.mutables),
        ema_params=keep(new_ema, state.ema_params),
        first_bad_step=jnp.where((state.first_bad_step < 0) & ~finite,
                                 state.step, state.first_bad_step))
    metrics = dict(metrics, loss=loss, grad_norm=grad_norm,
                   learning_rate=schedule(state.step))
    return new_state, metrics

  return train_step


def create_state(objective, tx, init_key, train_key, example, ema_decay,
                 sharding=None):
  """A fresh TrainState: objective.init on `example`, optimizer state, EMA."""
  variables = jax.jit(objective.init, out_shardings=sharding)(init_key, example)
  params = variables['params']
  return TrainState(
      step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params),
      mutables={k: v for k, v in variables.items() if k != 'params'},
      # A copy: the state is donated, and aliased buffers cannot be donated.
      ema_params=jax.tree.map(jnp.copy, params) if ema_decay > 0 else {},
      rng=jax.random.key_data(train_key),
      first_bad_step=jnp.full((), -1, jnp.int32))


def rng_streams(seed):
  """The (init, train, eval, sample) keys of a run, split from `seed`."""
  return jax.random.split(jax.random.key(seed), 4)


def eval_params(state):
  return state.ema_params if jax.tree.leaves(state.ema_params) else state.params


# ----------------------------------------------------------------------------
# The loop.


# Loop settings that must be positive (the eval and sample intervals may be
# 0: never), and those that may be 0 but not negative.
_POSITIVE = ('batch_size', 'eval_batch_size', 'log_every_steps',
             'ckpt_every_steps', 'keep_checkpoints')
_NON_NEGATIVE = ('eval_every_steps', 'sample_every_steps', 'eval_examples',
                 'optim.warmup_steps')


def check_settings(config):
  """One clear error for a loop setting out of range, before any work."""
  for key in _POSITIVE + _NON_NEGATIVE:
    value = config
    for part in key.split('.'):
      value = value.get(part) if value is not None else None
    low = 1 if key in _POSITIVE else 0
    if value is not None and value < low:
      raise ConfigError(f'{key} must be {"positive" if low else ">= 0"}, '
                        f'got {value}')


def fit(config, workdir, objective, dataset=None):
  """Trains `objective` as `config` says, resuming from `workdir` if possible.

  Returns the final evaluation metrics on the whole test split.
  """
  check_settings(config)
  if objective.needs_data:
    dataset = dataset if dataset is not None else data_lib.load(config.data)
    if dataset.spec_only:
      raise ConfigError('fit got a stand-in dataset (common.data.spec: shapes '
                        'only, all zeros); load the data to train')
  elif dataset is not None:
    raise ConfigError('this objective needs no dataset; fit got one')
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  if os.path.isdir(ckpt_dir) and os.listdir(ckpt_dir):
    record.check_resumable(config, workdir)  # Before any compiling.
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.batch_size)
  sharding.check_batch_size(config.eval_batch_size, 'eval_batch_size')
  total_steps = num_train_steps(config, _num_train(dataset))
  replicated = sharding.replicated(mesh)
  batch_sharding = sharding.batch_sharded(mesh)
  # Multi-device CPU collectives deadlock when many steps are queued without
  # a sync (see docs/ARCHITECTURE.md); accelerators stay fully asynchronous.
  sync_every_step = (jax.default_backend() == 'cpu' and jax.device_count() > 1)

  # RNG streams, one per purpose.
  init_key, train_key, eval_key, sample_key = rng_streams(config.seed)

  # Model and optimizer state.
  example = _global_batch(dataset, config, 0, mesh)
  tx, schedule = make_tx(config, total_steps, objective, jax.eval_shape(
      objective.init, init_key, example)['params'])
  state = jax.device_put(
      create_state(objective, tx, init_key, train_key, example,
                   config.optim.ema_decay, replicated), replicated)
  metrics_lib.log('parameters: %d',
                  sum(x.size for x in jax.tree.leaves(state.params)))
  empty = [jax.tree_util.keystr(path) for path, x in
           jax.tree_util.tree_leaves_with_path(state.params) if x.size == 0]
  if empty:
    raise ConfigError(f'the model has empty parameters ({", ".join(empty[:3])}'
                      '); check the sizes in config.model')

  # Resume from the newest intact checkpoint; only then is the run's record
  # (config.json, command.txt) written.
  ckpt = checkpoint_lib.Checkpointer(ckpt_dir, config.keep_checkpoints)
  if ckpt.latest_step() is not None:
    try:
      state, meta = ckpt.restore_newest_intact(
          checkpoint_lib.abstract_like(state))
    except checkpoint_lib.StateMismatchError as e:
      raise record.mismatch_error(config, workdir, e) from None
    metrics_lib.log('resumed from step %d (%s)', int(state.step), meta)
  start_step = int(state.step)
  record.commit(config, workdir)

  train_step = jax.jit(
      make_train_step(objective, tx, schedule, config.optim.ema_decay),
      in_shardings=(replicated, batch_sharding),
      out_shardings=(replicated, replicated), donate_argnums=(0,))
  copy_state = jax.jit(lambda s: jax.tree.map(jnp.copy, s),
                       out_shardings=replicated)
  eval_fn = jax.jit(lambda params, mut, batch, rng: objective.evaluate(
      {'params': params, **mut}, batch, rng))
  writer = metrics_lib.MetricWriter(workdir, resume_step=start_step)
  progress = metrics_lib.Progress(total_steps, config.batch_size, start_step)

  def stop_non_finite(step, what='loss or gradient'):
    ckpt.wait()
    last = ckpt.latest_step()
    kept = (f'The last good checkpoint (step {last}) is kept in '
            f'{ckpt.directory}' if last is not None else
            'No checkpoint was saved before it')
    raise NonFiniteLossError(
        f'non-finite {what} at step {step}; stopped. {kept}. Lower '
        'optim.learning_rate or set optim.grad_clip_norm')

  def check_finite():
    bad = int(state.first_bad_step)
    if bad >= 0:
      stop_non_finite(bad + 1)

  def save(step):
    """Saves only a good state: every value finite, and finite loss and
    gradients at its parameters (the next update, run on a copy and
    discarded, must pass the NaN guard)."""
    check_finite()
    probe, _ = train_step(copy_state(state),
                          _global_batch(dataset, config, step, mesh))
    if int(probe.first_bad_step) >= 0:
      stop_non_finite(step + 1)
    host = checkpoint_lib.host_tree(state)
    # jnp.inexact, unlike np.floating, includes bfloat16.
    bad = [name for name, a in checkpoint_lib.named_leaves(host)
           if jnp.issubdtype(a.dtype, jnp.inexact) and not np.all(np.isfinite(a))]
    if bad:
      stop_non_finite(step, f'values in {", ".join(bad[:3])}')
    meta = {'step': step, 'time': time.time()}
    if dataset is not None:
      meta.update(data_lib.data_position(len(dataset.x_train),
                                         config.batch_size, step))
    ckpt.save(step, state, meta, host)

  def images(step):
    if objective.sample_images is not None:
      var = {'params': eval_params(state), **state.mutables}
      for tag, image in objective.sample_images(var, sample_key).items():
        writer.write_image(step, tag, image)

  # Whatever stops the loop (an error, Ctrl-C), saves in flight complete
  # and the metrics are flushed.
  try:
    pending = []
    for step in range(start_step, total_steps):
      batch = _global_batch(dataset, config, step, mesh)
      state, step_metrics = train_step(state, batch)
      pending.append(step_metrics)
      if sync_every_step:
        jax.block_until_ready(step_metrics['loss'])
      done = step + 1
      if step == start_step:
        # The rate and ETA leave out the first step, which compiles.
        jax.block_until_ready(step_metrics['loss'])
        progress.start(done)
      if done % config.log_every_steps == 0 or done == total_steps:
        check_finite()
        fetched = jax.device_get(pending)
        pending = []
        scalars = {f'train/{k}': float(np.mean([m[k] for m in fetched]))
                   for k in fetched[0]}
        rates = progress.update(done)
        if rates is not None:
          scalars['train/examples_per_sec'] = rates['examples_per_sec']
        writer.write_scalars(done, scalars)
        metrics_lib.log(metrics_lib.format_progress(done, total_steps, rates, {
            k: v for k, v in scalars.items() if 'per_sec' not in k}))
      with progress.paused():
        # The final evaluation (the whole test split) covers the last step.
        if (config.eval_every_steps and done % config.eval_every_steps == 0
            and done < total_steps):
          check_finite()
          writer.write_scalars(done, evaluate(
              state, dataset, config, mesh, eval_fn, eval_key,
              config.eval_examples))
        if config.sample_every_steps and done % config.sample_every_steps == 0:
          images(done)
        if done % config.ckpt_every_steps == 0 or done == total_steps:
          save(done)

    # Final evaluation on the whole test split.
    check_finite()
    final = evaluate(state, dataset, config, mesh, eval_fn, eval_key, 0)
    if objective.dataset_metrics is not None and dataset is not None:
      # Statistics of the whole split that are not means of per-example values.
      var = {'params': eval_params(state), **state.mutables}
      final.update({f'eval/test/{k}': float(v) for k, v in
                    objective.dataset_metrics(var, dataset).items()})
    writer.write_scalars(total_steps, final)
    images(total_steps)
  finally:
    writer.close()
    ckpt.close()
  if jax.process_index() == 0:
    with open(os.path.join(workdir, 'final_metrics.json'), 'w') as f:
      json.dump({'step': total_steps, **final}, f, indent=1)
  metrics_lib.log('final: %s', ' '.join(f'{k}={v:.5g}' for k, v in final.items()))
  return final


def restore_variables(config, workdir, objective, dataset):
  """The evaluation variables of the trained run in `workdir`.

  `config` and `objective` must be the ones the run was trained with (its
  config.json rebuilds them); `dataset` only needs the right shapes (None
  for a data-free objective). The checkpoint is restored into the state the
  current code builds, so a mismatch is a clear CheckpointError.
  """
  example = None
  if dataset is not None:
    example = {'x': dataset.x_train[:config.batch_size]}
    if dataset.y_train is not None:
      example['y'] = dataset.y_train[:config.batch_size]
  key = jax.random.key(config.seed)
  tx, _ = make_tx(config, num_train_steps(config, _num_train(dataset)),
                  objective, jax.eval_shape(objective.init, key, example)['params'])
  fresh = create_state(objective, tx, key, key, example, config.optim.ema_decay)
  ckpt = checkpoint_lib.Checkpointer(os.path.join(workdir, 'checkpoints'))
  state, _ = ckpt.restore(checkpoint_lib.abstract_like(fresh))
  ckpt.close()
  return {'params': eval_params(state), **state.mutables}


def _num_train(dataset):
  return None if dataset is None else len(dataset.x_train)


def _global_batch(dataset, config, step, mesh):
  if dataset is None:  # A data-free objective.
    return None
  idx = data_lib.train_indices(len(dataset.x_train), config.batch_size, step,
                               config.seed)
  x = dataset.x_train[idx]
  if config.data.hflip:
    x = data_lib.random_hflip(x, step, config.seed)
  batch = {'x': x}
  if dataset.y_train is not None:
    batch['y'] = dataset.y_train[idx]
  return sharding.put_batch(_local(batch), mesh)


def _local(batch):
  return jax.tree.map(lambda a: data_lib.process_slice(
      a, jax.process_index(), jax.process_count()), batch)


def evaluate(state, dataset, config, mesh, eval_fn, eval_key, max_examples):
  """Mean per-example metrics of the state's evaluation parameters (for a
  data-free objective, the scalars its `evaluate` returns, as eval/<name>)."""
  if dataset is None:
    out = jax.device_get(eval_fn(eval_params(state), state.mutables, None,
                                 eval_key))
    return {f'eval/{k}': float(v) for k, v in out.items()}
  return evaluate_variables(
      {'params': eval_params(state), **state.mutables}, dataset, config, mesh,
      eval_fn, eval_key, max_examples)


def evaluate_variables(variables, dataset, config, mesh, eval_fn, eval_key,
                       max_examples):
  """Mean per-example metrics over the test split (all of it if max == 0).

  `eval_fn(params, mutables, batch, rng)` returns per-example metrics.

  The last batch is padded to the full batch size and the padding masked out,
  so every test example counts exactly once whatever the batch size. A
  partial evaluation uses a fixed random subset, not a prefix: some test sets
  are ordered by class (binarized MNIST's is), so a prefix is biased.
  """
  x, y = dataset.x_test, dataset.y_test
  if 0 < max_examples < len(x):
    order = np.sort(np.random.default_rng(0).permutation(len(x))[:max_examples])
  else:
    order = np.arange(len(x))
  n = len(order)
  bs = config.eval_batch_size
  params = variables['params']
  mutables = {k: v for k, v in variables.items() if k != 'params'}
  sums, count = {}, 0
  for i, start in enumerate(range(0, n, bs)):
    idx = order[start:min(start + bs, n)]
    valid = len(idx)
    idx = np.concatenate([idx, np.full(bs - valid, idx[-1])])
    batch = {'x': x[idx]}
    if y is not None:
      batch['y'] = y[idx]
    batch = sharding.put_batch(_local(batch), mesh)
    out = eval_fn(params, mutables, batch, jax.random.fold_in(eval_key, i))
    out = _gather(out)
    for k, v in out.items():
      sums[k] = sums.get(k, 0.0) + float(np.sum(np.asarray(v)[:valid]))
    count += valid
  return {f'eval/test/{k}': v / count for k, v in sums.items()}


def _gather(tree):
  if jax.process_count() == 1:
    return jax.device_get(tree)
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return multihost_utils.process_allgather(tree, tiled=True)
