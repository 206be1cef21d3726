"""Compressed image files: BB-ANS with a trained VAE, written atomically.

File layout (format version 3), little-endian:

  b'BBANSIMG'  format version (1 byte)  header length L (4 bytes)
  CRC-32 of everything before it and of the header (4 bytes)
  JSON header (L bytes): the coded shape [N, *model shape], the input's
      original shape (restored on decoding: [N, H, W] stays [N, H, W]),
      dtype, chains, bucket bits, precision, initial words and their seed,
      levels, and the fingerprint of the model
  the rANS message (`rans.to_bytes`, which carries its own CRC-32)

`read_header` checks the header's CRC and every key and type decoding
reads before any decoding work, so a damaged header is one clear
`rans.CodingError`.

Format 3 codes every symbol with its quantized CDF, evaluated in the
compiled coder where it is needed (`bitsback.BBANS(tables='cdf')`);
formats 1 and 2 built every symbol's whole table from the model's pmf
('pmf'): other intervals, so other bytes and other popped latents, the
same rate up to a bits-back file's path noise (-0.06% to +0.23% measured,
docs/RESULTS.md), and 4-210x slower. The layout
of format 3 is format 2's, and older files are still read and decoded with
their own scheme: format 2 as written, format 1 (without the header CRC and
the original shape, which is then the coded shape) likewise.
`compress(..., version=2)` writes format 2 for readers with older code.

The fingerprint hashes the model's config and every parameter, so a file is
only ever decoded with the exact model that encoded it; anything else is a
clear error. Decoding must also end exactly at the file's initial bits, a
second end-to-end check. Outputs go to a temporary file in the target
directory and are renamed into place only when complete; `check_output`
refuses a missing or unwritable directory, a directory as the output, and
an existing output unless forced, before any coding work.
"""
import contextlib
import hashlib
import io
import json
import math
import os
import secrets
import struct
import zlib

import jax
import numpy as np

from coding import bitsback
from coding import rans
from common import data as data_lib
from common import runs
from common.errors import ConfigError

MAGIC = b'BBANSIMG'
VERSION = 3        # 2: header CRC-32, original_shape. 3: CDF coding.
_TABLES = {1: 'pmf', 2: 'pmf', 3: 'cdf'}   # How each version codes.
_PREFIX = struct.Struct('<BI')   # Version, header length.
_HEADER_KEYS = ('shape', 'original_shape', 'dtype', 'chains', 'bucket_bits',
                'precision', 'initial_words', 'seed', 'levels', 'model')


def load_model(workdir):
  """(coder model, fingerprint, objective, variables) of the VAE in `workdir`."""
  hint = 'train a VAE there first (e.g. configs/vae_mnist.py)'
  config = runs.read_config(workdir, 'model', hint)
  if config.get('entry') == 'coding.run':   # A bits-back run names its VAE.
    hint = (f'its VAE is in '
            f'{config.get("model_workdir") or os.path.join(workdir, "vae")}')
  runs.check_kind(config, workdir, 'model', hint)
  run = runs.load_run(workdir, 'model', hint)
  digest = hashlib.sha256(json.dumps(run.config.model.to_dict(),
                                     sort_keys=True).encode())
  for leaf in jax.tree.leaves(run.variables):
    digest.update(np.asarray(leaf).tobytes())
  coder_model = bitsback.vae_coder_model(run.objective, run.variables)
  return coder_model, digest.hexdigest()[:32], run.objective, run.variables


def check_images(images, model):
  """Images as uint8 [N, *data_shape] (a missing channel axis is added)."""
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise ConfigError(f'images must be uint8, got {images.dtype}')
  shape, given = tuple(model.data_shape), images.shape
  if images.ndim == len(shape) and shape[-1] == 1:
    images = images[..., None]
  if images.ndim != len(shape) + 1 or images.shape[1:] != shape:
    one = f' (or [N, {", ".join(map(str, shape[:-1]))}])' if shape[-1] == 1 else ''
    raise ConfigError(f'images of shape {list(given)} do not fit the model, '
                      f'which codes [N, {", ".join(map(str, shape))}]{one}')
  if len(images) == 0:
    raise ConfigError('no images to code')
  if images.max() >= model.levels:
    raise ConfigError(f'pixel values up to {images.max()}; the model codes '
                      f'{model.levels} levels')
  return images


def largest_divisor_at_most(n, k):
  return max(c for c in range(1, min(n, k) + 1) if n % c == 0)


# Each chain costs its initial bits (latent_dim * bucket_bits, rounded up
# to words) and a 64-bit final state: about three binarized-MNIST images'
# worth with 50 latents. 250 images per chain keeps that near 1% of a file,
# and 100 chains at most keep the per-batch cost of the model call
# amortised (one batch per `chains` images).
IMAGES_PER_CHAIN = 250
MAX_CHAINS = 100


