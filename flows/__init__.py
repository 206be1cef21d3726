"""Normalizing flows: bijectors, Real NVP, and their training objective."""
