#!/bin/bash
# Commit what the long runs have written so far: the Figure 2 folders (CSVs, manifests, prior samples,
# per-image bounds and the resume checkpoints) and the IWAE run (rows, manifest, weights and its resume
# checkpoint), so that a fresh clone continues them. Run from anywhere in the checkout, as often as
# you like (every ~100 passes of the long IWAE stages); it commits only these paths.
set -e
cd "$(git rev-parse --show-toplevel)"
paths=()
for f in experiments/aevb/figure2*/* experiments/iwae/*/*; do
  [ -f "$f" ] && paths+=("$f")
done
[ ${#paths[@]} -eq 0 ] && exit 0
git add -f -- "${paths[@]}"  # the checkpoints are *.pt, which .gitignore skips elsewhere
git commit -qm "Long runs: results so far, $(date -u '+%Y-%m-%d %H:%M UTC')" -- "${paths[@]}" \
  && git log --oneline -1 || echo "nothing new to commit"
