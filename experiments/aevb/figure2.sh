#!/bin/bash
# Figure 2 of Kingma & Welling (2013) in full (issue 19): every latent size of the paper, AEVB and
# wake-sleep, to 3e6 training samples, on the evaluation protocol of vae_lib.evaluation (MNIST: all
# 10,000 test images and a seeded random 10,000 of the training images; Frey Face: both splits of
# the blocks split, whole). One curve after another, one process, one thread. Rerunning the script
# resumes: finished curves are skipped, a stopped curve continues from its last evaluation point,
# and a larger SAMPLES extends finished curves (a resume, not a new run).
#   figure2/        the main figure: init std 0.01 for both methods, seed 0
#   figure2-seed1/, figure2-seed2/   AEVB, MNIST J = 3 and 20: the spread between seeds
#   figure2-init0.1/                 the other reading of N(0, 0.01): MNIST J = 3, Frey J = 2
#                                    (with std 0.01, Frey Face's wake-sleep never leaves the point
#                                    where the code is ignored; with 0.1 it does)
# Usage (from the repository root):
#   nohup nice -n 19 bash experiments/aevb/figure2.sh >> /tmp/repro-logs/figure2.log 2>&1 &
set -e
export OMP_NUM_THREADS=1 PYTHONPATH="${PYTHONPATH:-$PWD}" VAE_DATA_DIR="${VAE_DATA_DIR:-../shared/data}"
PY="${PYTHON:-.venv/bin/python}"
SAMPLES="${SAMPLES:-3e6}"
# data set, latent size, method, init std, seed; the order puts the curves the chapter tests first
for run in "mnist 3 aevb 0.01 0" "frey 2 aevb 0.01 0" "mnist 3 wake-sleep 0.01 0" \
           "frey 2 wake-sleep 0.01 0" "frey 2 aevb 0.1 0" "frey 2 wake-sleep 0.1 0" \
           "mnist 200 aevb 0.01 0" "mnist 20 aevb 0.01 0" \
           "mnist 200 wake-sleep 0.01 0" "mnist 20 wake-sleep 0.01 0" \
           "frey 20 aevb 0.01 0" "frey 20 wake-sleep 0.01 0" "mnist 5 aevb 0.01 0" \
           "mnist 10 aevb 0.01 0" "frey 5 aevb 0.01 0" "frey 10 aevb 0.01 0" \
           "mnist 5 wake-sleep 0.01 0" "mnist 10 wake-sleep 0.01 0" \
           "frey 5 wake-sleep 0.01 0" "frey 10 wake-sleep 0.01 0" \
           "mnist 3 aevb 0.01 1" "mnist 3 aevb 0.01 2" "mnist 20 aevb 0.01 1" \
           "mnist 20 aevb 0.01 2" "mnist 3 aevb 0.1 0" "mnist 3 wake-sleep 0.1 0"; do
  set -- $run
  out=experiments/aevb/figure2
  [ "$4" = 0.01 ] || out="$out-init$4"
  [ "$5" = 0 ] || out="$out-seed$5"
  echo "== $(date -u '+%F %T') $1 J=$2 $3 init std $4 seed $5 -> $out"
  resume=""; ls "$out/$1"_* >/dev/null 2>&1 && resume=--resume  # continue what is there
  "$PY" -m vae_lib aevb --dataset "$1" --latent-dims "$2" --method "$3" --init-std "$4" \
    --seed "$5" --samples "$SAMPLES" --out "$out" --into-committed $resume
done
