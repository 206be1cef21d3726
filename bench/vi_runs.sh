#!/bin/bash
# VI runs for docs/RESULTS.md. Skips finished runs.
# Outputs: runs/vi/<name>/ and runs/vi/times.txt.
cd "$(dirname "$0")/.."
mkdir -p runs/vi
run() { name=$1; shift; [ -f runs/vi/$name/final_metrics.json ] && return; start=$(date +%s); .venv/bin/python launch.py "$@" --workdir=runs/vi/$name >> runs/vi/$name.log 2>&1; rc=$?; echo "$name $(( $(date +%s) - start )) s rc=$rc" >> runs/vi/times.txt; }
run linear_regression_fullrank --config=configs/vi_linear_regression.py
run linear_regression_meanfield --config=configs/vi_linear_regression.py:family=meanfield
run logistic_regression_bbvi --config=configs/vi_logistic_regression.py
run logistic_regression_advi --config=configs/vi_logistic_regression.py:estimator=reparam,optimizer=adam,lr=0.01,samples=8,stl=True
run logistic_regression_fullrank --config=configs/vi_logistic_regression.py:estimator=reparam,family=fullrank,optimizer=adam,lr=0.01,samples=8,stl=True
run eight_schools_fullrank --config=configs/vi_eight_schools.py
run eight_schools_meanfield --config=configs/vi_eight_schools.py:family=meanfield
[ -f runs/vi/vae_digits/final_metrics.json ] || .venv/bin/python launch.py --config=configs/vae_digits.py --workdir=runs/vi/vae_digits > runs/vi/vae_digits.log 2>&1
run vae_latent_fullrank --config=configs/vi_vae_latent.py --config.vae.workdir=runs/vi/vae_digits
run vae_latent_meanfield --config=configs/vi_vae_latent.py:family=meanfield --config.vae.workdir=runs/vi/vae_digits
for a in cavi em svi; do
  run gmm_iris_$a --config=configs/vi_gmm.py:algorithm=$a
done
run lda_lee --config=configs/vi_lda.py --config.corpus.path=../shared/data/text/lee_background.cor
run lda_head500 --config=configs/vi_lda.py --config.corpus.path=../shared/data/text/head500.noblanks.cor --config.corpus.stop_words=
echo done >> runs/vi/times.txt
