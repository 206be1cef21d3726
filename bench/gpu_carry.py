"""Fills .gpu_carry/wheels for `bench/gpu_suite.sh` on a device machine.

  python bench/gpu_carry.py --python_version=3.12 [--dir=.gpu_carry/wheels]

A device machine has its own Python, without a package registry and
without some of our requirements (ml_collections, tensorboardX, arviz, and
numba for the BB-ANS coder), and what it gets must travel as an ignored
folder within the carry limit (64 MiB with the working tree). This
downloads, without their dependencies, the pure-Python wheels and
numba + llvmlite built for the device's Python (ask it first: `python3
--version`), at the versions requirements.txt pins. llvmlite's wheel is 60 MB
with zip's usual deflate, too much beside the rest, so every wheel above
`--repack_mb` is rewritten with LZMA members (zip method 14, which
Python's zipfile, and so pip, reads): the same files and RECORD, about a
third smaller. Prints the total with the working tree against the limit.
"""
import os
import re
import subprocess
import sys
import zipfile

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT_BYTES = 64 << 20
PURE = ('ml_collections', 'tensorboardX', 'arviz')
COMPILED = ('numba', 'llvmlite')

_PYTHON = flags.DEFINE_string('python_version', '', "The device's Python, "
                              'e.g. 3.12 (from `python3 --version` there).')
_DIR = flags.DEFINE_string('dir', os.path.join(ROOT, '.gpu_carry', 'wheels'),
                           'Where the wheels go.')
_PLATFORM = flags.DEFINE_string('platform', 'manylinux_2_28_x86_64',
                                'Wheel platform of the device.')
_REPACK_MB = flags.DEFINE_float('repack_mb', 8.0,
                                'Rewrite wheels above this size with LZMA.')


def pinned(name):
  """name==version as requirements.txt pins it."""
  with open(os.path.join(ROOT, 'requirements.txt')) as f:
    for line in f:
      m = re.match(rf'\s*{re.escape(name)}\s*==\s*([^\s#;]+)', line, re.I)
      if m:
        return f'{name}=={m.group(1)}'
  raise SystemExit(f'error: {name} is not pinned in requirements.txt')


def pip_download(specs, extra=()):
  cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps',
         '--disable-pip-version-check', '--only-binary=:all:', '-d',
         _DIR.value, *extra, *specs]
  proc = subprocess.run(cmd, capture_output=True, text=True)
  if proc.returncode:
    lines = proc.stderr.strip().splitlines()
    errors = [l for l in lines if l.startswith('ERROR')] or lines[-1:]
    raise SystemExit('error: pip download failed: '
                     + (' '.join(errors) or f'exit status {proc.returncode}'))


def repack_lzma(path):
  """Rewrites a wheel with LZMA members (same names, bytes and order)."""
  tmp = path + '.tmp'
  try:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(
        tmp, 'w', compression=zipfile.ZIP_LZMA) as dst:
      for info in src.infolist():
        dst.writestr(info, src.read(info), compress_type=zipfile.ZIP_LZMA)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def tree_bytes():
  """What travels besides the carry: tracked and untracked, not ignored."""
  files = subprocess.run(
      ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      cwd=ROOT, check=True, capture_output=True).stdout.split(b'\0')
  return sum(os.path.getsize(os.path.join(ROOT, f.decode()))
             for f in files if f and os.path.isfile(os.path.join(ROOT, f.decode())))


def main(_):
  if not re.fullmatch(r'3\.\d+', _PYTHON.value):
    raise SystemExit('error: give --python_version=3.X, the device\'s Python')
  os.makedirs(_DIR.value, exist_ok=True)
  for name in os.listdir(_DIR.value):   # gpu_suite.sh installs every wheel
    if name.endswith(('.whl', '.tmp')):  # here: none for another Python.
      os.remove(os.path.join(_DIR.value, name))
  pip_download([pinned(n) for n in PURE])
  pip_download([pinned(n) for n in COMPILED],
               ['--python-version', _PYTHON.value, '--implementation', 'cp',
                '--platform', _PLATFORM.value])
  total = tree_bytes()
  for name in sorted(os.listdir(_DIR.value)):
    path = os.path.join(_DIR.value, name)
    if name.endswith('.whl') and os.path.getsize(path) > _REPACK_MB.value * 2**20:
      before = os.path.getsize(path)
      repack_lzma(path)
      print(f'{name}: {before / 2**20:.1f} -> '
            f'{os.path.getsize(path) / 2**20:.1f} MiB (LZMA)')
    total += os.path.getsize(path)
  print(f'carry with the tree: {total / 2**20:.1f} MiB of '
        f'{LIMIT_BYTES / 2**20:.0f} MiB'
        + ('' if total <= LIMIT_BYTES else ': TOO LARGE, drop something'))


if __name__ == '__main__':
  app.run(main)
