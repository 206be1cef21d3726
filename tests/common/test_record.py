"""The run record through the entry path (`launch.run`): written only after
validation, earlier records kept on a restart, and a workdir holding
another experiment refused before anything in it is overwritten."""
import importlib
import json
import os

import pytest

import launch
from common import record
from common.errors import ConfigError, DataError


def _config(name, arg='smoke'):
  return importlib.import_module(f'configs.{name}').get_config(arg)


def _metrics(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f]


def _read(path):
  with open(path) as f:
    return f.read()


def test_run_record_written_after_validation_and_kept(tmp_path):
  workdir = str(tmp_path / 'w')
  # Data that does not exist: nothing is created.
  bad = _config('realnvp_2d')
  bad.data.name, bad.data.npz_path = 'npz', str(tmp_path / 'none.npz')
  with pytest.raises(DataError, match='not found'):
    launch.run(bad, workdir, 'cmd bad')
  assert not os.path.exists(workdir)
  launch.run(_config('realnvp_2d'), workdir, 'cmd 1')
  assert json.loads(_read(os.path.join(workdir, 'config.json')))['total_steps'] == 4
  assert _read(os.path.join(workdir, 'command.txt')) == 'cmd 1\n'
  # Restarting with other overrides keeps the earlier record.
  longer = _config('realnvp_2d')
  longer.total_steps = 6
  launch.run(longer, workdir, 'cmd 2')
  assert json.loads(_read(os.path.join(workdir, 'config.1.json')))['total_steps'] == 4
  assert _read(os.path.join(workdir, 'command.1.txt')) == 'cmd 1\n'
  assert json.loads(_read(os.path.join(workdir, 'config.json')))['total_steps'] == 6
  assert _read(os.path.join(workdir, 'command.txt')) == 'cmd 2\n'
  assert [r['step'] for r in _metrics(workdir) if 'train/loss' in r] == list(range(1, 7))
  # Another model in the same workdir: one line naming every differing key,
  # and the record is left as it was.
  other = _config('realnvp_2d')
  other.total_steps = 6
  hidden, couplings = other.model.hidden, other.model.num_couplings
  other.model.hidden, other.model.num_couplings = hidden + 8, couplings + 2
  with pytest.raises(ConfigError) as info:
    launch.run(other, workdir, 'cmd 3')
  message = str(info.value)
  assert f'model.hidden: {hidden} (saved) vs {hidden + 8} (now)' in message
  assert (f'model.num_couplings: {couplings} (saved) vs {couplings + 2} (now)'
          in message)
  assert '2 key(s)' in message and '\n' not in message
  assert _read(os.path.join(workdir, 'command.txt')) == 'cmd 2\n'
  assert not os.path.exists(os.path.join(workdir, 'config.2.json'))


def test_a_workdir_of_another_experiment_is_refused_untouched(tmp_path):
  # Entries without a train state (HMC) are checked too: another entry, or
  # another target, stops before anything in the workdir is overwritten.
  workdir = tmp_path / 'w'
  workdir.mkdir()
  for saved, now, fragment in [
      (_config('vae_digits'), _config('hmc_banana'), 'entry: vae.train (saved)'),
      (_config('hmc_banana'), _config('hmc_funnel'), 'target: banana (saved)'),
      (_config('hmc_banana'), _config('vi_eight_schools'), 'entry: hmc.run'),
  ]:
    (workdir / 'config.json').write_text(saved.to_json_best_effort(indent=1))
    (workdir / 'final_metrics.json').write_text('{"kept": 1}')
    with pytest.raises(ConfigError) as info:
      launch.run(now, str(workdir), 'cmd')
    assert 'holds another experiment' in str(info.value)
    assert fragment in str(info.value) and '\n' not in str(info.value)
    assert record.saved_config(str(workdir)) == record.as_dict(saved)
    assert (workdir / 'final_metrics.json').read_text() == '{"kept": 1}'
    assert sorted(os.listdir(workdir)) == ['config.json', 'final_metrics.json']
  # The same experiment with other run settings passes the check.
  longer = _config('hmc_banana')
  longer.num_draws += 10
  (workdir / 'config.json').write_text(
      _config('hmc_banana').to_json_best_effort(indent=1))
  record.check_same_experiment(longer, str(workdir))


def test_a_missing_saved_config_is_named_in_a_mismatch(tmp_path):
  error = record.mismatch_error(_config('realnvp_2d'), str(tmp_path), 'shapes')
  assert 'no config.json' in str(error) and 'code changed' not in str(error)
