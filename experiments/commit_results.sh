#!/bin/bash
# Commit the partial results of the issue-12 runs (CSVs, manifests, PNGs, IWAE weights, and the
# resume checkpoints under 5 MB), from the repository root on branch repro.
cd "$(git rev-parse --show-toplevel)"
git add experiments/aevb/3e6*/*.csv experiments/aevb/3e6*/*.json experiments/iwae 2>/dev/null
git add experiments/aevb/3e6*/*.png 2>/dev/null || true
for f in experiments/aevb/3e6*/*_checkpoint.pt experiments/iwae/*/iwae_weights.pt; do
  [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 5000000 ] && git add -f "$f"
done
git commit -qm "Partial results of the issue-12 runs, $(date -u '+%Y-%m-%d %H:%M UTC')" && git log --oneline -1
