"""Variational autoencoders: VAE, IWAE, IAF posteriors, semi-supervised M1/M2."""
