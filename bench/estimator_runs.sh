#!/bin/bash
# Budget runs for docs/RESULTS.md: every estimator, same model, seed and budget.
# Outputs: runs/est/<name>/ and runs/est/times.txt (wall seconds per run).
# Skips runs that already have final_metrics.json (a killed run resumes).
cd "$(dirname "$0")/.."
NPZ=--config.data.npz_path=../shared/data/binarized_mnist.npz
COMMON="--config.total_epochs=20 --config.model.eval_k=200 --config.model.eval_chunk=100 --config.eval_every_steps=0 --config.log_every_steps=500"
mkdir -p runs/est
run() { name=$1; shift; [ -f runs/est/$name/final_metrics.json ] && return; start=$(date +%s); .venv/bin/python launch.py "$@" $NPZ $COMMON --workdir=runs/est/$name >> runs/est/$name.log 2>&1; rc=$?; echo "$name $(( $(date +%s) - start )) s rc=$rc" >> runs/est/times.txt; }
for e in reinforce nvil muprop rebar relax arm disarm concrete straight_through_gumbel; do
  run linear1_$e --config=configs/sbn_binarized_mnist.py:layers=linear1,estimator=$e
done
for e in gumbel_softmax straight_through_gumbel reinforce; do
  run catvae_$e --config=configs/catvae_binarized_mnist.py:estimator=$e
done
run linear3_vimco --config=configs/sbn_binarized_mnist.py:layers=linear3,estimator=vimco,samples=5
run helmholtz_ws --config=configs/helmholtz_binarized_mnist.py
run helmholtz_rws5 --config=configs/helmholtz_binarized_mnist.py:samples=5,q=both
for e in nvil muprop rebar relax concrete; do
  run linear2_$e --config=configs/sbn_binarized_mnist.py:layers=linear2,estimator=$e
done
for e in nvil rebar relax concrete; do
  run nonlinear_$e --config=configs/sbn_binarized_mnist.py:layers=nonlinear,estimator=$e
done
echo done >> runs/est/times.txt
