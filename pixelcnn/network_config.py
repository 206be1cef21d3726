"""Networks of the PixelCNN family built from their model block by keyword.

Each network's dataclass fields are its config keys (configs/common.py
`pixelcnn_model` documents them), so `from_config(cls, model_config, head)`
is `cls(head=head, **the block's network keys)` with every key checked: a
key the network does not have is a one-line ConfigError naming it, never
silently ignored.
"""
import dataclasses

from common.errors import ConfigError

# Keys every block has that configure the family, not the network: read by
# pixelcnn/train.py (`build`) for the head and the objective.
FAMILY_KEYS = ('name', 'head', 'num_samples')
# Keys of the head (its other fields, levels and channels, come from the
# data), present in the blocks of networks with that head.
HEAD_KEYS = ('num_mixtures',)

# flax.linen adds these fields to every module; they are not config keys.
_MODULE_FIELDS = ('head', 'parent', 'name')

# The model block before the keys were named per network (configs saved by
# runs before that change): one block for every network, whose `features`
# and `depth` meant a different thing for each. Its checkpoints hold the
# same parameters, so `from_config` reads it as the new keys.
_LEGACY_SIZES = {
    'pixelcnn': ('hidden', 'residual_blocks'),
    'gated_pixelcnn': ('stack_channels', 'gated_layers'),
    'pixelcnnpp': ('filters', 'resnet_blocks'),
}


def network_keys(cls):
  """The config keys of network class `cls`: its fields but head."""
  return tuple(f.name for f in dataclasses.fields(cls)
               if f.name not in _MODULE_FIELDS)


def head_keys(head):
  """The config keys `head` reads (num_mixtures of a mixture head)."""
  return tuple(k for k in HEAD_KEYS if hasattr(head, k))


def network_settings(model_config, head):
  """The block's keys other than the family's and the head's, as a dict."""
  skip = FAMILY_KEYS + head_keys(head)
  return {k: v for k, v in model_config.items() if k not in skip}


def _from_legacy(model_config, settings, keys):
  """The network's settings of a pre-rename block, or None if it is not one."""
  width, depth = _LEGACY_SIZES.get(model_config.get('name'), (None, None))
  if (width is None or not {'features', 'depth'} <= set(settings)
      or {width, depth} & set(settings)):
    return None
  renamed = dict(settings, **{width: settings['features'],
                              depth: settings['depth']})
  # The old block held every network's keys; this network reads its own.
  return {k: v for k, v in renamed.items() if k in keys}


def from_config(cls, model_config, head):
  """`cls(head=head, **settings)` for the network keys of `model_config`.

  Raises ConfigError naming every key `cls` does not have.
  """
  keys = network_keys(cls)
  settings = network_settings(model_config, head)
  legacy = _from_legacy(model_config, settings, keys)
  if legacy is not None:
    settings = legacy
  unknown = sorted(set(settings) - set(keys))
  if unknown:
    name = model_config.get('name', cls.__name__)
    raise ConfigError(
        f'{name} has no model key {", ".join(unknown)}; its keys: '
        f'{", ".join(sorted(keys + FAMILY_KEYS + head_keys(head)))}')
  return cls(head=head, **settings)
