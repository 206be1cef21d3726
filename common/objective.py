"""The contract between a model family and `common.trainer.fit`.

A family's `<family>/train.py` exposes `build(config, dataset) -> Objective`
and `fit` owns the rest (data order, optimizer, jit and sharding, RNG,
cadences, the NaN guard, checkpoints, evaluation). An objective is a plain
object with pure functions of the variables:

  init(rng, batch)                    -> variables {'params': ..., other collections}
  loss(variables, batch, rng, train)  -> (scalar loss, metrics dict, new mutables)
  evaluate(variables, batch, rng)     -> dict of per-example metrics, each [B]
                                         (data-free: dict of scalars)

and may supply the optional hooks declared below; `fit` uses a hook only
when it is not None, so a family states what it offers by defining it.
"""
import abc


class Objective(abc.ABC):
  """What every family hands to `fit`. Subclass it; define the hooks you need.

  Attributes:
    needs_data: False for an objective with no dataset (a variational fit to
      an unnormalised density, a toy estimator problem): `fit` then draws no
      batches, passes `batch=None` to every function, counts steps from
      `config.total_steps`, and `evaluate` returns scalars, not per-example
      values.
  """

  needs_data = True

  @abc.abstractmethod
  def init(self, rng, batch):
    """Variables {'params': ..., other collections} for a first batch."""

  @abc.abstractmethod
  def loss(self, variables, batch, rng, train):
    """(scalar loss, metrics dict, new mutable collections)."""

  @abc.abstractmethod
  def evaluate(self, variables, batch, rng):
    """Per-example metrics {name: [B]} of a test batch (scalars if data-free)."""

  # Optional hooks. None: the objective does not offer it.

  #: sample_images(variables, rng) -> {tag: uint8 [H, W, 3]}, written as PNGs
  #: and TensorBoard images at the sample cadence and at the end.
  sample_images = None

  #: dataset_metrics(variables, dataset) -> {name: scalar} over the whole test
  #: split that are not means of per-example values (e.g. active units);
  #: called once after the final evaluation.
  dataset_metrics = None

  #: grads(variables, batch, rng) -> (grads, metrics, new mutables): the
  #: objective's own gradient estimate instead of `jax.grad` of `loss`, for
  #: estimators whose surrogate is not one scalar to differentiate (e.g.
  #: REBAR/RELAX control variates trained to minimise the estimator's
  #: variance, arXiv:1711.00123). `metrics` must hold 'loss' (the value the
  #: NaN guard checks and the progress line shows).
  grads = None

  #: param_labels(params) -> pytree of str, the parameter group of every
  #: leaf: each group is optimised by its own optimizer, built from
  #: `config.optim` updated with `config.optim_groups[label]`
  #: (optax.multi_transform); a label without an entry uses `config.optim`.
  #: Gradient clipping (over all gradients) and EMA stay run-wide.
  param_labels = None
