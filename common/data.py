"""Datasets as in-memory numpy arrays with a fixed train/test split.

Images are uint8 NHWC with `levels` discrete values per sub-pixel (256 for
8-bit, 2 for binarized, 17 for scikit-learn's digits). 2-D toy densities are
float32 [N, 2] with `levels == 0` (continuous). Every dataset fits in host
memory, so the epoch order is a pure function of (seed, epoch): the data
position of a run is its step, and resuming from a checkpoint is exact.

Sources, in order of preference for the image datasets:
  * `npz`: a local file with arrays `x_train`, `x_test` and optional
    `y_train`, `y_test` (uint8, [N, H, W] or [N, H, W, C]); several files
    separated by commas are merged (e.g. one holding x_train, one x_test).
  * tensorflow-datasets (`mnist`, `binarized_mnist`, `cifar10`), reading a
    prepared copy from `data_dir` / `$TFDS_DATA_DIR` or downloading it.
  * `digits`: scikit-learn's bundled 8x8 digits, the offline default.

Tables (float32 [N, D] features, `levels == 0`, named columns): scikit-learn's
bundled `diabetes` (regression, 442 rows x 10) and `breast_cancer`
(classification, 569 x 30), split by a fixed permutation of `data.seed`
with `data.test_fraction` held out; `data.num_features` keeps the first k
columns. They are small and offline, so `spec` reads them too.
"""
import dataclasses
import math
import os

import numpy as np

from common.errors import DataError

TFDS_NAMES = ('mnist', 'binarized_mnist', 'cifar10')
TOY_NAMES = ('moons', 'circles', '8gaussians', 'checkerboard', 'spirals')
# name -> (task, number of classes (0 for regression), feature count)
TABULAR = {'diabetes': ('regression', 0, 10),
           'breast_cancer': ('classification', 2, 30)}
# Example shape, levels, and train / test sizes of every named dataset: what
# a model trained on it was built for (`spec` rebuilds one without the data).
SHAPES = {'mnist': ((28, 28, 1), 256, 60000, 10000),
          'binarized_mnist': ((28, 28, 1), 2, 50000, 10000),
          'cifar10': ((32, 32, 3), 256, 50000, 10000),
          'digits': ((8, 8, 1), 17, 1500, 297)}


@dataclasses.dataclass
class Dataset:
  """A train/test split held in memory.

  `spec_only` marks a stand-in from `spec`: the right shapes, levels and
  sizes, all values zero, no memory (broadcast arrays). It rebuilds a
  trained model without its data; it cannot train one.
  """
  name: str
  x_train: np.ndarray
  x_test: np.ndarray
  levels: int  # Discrete values per dimension; 0 for continuous data.
  y_train: np.ndarray | None = None
  y_test: np.ndarray | None = None
  spec_only: bool = False
  feature_names: tuple = ()  # Tables: one name per column.

  @property
  def example_shape(self):
    return self.x_train.shape[1:]

  @property
  def num_dims(self):
    return int(np.prod(self.example_shape))


def load(cfg):
  """Loads the dataset that `cfg` (a config's `data` block) names."""
  name = cfg.name
  if cfg.npz_path and name in TOY_NAMES + tuple(TABULAR) + ('digits',):
    raise DataError(
        f'data.npz_path is set but data.name={name!r} reads no files; use '
        f'data.name=npz (or one of {", ".join(TFDS_NAMES)}) with it, or drop it')
  if name == 'digits':
    ds = _load_digits()
  elif name == 'npz':
    ds = _load_npz(cfg.npz_path, cfg.levels)
  elif name in TFDS_NAMES:
    if cfg.npz_path:
      ds = _load_npz(cfg.npz_path, _levels(cfg))
      ds.name = name
      # A run is reopened from the name's shape (`spec`), so a file standing
      # in for a named dataset must have it.
      if ds.x_train.shape[1:] != SHAPES[name][0]:
        raise DataError(
            f'{cfg.npz_path} holds images of shape {ds.x_train.shape[1:]}, '
            f'not {name}\'s {SHAPES[name][0]}; use data.name=npz for other '
            'images')
    else:
      ds = _load_tfds(name, cfg.data_dir)
  elif name in TOY_NAMES:
    ds = make_toy(name, cfg.num_train, cfg.num_test, cfg.seed)
  elif name in TABULAR:
    ds = _load_tabular(cfg)
  else:
    raise _unknown(name)
  _validate(ds)
  return ds


