"""The no-latent baselines on Frey Face's tail and blocks splits (README.md here)."""

import json
import sys

from vae_lib.baselines import baseline_table
from vae_lib.data import load_dataset

out = {}
for floor in (1e-4, 1e-3):
    for kind in ("tail", "blocks"):
        tr = load_dataset("frey", "train", frey_split=kind).images
        te = load_dataset("frey", "test", frey_split=kind).images
        rows = baseline_table(tr, te, floor=floor)
        out[f"{kind}, floor {floor:g}"] = rows
        print(f"{kind:6s} floor={floor:g} n_train={len(tr)} n_test={len(te)}")
        for r in rows:
            print(f"   {r['model']:20s} train {r['train']:8.1f} test {r['test']:8.1f}"
                  f" gap {r['gap']:6.1f}")
json.dump(out, open(sys.argv[1], "w"), indent=1)
