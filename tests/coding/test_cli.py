"""The command-line compressor on a briefly trained VAE: a lossless round
trip that restores the input's shape, and bad input (truncated, corrupted
body or header, another model, wrong shape or dtype, bad options, bad or
existing outputs) that fails with one error line and leaves no output
behind; options, outputs and headers fail before the model is loaded."""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import launch
from coding import __main__ as cli
from coding import compressor
from common import data as data_lib
from common.errors import ConfigError
from configs import vae_digits

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
    # The input's shape comes back: [N, 8, 8], not the coded [N, 8, 8, 1].
    assert f['x'].shape == images.shape[:-1]
    np.testing.assert_array_equal(f['x'], images[..., 0])
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


@pytest.fixture
def no_model(monkeypatch):
  """Fails the test if anything gets as far as loading the model."""
  def load_model(workdir):
    raise AssertionError(f'loaded the model {workdir} before failing')
  monkeypatch.setattr(cli.compressor, 'load_model', load_model)


@pytest.fixture(scope='module')
def compressed(trained):
  """A file compressed from the [N, 8, 8] images, and its bytes."""
  base, (model, _), _ = trained
  assert cli.main(['compress', f'--model={model}', '--chains=4',
                   str(base / 'in.npz'), str(base / 'fixture.bb')]) == 0
  return base / 'fixture.bb', (base / 'fixture.bb').read_bytes()


def test_force_overwrites_and_shapes_come_back(trained, compressed, capsys):
  base, (model, _), images = trained
  path, data = compressed
  # Existing outputs are refused without --force, for both commands.
  (base / 'old.bb').write_bytes(b'old')
  (base / 'old.npz').write_bytes(b'old')
  _fails(['compress', f'--model={model}', str(base / 'in.npz'),
          str(base / 'old.bb')], capsys, 'exists', '--force')
  _fails(['decompress', f'--model={model}', str(path), str(base / 'old.npz')],
         capsys, 'exists', '--force')
  assert (base / 'old.bb').read_bytes() == b'old'
  assert (base / 'old.npz').read_bytes() == b'old'
  # With --force they are replaced; [N, 8, 8, 1] input stays 4-D.
  np.savez(base / 'in4.npz', x=images)
  assert cli.main(['compress', f'--model={model}', '--chains=3', '--force',
                   str(base / 'in4.npz'), str(base / 'old.bb')]) == 0
  assert cli.main(['decompress', f'--model={model}', '--force',
                   str(base / 'old.bb'), str(base / 'old.npz')]) == 0
  with np.load(base / 'old.npz') as f:
    assert f['x'].shape == images.shape
    np.testing.assert_array_equal(f['x'], images)
  assert not _leftovers(base)


@pytest.mark.parametrize('n,chains', [(1, 1), (7, 1), (499, 1), (500, 2),
                                      (1003, 1), (1000, 4), (10_000, 40),
                                      (10_007, 1), (20_000, 80),
                                      (1_000_000, 100)])
def test_the_default_number_of_chains_follows_the_file_size(n, chains):
  # One chain per 250 images, at most 100, lowered to a divisor of n
  # (1003 = 17 * 59 has none in 2..4; 10,007 is prime).
  assert compressor.auto_chains(n) == chains


def test_the_default_chains_are_used_and_recorded(trained):
  base, (model, _), images = trained
  coder, fingerprint, _, _ = compressor.load_model(model)
  data = compressor.compress(coder, fingerprint, images)
  header, _ = compressor.read_header(data)
  assert header['chains'] == compressor.auto_chains(len(images)) == 1
  np.testing.assert_array_equal(
      compressor.decompress(coder, fingerprint, data), images)


