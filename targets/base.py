"""The `Target` type: an unnormalised log density over a pytree position.

A position is any pytree of float arrays (a flat vector is a pytree too).
The target carries a *template* of that pytree (its structure and leaf
shapes; the values are unused), from which follow its dimension, the
names of its coordinates, the flat <-> pytree maps, and `initial(rng,
chains)`, which returns starting points with a leading chain axis on every
leaf. Known posterior moments are flat numpy arrays in the order of
`names` (None where they are not known), so samplers report moment errors
in units of Monte Carlo standard error.

Names come from the pytree's key paths, written as Python would index
them: {'mu': scalar, 'theta': [8]} has coordinates `mu`, `theta[0]`, ...,
`theta[7]`; a nested dict gives `a.b[i]`, a matrix leaf `L[i,j]`, and a bare
array (no keys) takes the target's `root` name, `x[i]`.
"""
import dataclasses
from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import ConfigError


def _key_str(key):
  if isinstance(key, jax.tree_util.DictKey):
    return f'.{key.key}'
  if isinstance(key, jax.tree_util.GetAttrKey):
    return f'.{key.name}'
  if isinstance(key, jax.tree_util.SequenceKey):
    return f'[{key.idx}]'
  if isinstance(key, jax.tree_util.FlattenedIndexKey):
    return f'[{key.key}]'
  return f'.{key}'


