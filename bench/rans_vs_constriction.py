"""Our rANS coders against constriction's ANS coder, in the same run.

  pip install -r requirements-bench.txt
  python bench/rans_vs_constriction.py [--sizes=1000000,10000000]
      [--lanes=16,256,4096] [--compiled_lanes=1,4,8,16,256,4096]
      [--out=bench/results/rans_vs_constriction.json]

Messages of i.i.d. symbols from one fixed 256-symbol categorical
distribution (a discretised Gaussian, about 6.3 bits of entropy), split
over `lanes` rANS states (symbol i in lane i mod lanes) with 24-bit tables.
Ours twice: the numpy reference (`rans.push` / `rans.pop`, one lane-vector
per call) and the compiled coder (`rans.push_columns` / `pop_columns`, the
whole message in one call; numba's compile time is reported apart, from a
first call on a tiny message). Where both run with the same lanes their
serialised messages must be byte for byte identical, and the run stops
otherwise. constriction: its default AnsCoder (64-bit state, 32-bit words,
24-bit precision) through the Python API, `encode_reverse` / `decode` on the
whole array. Reported: encode and decode throughput (symbols/s and MB/s of
8-bit symbols; table lookups included for every coder), and the overhead of
the compressed size over the exact information content -sum log2 p(x)
under the float64 model (so quantisation counts against both). Every
decode is checked against the input. Times: constriction and the compiled
coder the median of `--repeats` runs, the numpy reference one run (it is
slow).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # pylint: disable=g-import-not-at-top
from absl import app
from absl import flags
from scipy import stats

from coding import codecs
from coding import rans
from bench import output  # pylint: disable=wrong-import-position

_SIZES = flags.DEFINE_list('sizes', ['1000000', '10000000'], 'Symbols.')
_LANES = flags.DEFINE_list('lanes', ['16', '256', '4096'],
                           'Lane counts of the numpy reference.')
_COMPILED_LANES = flags.DEFINE_list('compiled_lanes',
                                    ['1', '4', '8', '16', '256', '4096'],
                                    'Lane counts of the compiled coder.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed runs (median).')
_PRECISION = flags.DEFINE_integer('precision', 24, 'Table bits (ours).')
_OUT = flags.DEFINE_string('out', '', 'Optional JSON output path.')


def model_probs(k=256):
  x = np.arange(k)
  p = stats.norm.pdf(x, loc=k / 2, scale=20.0) + 1e-6
  return p / p.sum()


def ours(symbols, probs, lanes, precision):
  n = len(symbols)
  steps = n // lanes
  table = codecs.quantize_pmf(probs, precision)
  starts = np.concatenate([[0], np.cumsum(table)[:-1]]).astype(np.uint64)
  freqs = table.astype(np.uint64)
  cum = np.cumsum(table)
  grid = symbols[:steps * lanes].reshape(steps, lanes)
  start = time.time()
  msg = rans.empty_message(lanes)
  for t in range(steps):
    s = grid[t]
    rans.push(msg, starts[s], freqs[s], precision)
  encode_s = time.time() - start
  size_bits = msg.num_bits()
  encoded = rans.to_bytes(msg)
  start = time.time()
  out = np.empty_like(grid)
  for t in reversed(range(steps)):
    slot = rans.peek(msg, lanes, precision)
    s = np.searchsorted(cum, slot, side='right')
    rans.pop(msg, starts[s], freqs[s], precision)
    out[t] = s
  decode_s = time.time() - start
  assert np.array_equal(out, grid), 'decode mismatch'
  return size_bits, encode_s, decode_s, steps * lanes, encoded


def ours_compiled(symbols, probs, lanes, precision):
  """The compiled coder: one push_columns call, one pop_columns call."""
  cum = rans.cumulative(codecs.quantize_pmf(probs, precision))
  steps = len(symbols) // lanes
  grid = symbols[:steps * lanes].reshape(steps, lanes)
  start = time.time()
  msg = rans.empty_message(lanes)
  rans.push_columns(msg, grid, cum, precision)
  encode_s = time.time() - start
  size_bits, data = msg.num_bits(), rans.to_bytes(msg)
  start = time.time()
  msg, out = rans.pop_columns(msg, cum, precision, shape=(steps, lanes))
  decode_s = time.time() - start
  assert np.array_equal(out, grid), 'decode mismatch'
  assert msg == rans.empty_message(lanes)
  return size_bits, encode_s, decode_s, steps * lanes, data


def compile_seconds(probs, precision):
  """numba's first call (compile, or load from its cache) on a tiny message."""
  start = time.time()
  ours_compiled(np.zeros(64, np.int64), probs, 4, precision)
  return time.time() - start


