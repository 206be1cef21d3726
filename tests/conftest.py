"""Test setup: repo root importable, a shared XLA compile cache per session."""
import os
import sys

import jax
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


@pytest.fixture(scope='session', autouse=True)
def _compile_cache(tmp_path_factory):
  # Smoke runs of the same config compile the same programs; the persistent
  # cache lets the resume test and the CLI tests reuse them.
  jax.config.update('jax_compilation_cache_dir',
                    str(tmp_path_factory.mktemp('xla_cache')))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.5)
  yield
