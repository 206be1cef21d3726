"""Run outputs: metrics.jsonl, TensorBoard events, progress line, PNG grids.

Keys follow `train/<name>` and `eval/<split>/<name>` with units in the name
(`bpd`, `nats`). Only process 0 writes.
"""
import json
import os
import sys
import time

import jax
import numpy as np
from absl import logging
from PIL import Image


def log(message, *args):
  """A timestamped progress line on stderr (process 0 only)."""
  if jax.process_index() == 0:
    text = message % args if args else message
    print(time.strftime('%H:%M:%S ') + text, file=sys.stderr, flush=True)


class MetricWriter:
  """Appends scalars to workdir/metrics.jsonl and TensorBoard event files."""

  def __init__(self, workdir):
    self.workdir = workdir
    self._active = jax.process_index() == 0
    self._tb = None
    if self._active:
      os.makedirs(workdir, exist_ok=True)
      self._jsonl = open(os.path.join(workdir, 'metrics.jsonl'), 'a')
      try:
        from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
        self._tb = SummaryWriter(os.path.join(workdir, 'tensorboard'))
      except ImportError:
        logging.warning('tensorboardX not installed: no TensorBoard events')

  def write_scalars(self, step, scalars):
    if not self._active:
      return
    scalars = {k: float(v) for k, v in scalars.items()}
    self._jsonl.write(json.dumps({'step': int(step), **scalars}) + '\n')
    self._jsonl.flush()
    if self._tb is not None:
      for k, v in scalars.items():
        self._tb.add_scalar(k, v, int(step))
      self._tb.flush()

  def write_image(self, step, tag, image):
    """Saves a uint8 [H, W, C] image as workdir/images/<tag>_<step>.png."""
    if not self._active:
      return None
    path = os.path.join(self.workdir, 'images', f'{tag}_{int(step)}.png')
    save_png(path, image)
    if self._tb is not None:
      self._tb.add_image(tag, image, int(step), dataformats='HWC')
    return path

  def close(self):
    if self._active:
      self._jsonl.close()
      if self._tb is not None:
        self._tb.close()


class Progress:
  """Logs steps/s, examples/s and ETA since the previous report."""

  def __init__(self, total_steps, batch_size, start_step):
    self.total_steps = total_steps
    self.batch_size = batch_size
    self._last_step, self._last_time = start_step, time.time()

  def update(self, step):
    now = time.time()
    steps_per_sec = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    eta = (self.total_steps - step) / max(steps_per_sec, 1e-9)
    return {'steps_per_sec': steps_per_sec,
            'examples_per_sec': steps_per_sec * self.batch_size,
            'eta_sec': eta}


def format_progress(step, total, rates, scalars):
  shown = ' '.join(f'{k.split("/")[-1]}={v:.4g}' for k, v in scalars.items())
  eta = rates['eta_sec']
  return (f'step {step}/{total} {shown} | {rates["steps_per_sec"]:.2f} steps/s '
          f'{rates["examples_per_sec"]:.0f} ex/s ETA {int(eta // 3600)}h'
          f'{int(eta % 3600 // 60):02d}m{int(eta % 60):02d}s')


def image_grid(images, levels, ncols=None):
  """Tiles uint8 [N, H, W, C] images with `levels` values into one RGB image."""
  images = np.asarray(images)
  n, h, w, c = images.shape
  scaled = np.round(images.astype(np.float32) * (255.0 / max(levels - 1, 1)))
  scaled = np.clip(scaled, 0, 255).astype(np.uint8)
  if c == 1:
    scaled = np.repeat(scaled, 3, axis=-1)
  ncols = ncols or int(np.ceil(np.sqrt(n)))
  nrows = int(np.ceil(n / ncols))
  grid = np.full((nrows * (h + 1) + 1, ncols * (w + 1) + 1, 3), 255, np.uint8)
  for i in range(n):
    r, col = divmod(i, ncols)
    grid[1 + r * (h + 1):1 + r * (h + 1) + h,
         1 + col * (w + 1):1 + col * (w + 1) + w] = scaled[i]
  return grid


def save_png(path, image, min_size=256):
  """Writes a uint8 [H, W, 3] image, upscaled by an integer factor if tiny."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  factor = max(1, int(np.ceil(min_size / max(image.shape[:2]))))
  img = Image.fromarray(np.asarray(image, np.uint8))
  if factor > 1:
    img = img.resize((img.width * factor, img.height * factor), Image.NEAREST)
  img.save(path)
