"""Test setup: repo root importable, a shared XLA compile cache per session."""
import os
import sys

import jax
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


_CACHE_ENV = ('JAX_COMPILATION_CACHE_DIR',
              'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS')


@pytest.fixture(scope='session', autouse=True)
def _compile_cache(tmp_path_factory):
  # Smoke runs of the same config compile the same programs; the persistent
  # cache lets the resume test and the CLI tests reuse them.
  # Subprocesses (the CLI tests) share it through the environment: they run
  # while their test waits, so the cache is never written by two processes
  # at once (one cache per xdist worker).
  cache = str(tmp_path_factory.mktemp('xla_cache'))
  jax.config.update('jax_compilation_cache_dir', cache)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.5)
  saved = {k: os.environ.get(k) for k in _CACHE_ENV}
  os.environ.update({'JAX_COMPILATION_CACHE_DIR': cache,
                     'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS': '0.5'})
  yield
  for k, v in saved.items():
    if v is None:
      os.environ.pop(k, None)
    else:
      os.environ[k] = v
