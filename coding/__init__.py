"""Lossless compression: vectorised rANS, composable codecs, and bits-back
coding (BB-ANS) with a trained VAE; `python -m coding` is the command line."""