def leaf_names(tree, root='x'):
  """One name per leaf of `tree`, in `jax.tree.leaves` order.

  Dict keys and attributes are joined with '.', sequence indices appended
  as [i]; a leaf with an empty path (a bare array) is `root`, and a path
  that starts with an index is prefixed with `root` (`x[0]`).
  """
  paths = [p for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
  names = []
  for path in paths:
    name = ''.join(_key_str(k) for k in path)
    if not name or name.startswith('['):
      name = root + name
    names.append(name[1:] if name.startswith('.') else name)
  if len(set(names)) != len(names):
    raise ConfigError(f'the position pytree has repeated leaf names {names}')
  return names


def coordinate_names(tree, root='x'):
  """One name per scalar coordinate of `tree`, in the order of the flat
  vector (leaves in `jax.tree.leaves` order, each raveled in C order)."""
  out = []
  for name, leaf in zip(leaf_names(tree, root), jax.tree.leaves(tree)):
    shape = np.shape(leaf)
    if not shape:
      out.append(name)
    elif len(shape) == 1:
      out.extend(f'{name}[{i}]' for i in range(shape[0]))
    else:
      out.extend(f'{name}[{",".join(map(str, idx))}]'
                 for idx in np.ndindex(*shape))
  return out


def make_unravel(template):
  """A map from flat vectors [..., d] to pytrees shaped like `template`
  (every leaf [..., *leaf_shape]).

  Leading axes pass through, and the flat array's own type and dtype are
  kept (numpy in, numpy views out; jax in, jax out), unlike
  `jax.flatten_util.ravel_pytree`'s unravel, which casts to the template's
  dtypes and takes one position at a time.
  """
  leaves, treedef = jax.tree.flatten(template)
  shapes = [tuple(np.shape(l)) for l in leaves]
  ends = np.cumsum([int(np.prod(s)) for s in shapes]).tolist()
  starts = [0] + ends[:-1]

  def unravel(flat):
    lead = flat.shape[:-1]
    if len(shapes) == 1 and len(shapes[0]) == 1:
      return treedef.unflatten([flat])  # A flat vector: nothing to do.
    return treedef.unflatten([flat[..., a:b].reshape(lead + s)
                              for a, b, s in zip(starts, ends, shapes)])

  return unravel


def ravel(position):
  """The flat vector of one position (leaves raveled in C order and
  concatenated, as `jax.flatten_util.ravel_pytree`)."""
  leaves = jax.tree.leaves(position)
  return jnp.concatenate([jnp.ravel(l) for l in leaves])


@dataclasses.dataclass(frozen=True, eq=False)
class Target:
  """An unnormalised log density `logdensity(position)` over pytrees
  shaped like `template`.

  Attributes:
    name: a short identifier.
    logdensity: log pi(position) + const for one position (no chain axis).
    template: a pytree with the position's structure and leaf shapes.
    mean, var: the exact mean and variance of every coordinate, either flat
      ([dim], in the order of `names`) or as pytrees like `template`;
      stored flat (float64). None where unknown.
    names: per-coordinate names; derived from `template` when not given.
    init_scale: chains start uniformly in [-s, s] in every coordinate, as
      Stan does with s = 2.
    pair: two coordinates (flat indices) for a pair plot.
    root: the name of a bare-array position (`x` gives `x[0]`, ...).
  """
  name: str
  logdensity: Callable
  template: Any
  mean: Optional[Any] = None
  var: Optional[Any] = None
  names: Optional[Sequence[str]] = None
  init_scale: float = 2.0
  pair: tuple = (0, 1)
  root: str = 'x'

  def __post_init__(self):
    if not jax.tree.leaves(self.template):
      raise ConfigError(f'target {self.name!r}: the template has no arrays')
    names = (list(self.names) if self.names is not None
             else coordinate_names(self.template, self.root))
    if len(names) != self.dim:
      raise ConfigError(f'target {self.name!r}: {len(names)} names for '
                        f'{self.dim} coordinates')
    object.__setattr__(self, 'names', names)
    for field in ('mean', 'var'):
      value = getattr(self, field)
      if value is not None:
        object.__setattr__(self, field, self._flat_moment(field, value))

  def _flat_moment(self, field, value):
    if jax.tree.structure(value) == jax.tree.structure(self.template):
      flat = np.concatenate([np.ravel(np.asarray(l, np.float64))
                             for l in jax.tree.leaves(value)])
    else:
      flat = np.ravel(np.asarray(value, np.float64))
    if flat.shape != (self.dim,):
      raise ConfigError(f'target {self.name!r}: {field} has {flat.size} '
                        f'values for {self.dim} coordinates')
    return flat

  @property
  def dim(self):
    """The number of scalar coordinates (the flat vector's length)."""
    return int(sum(np.size(l) for l in jax.tree.leaves(self.template)))

  def ravel(self, position):
    """Flat vector [dim] of one position."""
    return ravel(position)

  def unravel(self, flat):
    """Pytree position(s) from flat vector(s) [..., dim]."""
    return make_unravel(self.template)(flat)

  def logdensity_flat(self, flat):
    """`logdensity` of the position whose flat vector is `flat` [dim]."""
    return self.logdensity(self.unravel(flat))

  def initial(self, rng, chains, dtype=jnp.float32):
    """Starting positions: the template's pytree with a leading chain axis
    [chains, *leaf_shape] on every leaf, uniform in [-init_scale,
    init_scale] (one flat uniform draw [chains, dim], unravelled)."""
    flat = jax.random.uniform(rng, (chains, self.dim), dtype, -self.init_scale,
                              self.init_scale)
    return self.unravel(flat)

  @property
  def leaf_names(self):
    """One name per leaf of the position pytree."""
    return leaf_names(self.template, self.root)


def from_log_joint(name, log_joint, dim=None, *, template=None, names=None,
                   root='z', **kwargs):
  """A target from any log joint density (e.g. a VAE posterior p(z | x)).

  Give either `dim` (the position is a flat vector [dim], coordinates
  z[0], ...) or `template` (any pytree); other keywords (mean, var,
  init_scale, pair) go to `Target`.
  """
  if (dim is None) == (template is None):
    raise ConfigError('from_log_joint needs exactly one of dim and template')
  if template is None:
    template = np.zeros(int(dim), np.float32)
  return Target(name, log_joint, template, names=names, root=root, **kwargs)
