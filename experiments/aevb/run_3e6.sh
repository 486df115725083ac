#!/bin/bash
# Figure 2 to 3e6 samples: Frey Face N_z=2 (blocks split) and MNIST N_z=3, AEVB and wake-sleep,
# one after another in one process at a time. Rerunning this script resumes: finished curves
# are skipped and a stopped curve continues from its last evaluation point.
# Usage (from the repository root): nohup nice -n 19 bash experiments/aevb/run_3e6.sh >> LOG 2>&1 &
set -e
export OMP_NUM_THREADS=1 PYTHONPATH="${PYTHONPATH:-$PWD}" VAE_DATA_DIR="${VAE_DATA_DIR:-../shared/data}"
PY="${PYTHON:-.venv/bin/python}"
for run in "frey 2 aevb" "frey 2 wake-sleep" "mnist 3 aevb" "mnist 3 wake-sleep"; do
  set -- $run
  echo "== $(date -u) $1 N_z=$2 $3"
  "$PY" -m vae_lib aevb --dataset "$1" --latent-dims "$2" --method "$3" --samples 3e6 \
    --out experiments/aevb/3e6
done