def test_older_formats_still_decode(trained):
  # Format 3 codes with quantized CDFs; format 2 with whole pmf tables (the
  # same layout); format 1 is format 2 without the header CRC and the
  # original shape. Each decodes with its own scheme.
  base, (model, _), images = trained
  coder, fingerprint, _, _ = compressor.load_model(model)
  files = {v: compressor.compress(coder, fingerprint, images, 4, version=v)
           for v in (2, 3)}
  for v, data in files.items():
    assert compressor.read_header(data)[0]['version'] == v
    np.testing.assert_array_equal(
        compressor.decompress(coder, fingerprint, data), images)
  assert files[2][-100:] != files[3][-100:]   # Other intervals, other bits.
  with pytest.raises(ConfigError, match='format 2 or 3'):
    compressor.compress(coder, fingerprint, images, 4, version=1)
  header, body = compressor.read_header(files[2])
  del header['original_shape'], header['version']
  raw = json.dumps(header).encode()
  old = compressor.MAGIC + struct.pack('<BI', 1, len(raw)) + raw + body
  (base / 'v1.bb').write_bytes(old)
  assert cli.main(['decompress', f'--model={model}', str(base / 'v1.bb'),
                   str(base / 'v1.npz')]) == 0
  with np.load(base / 'v1.npz') as f:
    np.testing.assert_array_equal(f['x'], images)  # The coded [N, 8, 8, 1].


def test_bad_outputs_fail_before_any_work(trained, compressed, capsys, no_model):
  base, (model, _), _ = trained
  path, _ = compressed
  for command, source in (('compress', base / 'in.npz'), ('decompress', path)):
    for force in ([], ['--force']):
      _fails([command, f'--model={model}', *force, str(source),
              str(base / 'missing_dir' / 'out')], capsys, 'does not exist')
      _fails([command, f'--model={model}', *force, str(source), str(base)],
             capsys, 'is a directory')
  assert not (base / 'missing_dir').exists()
  assert not _leftovers(base)


@pytest.mark.parametrize('option,fragment', [
    ('--chains=0', '--chains'), ('--chains=-3', '--chains'),
    ('--chains=x', '--chains'), ('--chains=1.5', '--chains'),
    ('--bucket_bits=0', '--bucket_bits'), ('--bucket_bits=17', '--bucket_bits'),
    ('--precision=33', '--precision'), ('--precision=8', '--precision'),
    ('--nonsense', 'nonsense'),
])
def test_bad_options_fail_before_any_work(trained, capsys, no_model, option,
                                          fragment):
  base, (model, _), _ = trained
  _fails(['compress', f'--model={model}', option, str(base / 'in.npz'),
          str(base / 'never.bb')], capsys, fragment)
  assert not (base / 'never.bb').exists()


def _flip(data, index, bit=0x01):
  out = bytearray(data)
  out[index] ^= bit
  return bytes(out)


def test_damaged_header_is_one_clear_error(trained, compressed, capsys,
                                           no_model):
  base, (model, _), _ = trained
  _, data = compressed
  start = data.index(b'{')
  end = data.index(b'}', start) + 1
  header = data[start:end]
  out = base / 'never.npz'
  damaged = [
      _flip(data, start + header.index(b'"chains"') + 2),   # A key's name.
      _flip(data, start + header.index(b'"seed"') + 8),     # A value.
      _flip(data, start + header.index(b'"shape"') + 10),
      _flip(data, end - 2),                                  # The fingerprint.
  ]
  for i, bad in enumerate(damaged):
    (base / f'header{i}.bb').write_bytes(bad)
    _fails(['decompress', f'--model={model}', str(base / f'header{i}.bb'),
            str(out)], capsys, 'header', 'corrupt')
  # The CRC also covers the header length.
  (base / 'length.bb').write_bytes(_flip(data, len(cli.compressor.MAGIC) + 1))
  _fails(['decompress', f'--model={model}', str(base / 'length.bb'),
          str(out)], capsys, 'corrupt')
  assert not out.exists() and not _leftovers(base)


