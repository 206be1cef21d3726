"""Command line: lossless image compression with a trained VAE (BB-ANS).

  python -m coding compress --model=WORKDIR IN.npz OUT [--chains=100]
      [--bucket_bits=8] [--precision=24]
  python -m coding decompress --model=WORKDIR IN OUT.npz

IN.npz holds uint8 images [N, H, W(, C)] under the key x (or x_test, or
images). Bad input (wrong shape or dtype, a corrupt or truncated file, a
different model) stops with one `error:` line and exit status 1, and leaves
no output file behind.
"""
import argparse
import os
import sys
import time

from coding import compressor
from common.errors import UserError


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


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m coding')
  sub = parser.add_subparsers(dest='command', required=True)
  c = sub.add_parser('compress', help='images (.npz) -> compressed file')
  c.add_argument('--model', required=True, help='workdir of a trained VAE')
  c.add_argument('--chains', type=int, default=100)
  c.add_argument('--bucket_bits', type=int, default=8)
  c.add_argument('--precision', type=int, default=24)
  c.add_argument('input')
  c.add_argument('output')
  d = sub.add_parser('decompress', help='compressed file -> images (.npz)')
  d.add_argument('--model', required=True, help='workdir of the same VAE')
  d.add_argument('input')
  d.add_argument('output')
  args = parser.parse_args(argv)
  try:
    if args.command == 'compress':
      images = compressor.read_npz_images(args.input)
      model, fingerprint, _, _ = compressor.load_model(args.model)
      data = compressor.compress(model, fingerprint, images, args.chains,
                                 args.bucket_bits, args.precision,
                                 progress=_progress('compress'))
      compressor.write_bytes(args.output, data)
      dims = images.size
      print(f'{len(images)} images -> {len(data)} bytes '
            f'({8 * len(data) / dims:.4f} bits/dim)')
    else:
      if not os.path.exists(args.input):
        raise UserError(f'no such file: {args.input}')
      with open(args.input, 'rb') as f:
        data = f.read()
      model, fingerprint, _, _ = compressor.load_model(args.model)
      images = compressor.decompress(model, fingerprint, data,
                                     _progress('decompress'))
      compressor.write_npz(args.output, images)
      print(f'{len(images)} images -> {args.output}')
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
