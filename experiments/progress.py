"""How far the long runs got, from what they wrote: the progress tables of the experiments' READMEs.

Reads every Figure 2 folder's manifests and CSVs (`experiments/aevb/figure2*/`) and the IWAE run's
manifest and stage rows, and prints the two tables; with --write it puts them into
experiments/aevb/README.md and experiments/iwae/README.md between their `<!-- progress -->`
markers, so the READMEs say exactly what the committed files hold.

    python experiments/progress.py [--write]
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
SIDE_RUNS = {"figure2-sleep-means"}  # stopped by hand: evidence, not in figure2.sh
MARK = re.compile(r"(<!-- progress -->\n).*?(<!-- /progress -->)", re.S)


def bound(point: dict, split: str) -> str:
    """A curve point's bound with its standard error, where the CSV has one."""
    value = f"{float(point[split + '_bound']):.2f}"
    return f"{value} ± {float(point[split + '_se']):.2f}" if point.get(split + "_se") else value


def figure2_rows() -> list[str]:
    """One Markdown row per curve of every figure2*/ folder."""
    rows = []
    for folder in sorted(HERE.glob("aevb/figure2*/")):
        for path in sorted(folder.glob("*_manifest.json")):
            manifest = json.loads(path.read_text())
            config = manifest["config"]
            for nz, run in sorted(manifest["runs"].items(), key=lambda kv: int(kv[0])):
                curve = list(csv.DictReader(open(folder / run["csv"])))
                if not curve:
                    continue
                last = curve[-1]
                state = ("yes" if run.get("finished") else "no: stopped, a side run"
                         if folder.name in SIDE_RUNS else "no: rerun figure2.sh")
                rows.append(f"| `{folder.name}/` | {manifest['dataset']} | {config['method']}"
                            f" | {nz} | {config['init_std']:g} | {config['seed']} |"
                            f" {int(last['samples_seen']):,} | {bound(last, 'train')} |"
                            f" {bound(last, 'test')} | {float(last['wall_seconds']):.0f} |"
                            f" {state} |")
    return rows


def figure2_table() -> str:
    head = ("| folder | data | method | J | init std | seed | samples reached | train bound |"
            " test bound | wall (s) | finished |\n"
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    return "\n".join([head, *figure2_rows()])


def iwae_table() -> str:
    folder = HERE / "iwae" / "vae_k1_b100"
    progress = json.loads((folder / "iwae_manifest.json").read_text())["progress"]
    rows = list(csv.DictReader(open(folder / "iwae_stages.csv")))
    lines = [f"{progress['stages_done']} of {progress['of']} stages finished,"
             f" {progress['passes_done']:,} of {progress['passes_total']:,} passes checkpointed"
             f" ({progress['wall_seconds'] / 3600:.2f} h of wall time, training and"
             " evaluation).", "",
             "| stage | lr | passes | passes so far | train L_1 (last pass) | test NLL (-L_5000) |"
             " test images | wall (s) |", "|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        se = f" ± {float(r['test_nll_se']):.2f}" if r.get("test_nll_se") else ""
        lines.append(f"| {r['stage']} | {float(r['lr']):.3g} | {r['passes']} |"
                     f" {r['epochs_total']} | {float(r['train_objective']):.2f} |"
                     f" **{float(r['test_nll']):.2f}**{se} |"
                     f" {r['test_subset']} | {float(r['wall_seconds']):.0f} |")
    return "\n".join(lines)


def write(readme: Path, table: str) -> None:
    text = readme.read_text()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    new, count = MARK.subn(lambda m: f"{m[1]}As of {stamp}.\n\n{table}\n{m[2]}", text)
    if count != 1:
        sys.exit(f"{readme}: expected one <!-- progress --> ... <!-- /progress --> block")
    readme.write_text(new)


if __name__ == "__main__":
    tables = {HERE / "aevb" / "README.md": figure2_table(),
              HERE / "iwae" / "README.md": iwae_table()}
    for readme, table in tables.items():
        if "--write" in sys.argv:
            write(readme, table)
        print(table, end="\n\n")
