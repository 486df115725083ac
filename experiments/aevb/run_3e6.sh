#!/bin/bash
# Figure 2 to 3e6 samples (issue 12): Frey Face N_z=2 (blocks split) and MNIST N_z=3, AEVB and
# wake-sleep, one curve after another, one process at a time. Rerunning this script resumes:
# finished curves are skipped and a stopped curve continues from its last evaluation point.
# 3e6/ has the paper's initialisation (std 0.01); 3e6-init0.1/ the std 0.1 reading, with which
# wake-sleep leaves the fixed point it is stuck at with std 0.01 (README.md here).
# Usage (from the repository root): nohup nice -n 19 bash experiments/aevb/run_3e6.sh >> LOG 2>&1 &
set -e
export OMP_NUM_THREADS=1 PYTHONPATH="${PYTHONPATH:-$PWD}" VAE_DATA_DIR="${VAE_DATA_DIR:-../shared/data}"
PY="${PYTHON:-.venv/bin/python}"
for run in "frey 2 aevb 0.01" "frey 2 wake-sleep 0.01" "mnist 3 aevb 0.01" \
           "frey 2 wake-sleep 0.1" "frey 2 aevb 0.1" "mnist 3 wake-sleep 0.1" \
           "mnist 3 aevb 0.1" "mnist 3 wake-sleep 0.01"; do
  set -- $run
  out=experiments/aevb/3e6; [ "$4" = 0.01 ] || out="experiments/aevb/3e6-init$4"
  echo "== $(date -u) $1 N_z=$2 $3 init std $4"
  resume=""; ls "$out/$1"_* >/dev/null 2>&1 && resume=--resume  # continue what is there
  "$PY" -m vae_lib aevb --dataset "$1" --latent-dims "$2" --method "$3" --init-std "$4" \
    --samples 3e6 --out "$out" --into-committed $resume
done
