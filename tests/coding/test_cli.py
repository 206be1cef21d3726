"""The command-line compressor on a briefly trained VAE: a lossless round
trip, and bad input (truncated, corrupted, another model, wrong shape or
dtype) that fails with one error line and leaves no output behind."""
import os
import subprocess
import sys

import numpy as np
import pytest

import launch
from coding import __main__ as cli
from configs import vae_digits
from common import data as data_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  base = tmp_path_factory.mktemp('cli')
  models = []
  for seed in (0, 1):
    config = vae_digits.get_config('smoke,likelihood=logistic_mixture')
    config.seed = seed
    launch.run(config, str(base / f'vae{seed}'))
    models.append(str(base / f'vae{seed}'))
  images = data_lib.load(config.data).x_test[:12]
  np.savez(base / 'in.npz', x=images[..., 0])  # [N, 8, 8]: channel added.
  return base, models, images


def _leftovers(directory):
  return [f for f in os.listdir(directory) if f.startswith('.partial-')]


def test_round_trip_through_the_command_line(trained):
  base, (model, _), images = trained
  proc = subprocess.run(
      [sys.executable, '-m', 'coding', 'compress', f'--model={model}',
       '--chains=4', str(base / 'in.npz'), str(base / 'x.bb')],
      cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert 'bits/dim' in proc.stdout
  assert cli.main(['decompress', f'--model={model}', str(base / 'x.bb'),
                   str(base / 'out.npz')]) == 0
  with np.load(base / 'out.npz') as f:
    np.testing.assert_array_equal(f['x'], images)
  assert not _leftovers(base)


def _fails(argv, capsys, *fragments):
  assert cli.main(argv) == 1
  err = capsys.readouterr().err
  lines = [l for l in err.splitlines() if l.startswith('error:')]
  assert len(lines) == 1, err
  for fragment in fragments:
    assert fragment in lines[0], lines[0]


def test_bad_input_fails_cleanly(trained, capsys):
  base, (model, other), images = trained
  assert cli.main(['compress', f'--model={model}', '--chains=4',
                   str(base / 'in.npz'), str(base / 'y.bb')]) == 0
  data = (base / 'y.bb').read_bytes()
  (base / 'truncated.bb').write_bytes(data[:-7])
  corrupt = bytearray(data)
  corrupt[-20] ^= 0x01
  (base / 'corrupt.bb').write_bytes(bytes(corrupt))
  out = base / 'never.npz'
  _fails(['decompress', f'--model={model}', str(base / 'truncated.bb'),
          str(out)], capsys, 'truncated')
  _fails(['decompress', f'--model={model}', str(base / 'corrupt.bb'),
          str(out)], capsys, 'checksum')
  _fails(['decompress', f'--model={other}', str(base / 'y.bb'), str(out)],
         capsys, 'model')
  np.savez(base / 'wrong_shape.npz', x=np.zeros((3, 9, 9), np.uint8))
  np.savez(base / 'wrong_dtype.npz', x=images.astype(np.float32))
  _fails(['compress', f'--model={model}', str(base / 'wrong_shape.npz'),
          str(base / 'never.bb')], capsys, 'shape')
  _fails(['compress', f'--model={model}', str(base / 'wrong_dtype.npz'),
          str(base / 'never.bb')], capsys, 'uint8')
  assert not out.exists() and not (base / 'never.bb').exists()
  assert not _leftovers(base)
