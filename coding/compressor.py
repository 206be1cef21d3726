"""Compressed image files: BB-ANS with a trained VAE, written atomically.

File layout: the magic b'BBANSIMG', a format version byte, a 4-byte header
length, a JSON header (image shape and dtype, number of images, chains,
bucket bits, precision, initial words and their seed, and the fingerprint of
the model), then the rANS message (which carries its own CRC-32).

The fingerprint hashes the model's config and every parameter, so a file is
only ever decoded with the exact model that encoded it; anything else is a
clear error. Decoding must also end exactly at the file's initial bits, a
second end-to-end check. Outputs go to a temporary file in the target
directory and are renamed into place only when complete.
"""
import contextlib
import hashlib
import io
import json
import os
import struct
import tempfile

import jax
import numpy as np

from coding import bitsback
from coding import rans
from common import data as data_lib
from common import trainer
from common.errors import ConfigError

MAGIC = b'BBANSIMG'
VERSION = 1


def load_model(workdir):
  """(coder model, fingerprint, objective, variables) of the VAE in `workdir`."""
  config = trainer.read_run_config(
      workdir, '--model', 'train a VAE there first (e.g. configs/vae_mnist.py)')
  if config.entry != 'vae.train' or config.model.name != 'vae':
    raise ConfigError(f'{workdir} holds a {config.entry} / {config.model.name} '
                      'run, not a VAE')
  from vae import train as vae_train  # pylint: disable=g-import-not-at-top
  shape_only = data_lib.Dataset(
      'shape', _example_batch(config), _example_batch(config), _levels(config))
  objective = vae_train.build_vae_objective(config.model, shape_only)
  variables = trainer.restore_variables(config, workdir, objective, shape_only)
  digest = hashlib.sha256(json.dumps(config.model.to_dict(),
                                     sort_keys=True).encode())
  for leaf in jax.tree.leaves(variables):
    digest.update(np.asarray(leaf).tobytes())
  coder_model = bitsback.vae_coder_model(objective, variables)
  return coder_model, digest.hexdigest()[:32], objective, variables


def _levels(config):
  return config.data.levels or {'mnist': 256, 'binarized_mnist': 2,
                                'cifar10': 256, 'digits': 17}.get(
                                    config.data.name, 256)


def _example_batch(config):
  """A zero batch of the trained model's data shape (from its data config)."""
  shapes = {'mnist': (28, 28, 1), 'binarized_mnist': (28, 28, 1),
            'cifar10': (32, 32, 3), 'digits': (8, 8, 1)}
  if config.data.npz_path or config.data.name not in shapes:
    ds = data_lib.load(config.data)
    return ds.x_train[:config.batch_size]
  return np.zeros((config.batch_size, *shapes[config.data.name]), np.uint8)


def check_images(images, model):
  """Images as uint8 [N, *data_shape] (a missing channel axis is added)."""
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise ConfigError(f'images must be uint8, got {images.dtype}')
  shape = tuple(model.data_shape)
  if images.ndim == len(shape) and shape[-1] == 1:
    images = images[..., None]
  if images.ndim != len(shape) + 1 or images.shape[1:] != shape:
    raise ConfigError(f'images of shape {images.shape[1:]} do not fit the '
                      f'model, which codes {shape}')
  if len(images) == 0:
    raise ConfigError('no images to code')
  if images.max() >= model.levels:
    raise ConfigError(f'pixel values up to {images.max()}; the model codes '
                      f'{model.levels} levels')
  return images


def largest_divisor_at_most(n, k):
  return max(c for c in range(1, min(n, k) + 1) if n % c == 0)


def compress(model, fingerprint, images, chains=100, bucket_bits=8,
             precision=24, initial_words=0, seed=0, progress=None):
  """Bytes of a compressed file holding `images`."""
  images = check_images(images, model)
  chains = largest_divisor_at_most(len(images), chains)
  coder = bitsback.BBANS(model, bucket_bits, precision)
  # Clean bits for the first pop of every chain. They are overhead (and come
  # back on decoding), so start from the typical need, latent_dim *
  # bucket_bits per chain, and double on underflow up to latent_dim *
  # precision, which can never underflow (no symbol takes more).
  words = initial_words or chains * -(-model.latent_dim * bucket_bits // 32)
  safe = chains * -(-model.latent_dim * precision // 32)
  while True:
    try:
      msg, _ = bitsback.encode_dataset(coder, images, chains, words, seed,
                                       progress)
      break
    except rans.CodingError as e:
      if 'underflow' not in str(e) or initial_words or words >= safe:
        raise
      words = min(2 * words, safe)
  initial_words = words
  header = json.dumps({
      'shape': list(images.shape), 'dtype': 'uint8', 'chains': chains,
      'bucket_bits': bucket_bits, 'precision': precision,
      'initial_words': initial_words, 'seed': seed, 'levels': model.levels,
      'model': fingerprint}).encode()
  return (MAGIC + struct.pack('<BI', VERSION, len(header)) + header
          + rans.to_bytes(msg))


def read_header(data):
  if len(data) < len(MAGIC) + 5 or not data.startswith(MAGIC):
    raise rans.CodingError('not a compressed image file (bad magic bytes)')
  version, size = struct.unpack_from('<BI', data, len(MAGIC))
  if version != VERSION:
    raise rans.CodingError(f'file format version {version}; this code reads '
                           f'version {VERSION}')
  start = len(MAGIC) + 5
  try:
    header = json.loads(data[start:start + size])
  except ValueError as e:
    raise rans.CodingError(f'corrupt or truncated file header: {e}') from e
  return header, data[start + size:]


def decompress(model, fingerprint, data, progress=None):
  """The images of a compressed file, verified."""
  header, body = read_header(data)
  if header['model'] != fingerprint:
    raise rans.CodingError(
        f'the file was compressed with model {header["model"]}, not with this '
        f'one ({fingerprint}); decode it with the same --model')
  msg = rans.from_bytes(body)
  n, chains = header['shape'][0], header['chains']
  if msg.num_lanes != chains:
    raise rans.CodingError('corrupt file: lane count differs from the header')
  coder = bitsback.BBANS(model, header['bucket_bits'], header['precision'])
  final, images = bitsback.decode_dataset(coder, msg, n, chains, progress)
  if final != rans.random_message(chains, header['initial_words'],
                                  header['seed']):
    raise rans.CodingError('decoding did not end at the initial bits: the file '
                           'is corrupt')
  return images.reshape(header['shape'])


@contextlib.contextmanager
def atomic_output(path):
  """Yields a temporary path beside `path`; renames it there on success,
  deletes it on any error (no partly written output is ever left)."""
  directory = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(prefix='.partial-', dir=directory)
  os.close(fd)
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_bytes(path, data):
  with atomic_output(path) as tmp:
    with open(tmp, 'wb') as f:
      f.write(data)


def write_npz(path, images):
  buf = io.BytesIO()
  np.savez(buf, x=images)
  write_bytes(path, buf.getvalue())


def read_npz_images(path):
  try:
    with np.load(path) as f:
      for key in ('x', 'x_test', 'images'):
        if key in f:
          return f[key]
      raise ConfigError(f'{path} has no array named x, x_test or images '
                        f'(found {sorted(f.keys())})')
  except (OSError, ValueError) as e:
    raise ConfigError(f'cannot read {path} as .npz: {e}') from e
