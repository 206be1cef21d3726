"""Command line: lossless image compression with a trained VAE (BB-ANS).

  python -m coding compress --model=WORKDIR IN.npz OUT [--chains=N]
      [--bucket_bits=8] [--precision=24] [--format=3] [--force]
  python -m coding decompress --model=WORKDIR IN OUT.npz [--force]

IN.npz holds uint8 images [N, H, W(, C)] under the key x (or x_test, or
images), or IN.npy holds them as its one array; decompressing gives them
back under x in the same shape. --format=2 writes the previous file format
(whole pmf tables) for readers with older code. An
existing OUT is only overwritten with --force. Options and the output path
are checked before the model is loaded or anything is coded, and a
compressed file's header before its model is loaded. Bad input (bad
options, an unwritable output, wrong shape or dtype, a corrupt or truncated
file, a different model) stops with one `error:` line and exit status 1,
and leaves no output file behind.
"""
import argparse
import os
import sys
import time

from coding import compressor
from common.errors import UserError


class _UsageError(UserError):
  """A command line argparse rejects (reported like every other error)."""


class _Parser(argparse.ArgumentParser):

  def error(self, message):
    raise _UsageError(f'{message} (see `{self.prog} --help`)')


def _progress(label):
  start = time.time()

  def show(done, total):
    if done == total or done % max(1, total // 20) == 0:
      rate = done / max(time.time() - start, 1e-9)
      print(f'\r{label}: {done}/{total} batches ({rate:.1f}/s)', end='',
            file=sys.stderr, flush=True)
      if done == total:
        print(file=sys.stderr)
  return show


def _parser():
  parser = _Parser(prog='python -m coding')
  sub = parser.add_subparsers(dest='command', required=True)
  c = sub.add_parser('compress', help='images (.npz) -> compressed file')
  c.add_argument('--model', required=True, help='workdir of a trained VAE')
  c.add_argument('--chains', type=int, default=None,
                 help='parallel chains (a positive integer; lowered to a '
                 'divisor of the number of images). Default: one per '
                 f'{compressor.IMAGES_PER_CHAIN} images, at most '
                 f'{compressor.MAX_CHAINS}, so that small files do not pay '
                 'many chains\' initial bits')
  c.add_argument('--bucket_bits', type=int, default=8,
                 help='latent discretisation, 1..16 bits')
  c.add_argument('--precision', type=int, default=24,
                 help='bits of the coding tables, bucket_bits+1..32')
  c.add_argument('--format', type=int, default=compressor.VERSION,
                 choices=(2, compressor.VERSION),
                 help='file format: 3 (quantized CDFs) or 2 (whole pmf '
                 'tables, for older readers; slower)')
  d = sub.add_parser('decompress', help='compressed file -> images (.npz)')
  d.add_argument('--model', required=True, help='workdir of the same VAE')
  for p in (c, d):
    p.add_argument('--force', action='store_true',
                   help='overwrite an existing output')
    p.add_argument('input')
    p.add_argument('output')
  return parser


def _read(path):
  if os.path.isdir(path):
    raise UserError(f'{path} is a directory, not a compressed file')
  if not os.path.isfile(path):
    raise UserError(f'no such file: {path}')
  try:
    with open(path, 'rb') as f:
      return f.read()
  except OSError as e:
    raise UserError(f'cannot read {path}: {e.strerror}') from e


def main(argv=None):
  try:
    args = _parser().parse_args(argv)
    compressor.check_output(args.output, args.force)
    if args.command == 'compress':
      compressor.check_options(args.chains, args.bucket_bits, args.precision)
      images = compressor.read_npz_images(args.input)
      model, fingerprint, _, _ = compressor.load_model(args.model)
      n = len(images) if images.ndim else 0
      if args.chains and n and n % args.chains:
        print(f'note: --chains={args.chains} lowered to '
              f'{compressor.largest_divisor_at_most(n, args.chains)}, a '
              f'divisor of the {n} images', file=sys.stderr)
      data = compressor.compress(model, fingerprint, images, args.chains,
                                 args.bucket_bits, args.precision,
                                 progress=_progress('compress'),
                                 version=args.format)
      compressor.write_bytes(args.output, data, args.force)
      dims = images.size
      print(f'{len(images)} images -> {len(data)} bytes '
            f'({8 * len(data) / dims:.4f} bits/dim)')
    else:
      data = _read(args.input)
      compressor.parse(data)   # A damaged file fails before the model loads.
      model, fingerprint, _, _ = compressor.load_model(args.model)
      images = compressor.decompress(model, fingerprint, data,
                                     _progress('decompress'))
      compressor.write_npz(args.output, images, args.force)
      print(f'{len(images)} images -> {args.output}')
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