def _unknown(name):
  return DataError(f'unknown dataset {name!r}; choose one of '
                   f'{sorted(TFDS_NAMES + TOY_NAMES + tuple(TABULAR) + ("digits", "npz"))}')


def _levels(cfg):
  """The levels `load` gives a named dataset: its own, except that a local
  .npz standing in for it may set `data.levels`."""
  own = SHAPES[cfg.name][1]
  return (cfg.levels or own) if cfg.npz_path else own


def spec(cfg):
  """A `spec_only` Dataset with the shapes, levels and sizes `cfg` (a data
  block) gives, without reading any data: named datasets from `SHAPES`
  (also when a local .npz stood in for them; its sizes may differ, which
  only changes an epoch-based schedule), the 2-D toys from the config. A
  `data.name=npz` file has no known shape, so it is read; so are the
  tables (bundled, kilobytes, and a model on them keeps statistics of its
  training split).
  """
  name = cfg.name
  if name == 'npz' or name in TABULAR:
    return load(cfg)
  if name in TOY_NAMES:
    x_train, x_test = _zeros(cfg.num_train, (2,)), _zeros(cfg.num_test, (2,))
    return Dataset(name, x_train, x_test, 0, spec_only=True)
  if name not in SHAPES:
    raise _unknown(name)
  shape, _, num_train, num_test = SHAPES[name]
  labels = name != 'binarized_mnist'
  return Dataset(name, _zeros(num_train, shape, np.uint8),
                 _zeros(num_test, shape, np.uint8), _levels(cfg),
                 _zeros(num_train, (), np.int64) if labels else None,
                 _zeros(num_test, (), np.int64) if labels else None,
                 spec_only=True)


def _zeros(n, shape, dtype=np.float32):
  return np.broadcast_to(np.zeros((), dtype), (n, *shape))


def train_indices(num_examples, batch_size, step, seed):
  """Indices of the global training batch at `step`.

  Each epoch is a fresh permutation drawn from (seed, epoch); the last partial
  batch of an epoch is dropped so that every batch has the same shape.
  """
  steps_per_epoch = num_examples // batch_size
  if steps_per_epoch == 0:
    raise DataError(f'batch size {batch_size} is larger than the training set '
                    f'({num_examples} examples)')
  epoch, index = divmod(step, steps_per_epoch)
  perm = np.random.default_rng([seed, epoch]).permutation(num_examples)
  return perm[index * batch_size:(index + 1) * batch_size]


