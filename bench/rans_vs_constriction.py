"""Our vectorised rANS against constriction's ANS coder, in the same run.

  pip install -r requirements-bench.txt
  python bench/rans_vs_constriction.py [--sizes=1000000,10000000]
      [--lanes=16,256,4096] [--out=bench/results/rans_vs_constriction.json]

Messages of i.i.d. symbols from one fixed 256-symbol categorical
distribution (a discretised Gaussian, about 6.3 bits of entropy). Ours: the
message is split over `lanes` rANS states (symbol i in lane i mod lanes),
pushed one lane-vector at a time with 24-bit tables; constriction: its
default AnsCoder (64-bit state, 32-bit words, 24-bit precision) through the
Python API, `encode_reverse` / `decode` on the whole array. Reported:
encode and decode throughput (symbols/s and MB/s of 8-bit symbols), and the
overhead of the compressed size over the exact information content
-sum log2 p(x) under the float64 model (so quantisation counts against both).
Every decode is checked against the input.
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

_SIZES = flags.DEFINE_list('sizes', ['1000000', '10000000'], 'Symbols.')
_LANES = flags.DEFINE_list('lanes', ['16', '256', '4096'], 'Our lane counts.')
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
  start = time.time()
  out = np.empty_like(grid)
  for t in reversed(range(steps)):
    slot = rans.peek(msg, lanes, precision)
    s = np.searchsorted(cum, slot, side='right')
    rans.pop(msg, starts[s], freqs[s], precision)
    out[t] = s
  decode_s = time.time() - start
  assert np.array_equal(out, grid), 'decode mismatch'
  return size_bits, encode_s, decode_s, steps * lanes


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
  return 32 * len(compressed), encode_s, decode_s, len(sym)


def main(_):
  probs = model_probs()
  rng = np.random.default_rng(0)
  rows = []
  for size in map(int, _SIZES.value):
    symbols = rng.choice(len(probs), size=size, p=probs).astype(np.int64)
    runs = [('constriction', None, constriction_run(symbols, probs))]
    for lanes in map(int, _LANES.value):
      runs.append(('ours', lanes, ours(symbols, probs, lanes, _PRECISION.value)))
    for lib, lanes, (bits, enc_s, dec_s, n) in runs:
      info = float(-np.sum(np.log2(probs[symbols[:n]])))
      row = {'lib': lib, 'lanes': lanes, 'symbols': n,
             'info_bits': round(info), 'size_bits': int(bits),
             'overhead_pct': round(100 * (bits - info) / info, 5),
             'encode_sym_per_s': round(n / enc_s), 'decode_sym_per_s': round(n / dec_s),
             'encode_MB_per_s': round(n / enc_s / 1e6, 2),
             'decode_MB_per_s': round(n / dec_s / 1e6, 2)}
      print(json.dumps(row), flush=True)
      rows.append(row)
  if _OUT.value:
    os.makedirs(os.path.dirname(_OUT.value) or '.', exist_ok=True)
    with open(_OUT.value, 'w') as f:
      json.dump({'precision': _PRECISION.value, 'results': rows}, f, indent=1)


if __name__ == '__main__':
  app.run(main)