def test_header_fields_are_validated():
  # A header with a valid CRC but missing or mistyped fields (e.g. written
  # by a buggy encoder) is refused before any decoding.
  import json
  import struct
  import zlib
  from coding import compressor
  from coding import rans
  good = {'shape': [4, 8, 8, 1], 'original_shape': [4, 8, 8],
          'dtype': 'uint8', 'chains': 2, 'bucket_bits': 8, 'precision': 24,
          'initial_words': 10, 'seed': 0, 'levels': 17, 'model': 'abc'}

  def file_with(header):
    raw = json.dumps(header).encode()
    prefix = compressor.MAGIC + struct.pack('<BI', compressor.VERSION, len(raw))
    return (prefix + struct.pack('<I', zlib.crc32(prefix + raw)) + raw
            + rans.to_bytes(rans.random_message(2, 1)))

  assert compressor.parse(file_with(good))[0] == dict(
      good, version=compressor.VERSION)
  for key, value in [('chains', None), ('chains', 0), ('chains', '2'),
                     ('chains', 3), ('seed', -1), ('seed', 1.5),
                     ('precision', 40), ('bucket_bits', True),
                     ('shape', [4, 8]), ('original_shape', [4, 64, 2]),
                     ('dtype', 'float32'), ('model', 7), ('levels', 1)]:
    header = dict(good)
    if value is None:
      del header[key]
    else:
      header[key] = value
    with pytest.raises(rans.CodingError, match='corrupt file header'):
      compressor.parse(file_with(header))


def test_npy_input_format_option_and_umask_permissions(trained, capsys):
  # An .npy array is read like an .npz; --format=2 writes format 2; outputs
  # get 0666 less the umask (not mkstemp's 0600), as `open` would give.
  base, (model, _), images = trained
  np.save(base / 'in.npy', images[:5, ..., 0])
  old = os.umask(0o022)
  try:
    assert cli.main(['compress', f'--model={model}', '--chains=3',
                     '--format=2', str(base / 'in.npy'),
                     str(base / 'f2.bb')]) == 0
    assert 'lowered to 1' in capsys.readouterr().err   # 5 images, 3 chains.
    assert os.stat(base / 'f2.bb').st_mode & 0o777 == 0o644
    os.umask(0o077)
    assert cli.main(['decompress', f'--model={model}', str(base / 'f2.bb'),
                     str(base / 'f2.npz')]) == 0
    assert os.stat(base / 'f2.npz').st_mode & 0o777 == 0o600
  finally:
    os.umask(old)
  data = (base / 'f2.bb').read_bytes()
  assert compressor.read_header(data)[0]['version'] == 2
  with np.load(base / 'f2.npz') as f:
    np.testing.assert_array_equal(f['x'], images[:5, ..., 0])
  coder, fingerprint, _, _ = compressor.load_model(model)
  np.testing.assert_array_equal(   # Any bytes-like file contents.
      compressor.decompress(coder, fingerprint, memoryview(data)),
      images[:5, ..., 0])


def test_misdirected_inputs_are_named(trained, capsys):
  base, (model, _), images = trained
  never = str(base / 'never.bb')
  (base / 'text.txt').write_text('not an array')
  _fails(['compress', f'--model={model}', str(base / 'text.txt'), never],
         capsys, 'not an .npz or .npy file')
  _fails(['compress', f'--model={model}', str(base), never], capsys,
         'is a directory')
  _fails(['decompress', f'--model={model}', str(base), str(base / 'n.npz')],
         capsys, 'is a directory')
  # The shape as given, and what the model codes.
  np.save(base / 'odd.npy', np.zeros((3, 7, 8), np.uint8))
  _fails(['compress', f'--model={model}', str(base / 'odd.npy'), never],
         capsys, '[3, 7, 8]', '[N, 8, 8, 1]')
  # 17 levels need 5-bit tables.
  _fails(['compress', f'--model={model}', '--bucket_bits=2', '--precision=4',
          str(base / 'in.npz'), never], capsys, '--precision=4', 'at least 5')
  # A workdir that is not a VAE and has no model section: a bits-back run,
  # whose VAE is named.
  bbans = base / 'bbans_run'
  bbans.mkdir()
  (bbans / 'config.json').write_text(json.dumps({'entry': 'coding.run'}))
  _fails(['compress', f'--model={bbans}', str(base / 'in.npz'), never],
         capsys, 'not a VAE', str(bbans / 'vae'))
  assert not os.path.exists(never) and not _leftovers(base)
