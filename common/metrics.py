"""Run outputs: metrics.jsonl, TensorBoard events, progress line, PNG grids.

Keys follow `train/<name>` and `eval/<split>/<name>` with units in the name
(`bpd`, `nats`). Only process 0 writes.
"""
import contextlib
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
  """Appends scalars to workdir/metrics.jsonl and TensorBoard event files.

  A run resumed at `resume_step` (0 for a fresh start) first drops the
  records of later steps (written before the run was stopped, and about to
  be recomputed) and any line a kill cut short, TensorBoard is told to purge
  its later events, and a (step, key) pair already on disk is not written
  again, so none is ever recorded twice.
  """

  def __init__(self, workdir, resume_step=0):
    self.workdir = workdir
    self._active = jax.process_index() == 0
    self._tb = None
    self._seen = set()
    if self._active:
      os.makedirs(workdir, exist_ok=True)
      path = os.path.join(workdir, 'metrics.jsonl')
      self._seen = _keep_records_up_to(path, resume_step)
      self._jsonl = open(path, 'a')
      try:
        from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
        # Events after the resumed step (of any earlier attempt) are purged.
        self._tb = SummaryWriter(os.path.join(workdir, 'tensorboard'),
                                 purge_step=resume_step + 1)
      except ImportError:
        logging.warning('tensorboardX not installed: no TensorBoard events')

  def write_scalars(self, step, scalars):
    if not self._active:
      return
    # A key already on disk at this step (e.g. the final evaluation of a run
    # killed just before it ended) is not written twice.
    scalars = {k: float(v) for k, v in scalars.items()
               if (int(step), k) not in self._seen}
    if not scalars:
      return
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


def _keep_records_up_to(path, last_step):
  """Rewrites metrics.jsonl without records after `last_step` or torn lines.

  Returns the (step, key) pairs that remain.
  """
  if not os.path.exists(path):
    return set()
  kept, dropped = [], 0
  with open(path) as f:
    for line in f:
      try:
        record = json.loads(line)
        step = int(record['step'])
      except (ValueError, KeyError, TypeError):
        dropped += 1  # A line cut short by a kill.
        continue
      if step <= last_step:
        kept.append(record)
      else:
        dropped += 1
  if dropped:
    tmp = path + '.partial'
    with open(tmp, 'w') as f:
      f.writelines(json.dumps(r) + '\n' for r in kept)
    os.replace(tmp, path)
  return {(int(r['step']), k) for r in kept for k in r if k != 'step'}


class Progress:
  """Steps/s, examples/s and ETA of training alone.

  The clock starts at `start()`, which the trainer calls once the first step
  (and with it the compilation) has finished, and time spent inside
  `paused()` (evaluation, sampling, checkpoints) is left out, so the rate
  and ETA are those of the training steps.
  """

  def __init__(self, total_steps, batch_size, start_step):
    self.total_steps = total_steps
    self.batch_size = batch_size
    self._last_step, self._last_time = start_step, time.time()
    self._excluded = 0.0

  def start(self, step):
    self._last_step, self._last_time, self._excluded = step, time.time(), 0.0

  @contextlib.contextmanager
  def paused(self):
    begin = time.time()
    try:
      yield
    finally:
      self._excluded += time.time() - begin

  def update(self, step):
    """Rates since the previous update; None before any timed step."""
    now = time.time()
    elapsed = now - self._last_time - self._excluded
    steps = step - self._last_step
    if steps <= 0:
      return None
    self._last_step, self._last_time, self._excluded = step, now, 0.0
    steps_per_sec = steps / max(elapsed, 1e-9)
    eta = (self.total_steps - step) / steps_per_sec
    return {'steps_per_sec': steps_per_sec,
            'examples_per_sec': steps_per_sec * self.batch_size,
            'eta_sec': eta}


def format_progress(step, total, rates, scalars):
  shown = ' '.join(f'{k.split("/")[-1]}={v:.4g}' for k, v in scalars.items())
  if rates is None:
    return f'step {step}/{total} {shown} | first step (includes compiling)'
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
