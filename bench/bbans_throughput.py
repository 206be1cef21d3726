"""BB-ANS compressor throughput: images/s each way, end to end.

  python bench/bbans_throughput.py --workdir=runs/vae_bmnist \
      --npz_path=../shared/data/binarized_mnist.npz [--n=10000] [--chains=0]
      [--version=3] [--repeats=3] [--out=bench/results/bbans_throughput_x.json]
  python bench/bbans_throughput.py --config=configs/vae_mnist.py:data=binarized_mnist \
      --npz_path=... (an untrained, randomly initialised VAE of that config)

Times `compressor.compress` and `compressor.decompress` (the CLI's code
path: model evaluation, table building, rANS, file format and the final
checks) on the first n test images, after one warm-up call on a single
batch (jit and numba compile, reported apart). Every decode is compared
with the input. Reports the file's bits/dim, its SHA-256 (equal hashes
across versions mean equal bytes, so the same rate to the bit) and the
median of `--repeats` timings with [min, max]. `--chains=0` is the
compressor's default (`compressor.auto_chains`); give --chains when timing
a version from before that default existed. `--version=2` writes file
format 2 (whole pmf tables) instead of 3 (quantized CDFs in the coder):
the same code's two schemes side by side.
"""
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
from absl import app  # pylint: disable=wrong-import-position
from absl import flags  # pylint: disable=wrong-import-position
from absl import logging  # pylint: disable=wrong-import-position
from ml_collections import config_flags  # pylint: disable=wrong-import-position

from coding import bitsback  # pylint: disable=wrong-import-position
from coding import compressor  # pylint: disable=wrong-import-position
from common import data as data_lib  # pylint: disable=wrong-import-position
from common import runs  # pylint: disable=wrong-import-position
from common.errors import UserError  # pylint: disable=wrong-import-position
from bench import output  # pylint: disable=wrong-import-position

_WORKDIR = flags.DEFINE_string('workdir', '', 'A trained VAE (or --config).')
_CONFIG = config_flags.DEFINE_config_file('config', None, 'Untrained VAE config.')
_NPZ = flags.DEFINE_string('npz_path', '', 'Images: x_test (or x, images).')
_N = flags.DEFINE_integer('n', 10000, 'Images to code (the first n).')
_CHAINS = flags.DEFINE_integer('chains', 0, 'Chains; 0 = the default.')
_VERSION = flags.DEFINE_integer('version', compressor.VERSION,
                                'File format to write (2 or 3).')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed runs each way.')
_OUT = flags.DEFINE_string('out', '', 'Optional JSON output path.')


def _describe(workdir):
  """The run's config argument from its command.txt (no machine paths in
  the results), else the workdir's name."""
  try:
    with open(os.path.join(workdir, 'command.txt')) as f:
      args = f.read().split()
  except OSError:
    args = []
  configs = [a.split('=', 1)[1] for a in args if a.startswith('--config=')]
  return (f'a {configs[0]} workdir' if configs
          else os.path.basename(os.path.normpath(workdir)))


def _model():
  """(coder model, fingerprint, description)."""
  if _WORKDIR.value:
    model, fingerprint, _, _ = compressor.load_model(_WORKDIR.value)
    return model, fingerprint, _describe(_WORKDIR.value)
  config = _CONFIG.value
  shape, levels = data_lib.SHAPES[config.data.name][:2]
  x = np.zeros((2, *shape), np.uint8)
  objective = runs.family(config).build(
      config, data_lib.Dataset(config.data.name, x, x, levels))
  variables = jax.jit(objective.init)(jax.random.key(0), {'x': x})
  name = flags.FLAGS['config'].config_filename
  return bitsback.vae_coder_model(objective, variables), 'untrained', (
      f'{name} (untrained)')


def main(_):
  logging.set_verbosity(logging.WARNING)
  if (not _WORKDIR.value) == (_CONFIG.value is None) or not _NPZ.value:
    raise app.UsageError('give --npz_path and one of --workdir (a trained '
                         'VAE) or --config (an untrained one)')
  if _N.value < 1 or _REPEATS.value < 1:
    raise app.UsageError(f'--n and --repeats must be positive, got {_N.value} '
                         f'and {_REPEATS.value}')
  try:
    model, fingerprint, source = _model()
    images = compressor.check_images(
        compressor.read_npz_images(_NPZ.value)[:_N.value], model)
  except UserError as e:
    sys.exit(f'error: {e}')
  n = len(images)
  chains = _CHAINS.value or compressor.auto_chains(n)
  start = time.time()
  compress = lambda x: compressor.compress(model, fingerprint, x, chains,
                                          version=_VERSION.value)
  warm = compress(images[:chains])
  compressor.decompress(model, fingerprint, warm)
  compile_s = time.time() - start
  encode, decode = [], []
  for _ in range(_REPEATS.value):
    start = time.time()
    data = compress(images)
    encode.append(time.time() - start)
    start = time.time()
    decoded = compressor.decompress(model, fingerprint, data)
    decode.append(time.time() - start)
    if not np.array_equal(decoded, images):
      raise AssertionError('decoded images differ from the input')
  chains = compressor.read_header(data)[0]['chains']   # As used.
  rate = lambda t: n / np.asarray(t)
  result = {
      'model': source, 'device': jax.devices()[0].device_kind,
      'cpu_count': os.cpu_count(), 'images': n, 'chains': chains,
      'format_version': _VERSION.value,
      'levels': model.levels, 'bytes': len(data),
      'bits_per_dim': 8 * len(data) / images.size,
      'sha256': hashlib.sha256(data).hexdigest(),
      'first_call_s': compile_s,
      'encode_images_per_s': float(np.median(rate(encode))),
      'encode_images_per_s_range': [float(rate(encode).min()),
                                    float(rate(encode).max())],
      'decode_images_per_s': float(np.median(rate(decode))),
      'decode_images_per_s_range': [float(rate(decode).min()),
                                    float(rate(decode).max())],
      'load_average': os.getloadavg()[0],
  }
  print(json.dumps(result, indent=1))
  if _OUT.value:
    output.write_json(_OUT.value, result)


if __name__ == '__main__':
  app.run(main)
