#!/usr/bin/env bash
# One accelerator check of the speed numbers users wait on, in under 8
# minutes on one GPU (its parts' time limits add up to 535 s), written to
# one JSON file:
#   * training images/s (and compile s) of every CIFAR-10 config and MNIST
#     Real NVP (bench/train_throughput.py: random data of the config's shape);
#   * PixelCNN++ sampling time at 32x32x3, cached against naive
#     (bench/pixelcnn_sampling.py; naive timed over a few steps, extrapolated
#     and marked so);
#   * BB-ANS images/s each way on binarized-MNIST-shaped images
#     (bench/bbans_throughput.py, untrained VAE of configs/vae_mnist.py);
#   * HMC ESS/s with 4,096 chains (bench/hmc_many_chains.py, ours only:
#     vmapped NUTS and ChEES-HMC).
#
#   bash bench/gpu_suite.sh [OUT_DIR]        # default: $OUT, else bench/results/gpu
#   SUITE_SMOKE=1 bash bench/gpu_suite.sh /tmp/suite   # the same steps, tiny, on a CPU
#
# Every part has its own time limit and records its exit status, so one
# failure (a missing package, a timeout) does not stop the others; the
# merged file is OUT_DIR/gpu_suite.json, with each part's log beside it.
# No dataset is read: the images are random (speed does not depend on them).
# Wheels missing on the machine (ml_collections, tensorboardX, arviz; numba
# and llvmlite for the coder) are installed from .gpu_carry/wheels when that
# folder exists: fill it here with `python bench/gpu_carry.py
# --python_version=3.X` (the device's `python3 --version`), then carry it.
set -u
out=${1:-${OUT:-bench/results/gpu}}
py=${PYTHON:-python3}
smoke=${SUITE_SMOKE:-0}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$(pwd)
if [ -d .gpu_carry/wheels ]; then
  $py -m pip install -q --no-index --find-links .gpu_carry/wheels \
    .gpu_carry/wheels/*.whl > "$out/pip.log" 2>&1 || true
fi

if [ "$smoke" = 1 ]; then   # Smoke-sized models: this checks the plumbing.
  arg=:smoke; steps=1; limit_train=300; images=64; chains=16; warmup=20; draws=20
  hmc_targets=eight_schools; naive_steps=2; n_samples=2
else
  arg=; steps=3; limit_train=65; images=10000; chains=4096; warmup=300; draws=100
  hmc_targets=std_gaussian:100,eight_schools,logistic_regression
  naive_steps=8; n_samples=16
fi

: > "$out/status.jsonl"
part() {  # part NAME SECONDS COMMAND...: runs it, logs it, records its status.
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  echo "{\"part\": \"$name\", \"rc\": $rc, \"timed_out\": $([ $rc = 124 ] && echo true || echo false), \"seconds\": $(( $(date +%s) - start ))}" >> "$out/status.jsonl"
}

merge() {
$py - "$out" <<'EOF'
import glob, json, os, sys
out = sys.argv[1]
suite = {'parts': [json.loads(l) for l in open(f'{out}/status.jsonl')]}
try:
  import jax
  suite['device'] = str(jax.devices()[0].device_kind)
  suite['jax'] = jax.__version__
except Exception as e:  # pylint: disable=broad-except
  suite['device'] = f'unknown ({e})'
for path in sorted(glob.glob(f'{out}/*.json')):
  name = os.path.basename(path)[:-5]
  if name != 'gpu_suite':
    try:
      suite[name] = json.load(open(path))
    except ValueError as e:
      suite[name] = f'unreadable: {e}'
json.dump(suite, open(f'{out}/gpu_suite.json', 'w'), indent=1)
print(json.dumps(suite['parts'], indent=1))
EOF
}

# Random images for the samplers' and the coder's loaders.
$py - "$out" "$images" <<'EOF'
import sys, numpy as np
out, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
cifar = lambda k: rng.integers(0, 256, (k, 32, 32, 3), dtype=np.uint8)
np.savez(f'{out}/cifar_random.npz', x_train=cifar(64), x_test=cifar(64),
         y_train=np.zeros(64, np.int64), y_test=np.zeros(64, np.int64))
np.savez(f'{out}/binary_random.npz',
         x_test=(rng.uniform(size=(n, 28, 28)) < 0.13).astype(np.uint8))
EOF

# Cheap parts first; the per-part limits add up to 535 s, so the whole
# script fits a 600-second command, and the merge above runs on exit even
# if the command itself is stopped.
trap merge EXIT
trap 'exit 143' TERM INT   # A stopped command still merges what it has.
part bbans 40 $py bench/bbans_throughput.py \
  --config=configs/vae_mnist.py:data=binarized_mnist \
  --npz_path="$out/binary_random.npz" --n=$images --repeats=2 \
  --out="$out/bbans.json"
part hmc_many_chains 80 $py bench/hmc_many_chains.py --many_chains=$chains \
  --many_targets=$hmc_targets --many_samplers=nuts,chees --many_seeds=1 \
  --many_warmup=$warmup --many_draws=$draws --many_out="$out/hmc_many_chains.json"
part sampling_pixelcnnpp 90 $py bench/pixelcnn_sampling.py \
  --config=configs/pixelcnnpp_cifar.py$arg \
  --config.data.npz_path="$out/cifar_random.npz" \
  --n=$n_samples --seeds=1 --naive_steps=$naive_steps --skip_fast \
  --out="$out/sampling_pixelcnnpp.json"
for config in realnvp_mnist vae_cifar10 gated_pixelcnn_cifar pixelcnnpp_cifar realnvp_cifar; do
  part "train_$config" "$limit_train" $py bench/train_throughput.py \
    --config=configs/$config.py$arg --steps=$steps --out="$out/train_$config.json"
done
