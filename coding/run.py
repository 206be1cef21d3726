"""Entry for bits-back configs (`config.entry = 'coding.run'`).

Compresses the whole test split with BB-ANS and a trained VAE (training one
first, from `config.vae_config`, when `config.model_workdir` is empty),
decodes it again and checks every image, and reports bits/dim against the
model's negative ELBO on the same images and against gzip, bz2, lzma, PNG
and lossless WebP. Writes `test.bbans` (the compressed test split) and
`final_metrics.json` into the workdir.
"""
import bz2
import gzip
import importlib
import io
import json
import lzma
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
from PIL import features

from coding import compressor
from common import data as data_lib
from common import metrics as metrics_lib
from common import record
from common import runs
from common.errors import ConfigError


def _train_vae(config, workdir):
  """Trains the VAE `config.vae_config` ('name' or 'name:arg') into workdir/vae."""
  name, _, arg = config.vae_config.partition(':')
  module = importlib.import_module(f'configs.{name}')
  vae_config = module.get_config(arg or None)
  vae_config.data.npz_path = config.vae_npz_path or config.data.npz_path
  # Coding compares against the ELBO only; the k=5000 importance-sampled
  # NLL of the VAE's own final evaluation is not needed here.
  vae_config.model.eval_k = vae_config.model.eval_chunk = 1
  vae_dir = os.path.join(workdir, 'vae')
  metrics_lib.log('no model_workdir: training %s into %s', config.vae_config,
                  vae_dir)
  # The launcher's entry path (it records the config beside the run, which
  # load_model rebuilds the VAE from); a rerun resumes. No command line: the
  # launcher's command is this run's, not the VAE's.
  runs.run_entry(vae_config, vae_dir)
  return vae_dir


def baselines(images):
  """Bits/dim of general-purpose and image codecs on the same images."""
  dims = images.size
  raw = np.ascontiguousarray(images).tobytes()
  out = {'gzip_bpd': 8 * len(gzip.compress(raw, 9)) / dims,
         'bz2_bpd': 8 * len(bz2.compress(raw, 9)) / dims,
         'lzma_bpd': 8 * len(lzma.compress(raw, preset=9)) / dims}
  levels_max = int(images.max())
  two_d = images[..., 0] if images.shape[-1] == 1 else images
  def image_bytes(fmt, **kw):
    total = 0
    for img in two_d:
      if levels_max <= 1:
        pil = Image.fromarray((img * 255).astype(np.uint8)).convert('1')
      else:
        pil = Image.fromarray(img)
      buf = io.BytesIO()
      pil.save(buf, fmt, **kw)
      total += len(buf.getvalue())
    return 8 * total / dims
  out['png_bpd'] = image_bytes('PNG', optimize=True)
  if features.check('webp'):
    out['webp_bpd'] = image_bytes('WEBP', lossless=True, quality=100, method=6)
  return out


def _neg_elbo_bpd(objective, variables, images, batch_size=500):
  """The model's negative ELBO on exactly the coded images, in bits/dim.

  The encoder sees what the coder's posterior sees, the likelihood's
  `encoder_input` of the images (binary pixels for a Bernoulli decoder, bin
  centres for a logistic mixture), not a fresh dynamic binarization.
  """
  lik = objective.likelihood

  @jax.jit
  def neg_elbo(x, rng):
    return -objective.elbo(variables, lik.encoder_input(x), x, rng)

  total = 0.0
  for i in range(0, len(images), batch_size):
    total += float(jnp.sum(neg_elbo(images[i:i + batch_size],
                                    jax.random.key(i))))
  return total / len(images) / np.log(2) / images[0].size


def main(config, workdir):
  model_dir = config.model_workdir or _train_vae(config, workdir)
  model, fingerprint, objective, variables = compressor.load_model(model_dir)
  # Only the ELBO is compared: skip the k=5000 importance-sampled bound.
  objective.eval_k, objective.eval_chunk = 1, 1
  dataset = data_lib.load(config.data)
  images = dataset.x_test
  if config.max_images:
    images = images[:config.max_images]
  images = compressor.check_images(images, model)
  n, dims = len(images), images.size
  record.commit(config, workdir)  # Model and images are valid: record the run.

  def show(done, total, label='encode'):
    if done == total or done % max(1, total // 10) == 0:
      metrics_lib.log('%s: batch %d/%d', label, done, total)

  start = time.time()
  data = compressor.compress(model, fingerprint, images, config.chains or None,
                             config.bucket_bits, config.precision,
                             seed=config.seed, progress=show)
  encode_s = time.time() - start
  compressor.write_bytes(os.path.join(workdir, 'test.bbans'), data)
  start = time.time()
  decoded = compressor.decompress(model, fingerprint, data,
                                  lambda d, t: show(d, t, 'decode'))
  decode_s = time.time() - start
  if not np.array_equal(decoded, images):
    raise ConfigError('lossless check failed: decoded images differ')
  header, _ = compressor.read_header(data)
  initial_bits = 64 * header['chains'] + 32 * header['initial_words']
  final = {
      'bbans_bpd': 8 * len(data) / dims,
      'bbans_net_bpd': (8 * len(data) - initial_bits) / dims,
      'neg_elbo_bpd': float(_neg_elbo_bpd(objective, variables, images)),
      'num_images': n, 'chains': header['chains'],
      'encode_s': encode_s, 'decode_s': decode_s,
      'lossless': True, **baselines(images)}
  metrics_lib.log('final: %s', ' '.join(
      f'{k}={v:.5g}' if isinstance(v, float) else f'{k}={v}'
      for k, v in final.items()))
  if jax.process_index() == 0:
    with open(os.path.join(workdir, 'final_metrics.json'), 'w') as f:
      json.dump(final, f, indent=1)
  return final