def auto_chains(num_images):
  """The default number of chains for a file of `num_images` images: one
  per IMAGES_PER_CHAIN images (at least one, at most MAX_CHAINS), lowered
  to a divisor of num_images."""
  target = max(1, min(MAX_CHAINS, num_images // IMAGES_PER_CHAIN))
  return largest_divisor_at_most(num_images, target)


def check_options(chains, bucket_bits, precision):
  """Coding options, checked before any work: one clear error each."""
  def is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
  if chains is not None and (not is_int(chains) or chains < 1):
    raise ConfigError(f'--chains must be a positive integer, got {chains!r}')
  if not is_int(bucket_bits) or not 1 <= bucket_bits <= 16:
    raise ConfigError(f'--bucket_bits must be an integer in 1..16, got '
                      f'{bucket_bits!r}')
  if not is_int(precision) or not bucket_bits < precision <= 32:
    raise ConfigError(f'--precision must be an integer in {bucket_bits + 1}..32 '
                      f'(above --bucket_bits={bucket_bits}), got {precision!r}')


def compress(model, fingerprint, images, chains=None, bucket_bits=8,
             precision=24, initial_words=0, seed=0, progress=None,
             version=VERSION):
  """Bytes of a compressed file holding `images` (decompressed to the same
  shape: a missing channel axis is added for coding and dropped again).
  `chains` defaults to `auto_chains(len(images))`; a given number is
  lowered to a divisor of the number of images. `version` 2 writes the
  previous format (for older readers; slower)."""
  check_options(chains, bucket_bits, precision)
  if (not isinstance(version, (int, np.integer)) or isinstance(version, bool)
      or version not in (2, VERSION)):
    raise ConfigError(f'can write file format 2 or {VERSION}, not {version!r}')
  bucket_bits, precision = int(bucket_bits), int(precision)
  if model.levels > 1 << precision:
    raise ConfigError(f'--precision={precision} gives {1 << precision} slots, '
                      f'fewer than the model\'s {model.levels} pixel levels; '
                      f'use at least {(model.levels - 1).bit_length()}')
  original_shape = list(np.shape(images))
  images = check_images(images, model)
  chains = (auto_chains(len(images)) if chains is None
            else largest_divisor_at_most(len(images), int(chains)))
  coder = bitsback.BBANS(model, bucket_bits, precision, _TABLES[version])
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
      'shape': list(images.shape), 'original_shape': original_shape,
      'dtype': 'uint8', 'chains': chains,
      'bucket_bits': bucket_bits, 'precision': precision,
      'initial_words': initial_words, 'seed': seed, 'levels': model.levels,
      'model': fingerprint}).encode()
  prefix = MAGIC + _PREFIX.pack(version, len(header))
  return (prefix + struct.pack('<I', zlib.crc32(prefix + header)) + header
          + rans.to_bytes(msg))


def _header_error(what):
  return rans.CodingError(f'corrupt file header: {what}')


def _check_header(header):
  """Every key decoding reads, with its type and range."""
  if not isinstance(header, dict):
    raise _header_error('not a JSON object')
  missing = sorted(set(_HEADER_KEYS) - set(header))
  if missing:
    raise _header_error(f'missing {", ".join(missing)}')
  def whole(key, low=0, high=None):
    v = header[key]
    if (not isinstance(v, int) or isinstance(v, bool) or v < low
        or (high is not None and v > high)):
      raise _header_error(f'{key} = {v!r} is not an integer in {low}..'
                          f'{"" if high is None else high}')
    return v
  def dims(key):
    v = header[key]
    if (not isinstance(v, list) or len(v) < 2 or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in v)):
      raise _header_error(f'{key} = {v!r} is not a list of positive sizes')
    return v
  shape, original = dims('shape'), dims('original_shape')
  chains = whole('chains', 1)
  bits = whole('bucket_bits', 1, 16)
  whole('precision', bits + 1, 32)
  whole('initial_words', 0)
  whole('seed', 0)
  whole('levels', 2)
  if header['dtype'] != 'uint8':
    raise _header_error(f'dtype {header["dtype"]!r}, not uint8')
  if not isinstance(header['model'], str):
    raise _header_error('the model fingerprint is not a string')
  if shape[0] % chains:
    raise _header_error(f'{shape[0]} images do not split into {chains} chains')
  if original[0] != shape[0] or math.prod(original) != math.prod(shape):
    raise _header_error(f'original shape {original} does not match the coded '
                        f'shape {shape}')


def read_header(data):
  """(header, rest of the data) of a compressed file; the header is
  checked against its CRC-32 and for every key and type decoding needs,
  and gets the file's format `version` added."""
  data = bytes(data)   # Also from a bytearray or a memoryview.
  if len(data) < len(MAGIC) + _PREFIX.size or not data.startswith(MAGIC):
    raise rans.CodingError('not a compressed image file (bad magic bytes)')
  version, size = _PREFIX.unpack_from(data, len(MAGIC))
  if version == 1:
    header, rest = _read_header_v1(data, size)
    return dict(header, version=1), rest
  if version not in _TABLES:
    raise rans.CodingError(f'file format version {version}; this code reads '
                           f'versions 1 to {VERSION}')
  start = len(MAGIC) + _PREFIX.size + 4
  if len(data) < start + size:
    raise rans.CodingError(f'truncated file: {len(data)} bytes, the header '
                           f'alone needs {start + size}')
  (crc,) = struct.unpack_from('<I', data, start - 4)
  raw = data[start:start + size]
  if zlib.crc32(data[:start - 4] + raw) != crc:
    raise rans.CodingError('file header checksum mismatch: the file is corrupt')
  try:
    header = json.loads(raw)
  except ValueError as e:
    raise _header_error(str(e)) from e
  _check_header(header)
  return dict(header, version=version), data[start + size:]


