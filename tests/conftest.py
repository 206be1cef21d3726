"""Test setup: repo root importable, a shared XLA compile cache per session,
and XLA's CPU compiler without its expensive optimizations."""
import os
import sys

# Most of the suite's time is XLA compiling tiny models, which then run for
# milliseconds: without LLVM's expensive passes the smoke runs compile about
# a third faster (PixelCNN++ 33 -> 20 s, Real NVP digits 22 -> 16 s). The
# programs compute the same functions; comparisons within a test (resumed
# vs uninterrupted, cached vs naive, 8 devices vs 1) run under the same
# flags. Set before JAX starts its backend (a level the caller set wins);
# subprocesses inherit it, and tests that add device counts append to it.
_FAST_COMPILE = ('--xla_backend_optimization_level=0 '
                 '--xla_llvm_disable_expensive_passes=true')
if '--xla_backend_optimization_level' not in os.environ.get('XLA_FLAGS', ''):
  os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' '
                             + _FAST_COMPILE).strip()

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

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
