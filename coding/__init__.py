"""Lossless compression: vectorised rANS (arXiv:1311.2540), composable
codecs, and bits-back coding (BB-ANS, arXiv:1901.04866) with a trained VAE;
`python -m coding` is the command line.

  from coding import load_model, compress, decompress
  model, fingerprint, _, _ = load_model('runs/vae8bit')
  data = compress(model, fingerprint, images)            # bytes
  assert (decompress(model, fingerprint, data) == images).all()
"""
from coding.bitsback import BBANS
from coding.compressor import compress, decompress, load_model
from coding.rans import CodingError, Message

__all__ = ['BBANS', 'CodingError', 'Message', 'compress', 'decompress',
           'load_model']
