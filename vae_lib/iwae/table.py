"""Burda et al.'s run into a results folder: resumable, one row per stage, a manifest.

The folder holds iwae_checkpoint.pt (everything needed to resume), iwae_weights.pt (the model
alone, about 2 MB, loadable with `vae_lib.load_checkpoint`), iwae_stages.csv (one row per
finished stage) and iwae_manifest.json (command, config, machine, sessions, progress).
`python -m vae_lib iwae train` runs `train_row`; `book/13_log_likelihood.ipynb` reads the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..checkpoint import save_checkpoint
from ..evaluation import SUBSET_SEED
from ..files import atomic_write_text, csv_text
from ..runkit.folder import UsageError
from ..runkit.records import read_manifest, start_session, write_manifest
from .config import IWAEConfig, schedule
from .training import (
    EVAL_NOISE_SEED,
    TEST_BINARIZATION_SEED,
    load_mnist,
    new_state,
    restore_state,
    state_payload,
    train,
)

CHECKPOINT, WEIGHTS = "iwae_checkpoint.pt", "iwae_weights.pt"
CSV, MANIFEST = "iwae_stages.csv", "iwae_manifest.json"
CSV_COLUMNS = ("stage", "lr", "passes", "epochs_total", "train_objective", "test_images",
               "test_k", "test_nll", "wall_seconds", "test_subset", "test_nll_se",
               "train_images", "train_subset", "train_nll", "train_nll_se")
# rows written before the evaluation protocol (stages 0-5 of the committed run) were scored on
# the first N test images; they keep that label
LEGACY_SUBSET = "first {n} of 10000"


def holds_run(folder: Path) -> bool:
    """True if `folder` has a resume checkpoint of this recipe: what the --out policy asks
    before it lets `iwae train` write there."""
    return (folder / CHECKPOINT).exists()


def stages_csv(rows: list[dict[str, Any]]) -> str:
    """The per-stage rows as CSV text (columns `CSV_COLUMNS`; experiments/iwae/README.md,
    'Files', says what each holds)."""
    def number(r: dict[str, Any], key: str) -> str:
        return "" if r.get(key) is None else f"{r[key]:.4f}"

    return csv_text(CSV_COLUMNS, ([
        r["stage"], f"{r['lr']:.6g}", r["passes"], r["epochs_total"],
        f"{r['train_objective']:.4f}", r["test_images"], r["test_k"], f"{r['test_nll']:.4f}",
        f"{r['wall_seconds']:.1f}", r.get("test_subset", LEGACY_SUBSET.format(n=r["test_images"])),
        number(r, "test_nll_se"), r.get("train_images", ""), r.get("train_subset", ""),
        number(r, "train_nll"), number(r, "train_nll_se")] for r in rows))


def test_protocol(config: IWAEConfig) -> str:
    """How the test NLL of each row is computed, in words, for the manifest (the protocol
    changed once during the run; each row's test_subset says which one it used)."""
    return (f"-L_{config.eval_k}, noise seed {EVAL_NOISE_SEED}, with the standard error between"
            f" images; a seeded random subset (vae_lib.evaluation, seed {SUBSET_SEED}) of"
            f" {config.stage_test_images} test images after stages 0..{config.stages - 2} and"
            f" {config.final_test_images} after the last, with a training subset drawn and"
            " binarized alike; rows without test_subset (written before 2026-12-01) used the"
            " first N test images (column test_subset says which)")


def new_manifest(config: IWAEConfig, out: Path) -> dict[str, Any]:
    """What the folder records about the run before it starts: command, config and settings
    (each session then adds its machine), so the committed table says how it was made."""
    return {
        "command": config.command_line(str(out)), "config": asdict(config),
        "settings": {"model": "784-200-200-50 tanh, mirrored decoder, Bernoulli, Glorot init",
                     "optimizer": "Adam (0.9, 0.999, eps 1e-4), moments kept across stages",
                     "schedule": [{"passes": p, "lr": lr} for p, lr in schedule(config)],
                     "binarization": "dynamic (every minibatch); test set binarized once, seed "
                                     f"{TEST_BINARIZATION_SEED}",
                     "test_nll": test_protocol(config)},
        "sessions": []}


def train_row(config: IWAEConfig, out: Path, resume: bool,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or continue) the recipe in `out`, checkpointing as `train` asks.

    `out` has passed the --out policy already (`vae_lib.runkit.folder.output_folder`).
    """
    if resume and not holds_run(out):
        raise UsageError(f"--resume: no {CHECKPOINT} in {out}")
    state = restore_state(config, out / CHECKPOINT) if resume else new_state(config)
    manifest = (read_manifest(out / MANIFEST) if resume else None) or new_manifest(config, out)
    manifest["settings"]["test_nll"] = test_protocol(config)
    start_session(manifest, from_pass=state["epochs_total"])

    def save(state: dict, stage_done: bool) -> None:
        save_checkpoint(state["model"], out / CHECKPOINT, **state_payload(config, state))
        if stage_done:
            save_checkpoint(state["model"], out / WEIGHTS, iwae_config=asdict(config),
                            rows=state["rows"])
        atomic_write_text(out / CSV, stages_csv(state["rows"]))
        manifest.update(progress={"stages_done": state["stage"], "of": config.stages,
                                  "passes_done": state["epochs_total"],
                                  "passes_total": sum(p for p, _ in schedule(config)),
                                  "finished": state["stage"] == config.stages,
                                  "wall_seconds": round(state["saved_wall_seconds"], 1)})
        write_manifest(out / MANIFEST, manifest)

    return train(config, state, load_mnist(config), save, log)
