"""Errors that stop a run with a one-line reason instead of a traceback.

`launch.py` prints `error: <message>` for these and exits non-zero; anything
else is a bug and keeps its traceback.
"""


class UserError(ValueError):
  """A problem the user can fix: bad config, missing data, diverged run.

  A ValueError, so library users catch it as the ordinary exception it is;
  messages name config keys (data.npz_path), never launcher flags.
  """


class ConfigError(UserError):
  """An invalid config value or an impossible combination of values."""


class DataError(UserError):
  """A dataset that cannot be found, read or validated."""


class NonFiniteLossError(UserError):
  """Training produced a NaN/inf loss or gradient."""


class CheckpointError(UserError):
  """A checkpoint that cannot be read or does not match the current model."""