def data_position(num_examples, batch_size, step):
  """(epoch, batch index within the epoch) reached after `step` steps."""
  epoch, index = divmod(step, max(num_examples // batch_size, 1))
  return {'epoch': int(epoch), 'batch_index': int(index)}


def random_hflip(images, step, seed):
  """Flips each image left-right with probability 1/2, deterministically."""
  flip = np.random.default_rng([seed, step, 1]).random(len(images)) < 0.5
  return np.where(flip[:, None, None, None], images[:, :, ::-1], images)


def process_slice(global_batch, process_index, process_count):
  """The rows of a global batch that this host feeds to its devices."""
  per_process = len(global_batch) // process_count
  return global_batch[process_index * per_process:
                      (process_index + 1) * per_process]


# ----------------------------------------------------------------------------
# Sources.


def _load_digits():
  """scikit-learn's 8x8 digits (values 0..16): first 1500 train, 297 test."""
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  images = digits.images.astype(np.uint8)[..., None]
  labels = digits.target.astype(np.int64)
  return Dataset('digits', images[:1500], images[1500:], 17,
                 labels[:1500], labels[1500:])


def _load_tabular(cfg):
  """A scikit-learn table, split into train/test by a fixed permutation of
  `data.seed` with `data.test_fraction` (default 0.2) held out."""
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  name = cfg.name
  raw = (datasets.load_diabetes() if name == 'diabetes'
         else datasets.load_breast_cancer())
  x = raw.data.astype(np.float32)
  names = tuple(str(n) for n in raw.feature_names)
  keep = cfg.get('num_features', 0)  # The first k columns; 0 keeps all.
  if keep:
    if not 0 < keep <= x.shape[1]:
      raise DataError(f'data.num_features={keep}; {name} has {x.shape[1]} '
                      'features (0 keeps all)')
    x, names = x[:, :keep], names[:keep]
  task = TABULAR[name][0]
  y = raw.target.astype(np.float32 if task == 'regression' else np.int64)
  fraction = cfg.get('test_fraction', 0.2)
  if not 0 < fraction < 1:
    raise DataError(f'data.test_fraction={fraction} must be in (0, 1)')
  perm = np.random.default_rng(cfg.seed).permutation(len(x))
  n_test = max(1, int(round(fraction * len(x))))
  test, train = perm[:n_test], perm[n_test:]
  return Dataset(name, x[train], x[test], 0, y[train], y[test],
                 feature_names=names)


def _load_npz(paths, levels):
  """Reads x_train/x_test (and optional y_*) from one file or several.

  `paths` may list several files separated by commas, whose arrays are merged
  (e.g. a train file and a test file); an array found twice must be equal.
  """
  if not paths:
    raise DataError('data.name=npz needs data.npz_path=FILE.npz')
  arrays = {}
  for path in paths.split(','):
    for key, value in read_arrays(path).items():
      if key in arrays and not np.array_equal(arrays[key], value):
        raise DataError(f'array {key!r} differs between the files {paths}')
      arrays[key] = value
  for key in ('x_train', 'x_test'):
    if key not in arrays:
      raise DataError(f'{paths} has no array {key!r} (found {sorted(arrays)}); '
                      'expected x_train, x_test and optional y_train, y_test')
  x_train, x_test = (_as_nhwc(arrays[k], paths, k) for k in ('x_train', 'x_test'))
  if not levels:
    levels = 2 if max(x_train.max(), x_test.max()) <= 1 else 256
  return Dataset('npz', x_train, x_test, levels,
                 arrays.get('y_train'), arrays.get('y_test'))


def read_arrays(path):
  """{name: array} of an .npz file, or {'x': its array} of an .npy file.
  Never unpickles: any other file is one clear DataError."""
  if os.path.isdir(path):
    raise DataError(f'{path} is a directory, not an .npz or .npy file')
  if not os.path.exists(path):
    raise DataError(f'npz file not found: {path}')
  try:
    with open(path, 'rb') as stream:
      loaded = np.load(stream, allow_pickle=False)
      if isinstance(loaded, np.ndarray):
        return {'x': loaded}
      with loaded as f:
        return {k: f[k] for k in f.files}
  except Exception as e:  # pylint: disable=broad-except
    if 'contains pickled' in str(e):   # numpy's guess for other files.
      raise DataError(f'{path} is not an .npz or .npy file of arrays') from e
    raise DataError(f'cannot read {path} as .npz or .npy: {e}') from e


def _as_nhwc(x, path, key):
  if x.dtype != np.uint8:
    raise DataError(f'{path}:{key} has dtype {x.dtype}; expected uint8')
  if x.ndim == 3:
    x = x[..., None]
  if x.ndim != 4:
    raise DataError(f'{path}:{key} has shape {x.shape}; expected [N, H, W] '
                    'or [N, H, W, C]')
  return x


def _hide_gpus_from_tensorflow():
  """TensorFlow only reads data here; keep it off the accelerators JAX uses."""
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
  except ImportError:
    return
  try:
    tf.config.set_visible_devices([], 'GPU')
  except RuntimeError:
    pass  # Already initialised (e.g. a second call); devices are fixed then.


def _load_tfds(name, data_dir):
  """Reads a whole tfds split into numpy; fails fast and clearly offline."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.core.download import downloader  # pylint: disable=g-import-not-at-top
  _hide_gpus_from_tensorflow()
  data_dir = data_dir or os.environ.get('TFDS_DATA_DIR') or None
  builder = tfds.builder(name, data_dir=data_dir)
  if not builder.is_prepared():
    # The default retry policy takes ~205 s to give up without network.
    downloader.MAX_RETRIES = 0
    try:
      builder.download_and_prepare()
    except Exception as e:  # pylint: disable=broad-except
      where = data_dir or '~/tensorflow_datasets'
      raise DataError(
          f'tfds dataset {name!r} is not prepared in {where} and could not be '
          f'downloaded ({type(e).__name__}). Either point data.data_dir '
          '(or $TFDS_DATA_DIR) at a prepared tfds directory, or pass a local '
          'file with data.npz_path=FILE.npz (arrays x_train, x_test)'
      ) from None
  x_train, y_train = _tfds_split(builder, 'train')
  x_test, y_test = _tfds_split(builder, 'test')
  return Dataset(name, x_train, x_test, SHAPES[name][1], y_train, y_test)


def _tfds_split(builder, split):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  # batch_size=-1 would be one tensor, but it crashes under tfds' mock_data.
  images, labels = [], []
  for ex in tfds.as_numpy(builder.as_dataset(split=split, batch_size=1024)):
    images.append(ex['image'])
    if 'label' in ex:
      labels.append(ex['label'])
  x = np.concatenate(images).astype(np.uint8)
  y = np.concatenate(labels).astype(np.int64) if labels else None
  return x, y


def _validate(ds):
  for split, x in (('train', ds.x_train), ('test', ds.x_test)):
    if len(x) == 0:
      raise DataError(f'dataset {ds.name!r} has an empty {split} split')
    if ds.levels and x.max() >= ds.levels:
      raise DataError(f'dataset {ds.name!r} {split} has value {x.max()} but '
                      f'levels={ds.levels}; set data.levels')
  if ds.x_train.shape[1:] != ds.x_test.shape[1:]:
    raise DataError(f'train/test shapes differ: {ds.x_train.shape[1:]} vs '
                    f'{ds.x_test.shape[1:]}')
  for split, x, y in (('train', ds.x_train, ds.y_train),
                      ('test', ds.x_test, ds.y_test)):
    if y is not None and np.shape(y)[:1] != (len(x),):
      raise DataError(f'dataset {ds.name!r} has {len(x)} {split} examples but '
                      f'labels of shape {np.shape(y)}')


# ----------------------------------------------------------------------------
# 2-D toy densities (float32 [N, 2], roughly inside [-4, 4]^2).


def make_toy(name, num_train, num_test, seed):
  """Samples a toy density with a fixed seed; train and test are disjoint draws."""
  rng = np.random.default_rng(seed)
  sampler = _TOYS[name]
  x = sampler(rng, num_train + num_test).astype(np.float32)
  return Dataset(name, x[:num_train], x[num_train:], levels=0)


def _moons(rng, n):
  n1 = n // 2
  t1 = rng.uniform(0, math.pi, n1)
  t2 = rng.uniform(0, math.pi, n - n1)
  upper = np.stack([np.cos(t1), np.sin(t1)], 1)
  lower = np.stack([1 - np.cos(t2), 0.5 - np.sin(t2)], 1)
  x = np.concatenate([upper, lower]) + 0.05 * rng.standard_normal((n, 2))
  return rng.permutation((x - [0.5, 0.25]) * 2.0)


def _circles(rng, n):
  n1 = n // 2
  radius = np.concatenate([np.full(n1, 1.0), np.full(n - n1, 0.5)])
  t = rng.uniform(0, 2 * math.pi, n)
  x = radius[:, None] * np.stack([np.cos(t), np.sin(t)], 1)
  return rng.permutation(3.0 * (x + 0.05 * rng.standard_normal((n, 2))))


def _eight_gaussians(rng, n):
  angles = 2 * math.pi * np.arange(8) / 8
  centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], 1)
  return (centers[rng.integers(0, 8, n)]
          + 0.2 * rng.standard_normal((n, 2))) * 1.5


def _checkerboard(rng, n):
  x1 = rng.uniform(-2, 2, n)
  x2 = rng.uniform(0, 1, n) + rng.integers(0, 2, n) * 2.0 - 2.0
  x2 = x2 + np.floor(x1) % 2
  return 2.0 * np.stack([x1, x2], 1)


def _spirals(rng, n):
  n1 = n // 2
  t = np.sqrt(rng.uniform(0, 1, n)) * 3 * math.pi
  sign = np.where(np.arange(n) < n1, 1.0, -1.0)
  x = sign[:, None] * np.stack([-t * np.cos(t), t * np.sin(t)], 1) / 3.0
  return rng.permutation(x + 0.1 * rng.standard_normal((n, 2)))


_TOYS = {'moons': _moons, 'circles': _circles, '8gaussians': _eight_gaussians,
         'checkerboard': _checkerboard, 'spirals': _spirals}