def constriction_run(symbols, probs):
  import constriction  # pylint: disable=g-import-not-at-top
  model = constriction.stream.model.Categorical(probs, perfect=False)
  sym = symbols.astype(np.int32)
  start = time.time()
  coder = constriction.stream.stack.AnsCoder()
  coder.encode_reverse(sym, model)
  compressed = coder.get_compressed()
  encode_s = time.time() - start
  start = time.time()
  decoded = constriction.stream.stack.AnsCoder(compressed).decode(model, len(sym))
  decode_s = time.time() - start
  assert np.array_equal(decoded, sym), 'decode mismatch'
  return 32 * len(compressed), encode_s, decode_s, len(sym), None


def _median_run(fn, *args):
  """fn's result with its encode and decode times replaced by the medians
  of `--repeats` runs."""
  runs = [fn(*args) for _ in range(_REPEATS.value)]
  bits, _, _, n, data = runs[0]
  return (bits, float(np.median([r[1] for r in runs])),
          float(np.median([r[2] for r in runs])), n, data)


def main(_):
  probs = model_probs()
  precision = _PRECISION.value
  sizes = list(map(int, _SIZES.value))
  most = max(map(int, _LANES.value + _COMPILED_LANES.value))
  if _REPEATS.value < 1 or min(sizes) < most:
    raise app.UsageError(f'need --repeats >= 1 and every size at least the '
                         f'most lanes ({most}); got --sizes={_SIZES.value} '
                         f'--repeats={_REPEATS.value}')
  rng = np.random.default_rng(0)
  rows = []
  compile_s = compile_seconds(probs, precision)
  print(json.dumps({'compiled_coder_first_call_s': round(compile_s, 3)}))
  for size in sizes:
    symbols = rng.choice(len(probs), size=size, p=probs).astype(np.int64)
    runs = [('constriction', None, _median_run(constriction_run, symbols, probs))]
    reference = {}
    for lanes in map(int, _LANES.value):
      run = ours(symbols, probs, lanes, precision)   # One run: it is slow.
      reference[lanes] = run[-1]
      runs.append(('ours numpy', lanes, run))
    for lanes in map(int, _COMPILED_LANES.value):
      run = _median_run(ours_compiled, symbols, probs, lanes, precision)
      if lanes in reference and run[-1] != reference[lanes]:
        raise AssertionError(f'compiled and numpy messages differ ({lanes} lanes)')
      runs.append(('ours compiled', lanes, run))
    for lib, lanes, (bits, enc_s, dec_s, n, data) in runs:
      info = float(-np.sum(np.log2(probs[symbols[:n]])))
      row = {'lib': lib, 'lanes': lanes, 'symbols': n,
             'info_bits': round(info), 'size_bits': int(bits),
             'overhead_pct': round(100 * (bits - info) / info, 5),
             'encode_sym_per_s': round(n / enc_s), 'decode_sym_per_s': round(n / dec_s),
             'encode_MB_per_s': round(n / enc_s / 1e6, 2),
             'decode_MB_per_s': round(n / dec_s / 1e6, 2),
             'bytes_equal_numpy': (lib == 'ours compiled' and lanes in reference)
                                  or None}
      print(json.dumps(row), flush=True)
      rows.append(row)
  if _OUT.value:
    output.write_json(_OUT.value, {
        'precision': precision, 'repeats': _REPEATS.value,
        'compiled_coder_first_call_s': compile_s, 'results': rows})


if __name__ == '__main__':
  app.run(main)