def _read_header_v1(data, size):
  """Format 1 (no header CRC, no original shape; the rANS message and its
  coding are the same): files written before format 2 still decode."""
  start = len(MAGIC) + _PREFIX.size
  if len(data) < start + size:
    raise rans.CodingError(f'truncated file: {len(data)} bytes, the header '
                           f'alone needs {start + size}')
  try:
    header = json.loads(data[start:start + size])
  except ValueError as e:
    raise _header_error(str(e)) from e
  if isinstance(header, dict) and 'shape' in header:
    header.setdefault('original_shape', header['shape'])
  _check_header(header)
  return header, data[start + size:]


def parse(data):
  """(header, rANS message) of a compressed file, both fully checked."""
  header, body = read_header(data)
  msg = rans.from_bytes(body)
  if msg.num_lanes != header['chains']:
    raise rans.CodingError('corrupt file: lane count differs from the header')
  return header, msg


def decompress(model, fingerprint, data, progress=None):
  """The images of a compressed file, verified, in their original shape."""
  header, msg = parse(data)
  if header['model'] != fingerprint:
    raise rans.CodingError(
        f'the file was compressed with model {header["model"]}, not with this '
        f'one ({fingerprint}): decode it with the model that compressed it '
        '(a workdir trained further since then holds another model)')
  n, chains = header['shape'][0], header['chains']
  if (tuple(header['shape'][1:]) != tuple(model.data_shape)
      or header['levels'] != model.levels):
    raise rans.CodingError(
        f'the file holds {header["levels"]}-level images of shape '
        f'{header["shape"][1:]}; the model codes {model.levels}-level '
        f'{tuple(model.data_shape)}')
  coder = bitsback.BBANS(model, header['bucket_bits'], header['precision'],
                         _TABLES[header['version']])
  final, images = bitsback.decode_dataset(coder, msg, n, chains, progress)
  if final != rans.random_message(chains, header['initial_words'],
                                  header['seed']):
    raise rans.CodingError('decoding did not end at the initial bits: the file '
                           'is corrupt')
  return images.reshape(header['original_shape'])


def check_output(path, force=False):
  """Fails (one line) unless `path` can be written: its directory exists
  and is writable, it is not a directory, and it does not exist yet unless
  `force`. Called before any coding work."""
  directory = os.path.dirname(os.path.abspath(path))
  if os.path.isdir(path):
    raise ConfigError(f'output {path} is a directory')
  if not os.path.isdir(directory):
    raise ConfigError(f'output directory {directory} does not exist')
  if not os.access(directory, os.W_OK | os.X_OK):
    raise ConfigError(f'output directory {directory} is not writable')
  if os.path.lexists(path) and not force:
    raise ConfigError(f'output {path} exists; pass --force to overwrite it')


@contextlib.contextmanager
def atomic_output(path, force=True):
  """Yields a temporary path beside `path`; renames it there on success,
  deletes it on any error (no partly written output is ever left). Without
  `force` an existing `path` is an error, never overwritten."""
  directory = os.path.dirname(os.path.abspath(path))
  # Created with mode 0666 less the umask, as open() would (mkstemp's 0600
  # would survive the rename).
  while True:
    tmp = os.path.join(directory, f'.partial-{secrets.token_hex(8)}')
    try:
      os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
      break
    except FileExistsError:
      continue
    except OSError as e:
      raise ConfigError(f'cannot write {path}: {e.strerror}') from e
  try:
    yield tmp
    check_output(path, force)
    try:
      os.replace(tmp, path)
    except OSError as e:
      raise ConfigError(f'cannot write {path}: {e.strerror}') from e
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_bytes(path, data, force=True):
  with atomic_output(path, force) as tmp:
    try:
      with open(tmp, 'wb') as f:
        f.write(data)
    except OSError as e:
      raise ConfigError(f'cannot write {path}: {e.strerror}') from e


def write_npz(path, images, force=True):
  buf = io.BytesIO()
  np.savez(buf, x=images)
  write_bytes(path, buf.getvalue(), force)


def read_npz_images(path):
  """The images of an .npz file (its array x, x_test or images) or of an
  .npy file (its one array)."""
  arrays = data_lib.read_arrays(path)
  for key in ('x', 'x_test', 'images'):
    if key in arrays:
      return arrays[key]
  raise ConfigError(f'{path} has no array named x, x_test or images '
                    f'(found {sorted(arrays)})')
