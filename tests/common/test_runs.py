"""load_run's errors and the data stand-in it rebuilds models on (the
round trip through a trained run is in tests/test_library.py)."""
import json
import os

import pytest

from common import data as data_lib
from common import runs
from common.errors import ConfigError
from configs import realnvp_digits


def test_load_run_errors_name_the_setting(tmp_path):
  with pytest.raises(ConfigError, match="model.m1_workdir='.*none' has no "
                     'config.json; train M1 first'):
    runs.load_run(str(tmp_path / 'none'), 'model.m1_workdir', 'train M1 first')
  os.makedirs(tmp_path / 'hmc')
  (tmp_path / 'hmc' / 'config.json').write_text(json.dumps(
      {'entry': 'hmc.run', 'data': {}}))
  with pytest.raises(ConfigError, match="entry 'hmc.run' trains no model"):
    runs.load_run(str(tmp_path / 'hmc'))
  (tmp_path / 'hmc' / 'config.json').write_text('{not json')
  with pytest.raises(ConfigError, match='not valid JSON'):
    runs.load_run(str(tmp_path / 'hmc'))


def test_spec_has_the_shapes_without_the_data():
  config = realnvp_digits.get_config('smoke').data
  for name, (shape, levels, n_train, n_test) in data_lib.SHAPES.items():
    config.name = name
    ds = data_lib.spec(config)
    assert ds.spec_only and ds.example_shape == shape and ds.levels == levels
    assert len(ds.x_train) == n_train and len(ds.x_test) == n_test
    assert ds.x_train.base is not None and not ds.x_train.any()  # A view of one zero.
  digits = data_lib.load(realnvp_digits.get_config('smoke').data)
  assert (digits.example_shape, digits.levels, len(digits.x_train),
          len(digits.x_test)) == data_lib.SHAPES['digits']
