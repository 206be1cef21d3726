"""What every benchmark does with its `--out` flag: the results as JSON."""
import json
import os


def write_json(path, result):
  """Writes `result` to `path` (indent 1), creating its directory."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with open(path, 'w') as f:
    json.dump(result, f, indent=1)
