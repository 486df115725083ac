"""`python -m vae_lib iwae train | eval`: Burda et al.'s recipe, resumable, and L_K of a checkpoint.

The output folder holds iwae_checkpoint.pt (everything needed to resume), iwae_weights.pt
(the model alone, about 2 MB, loadable with `vae_lib.load_checkpoint`), iwae_stages.csv (one
row per finished stage) and iwae_manifest.json (command, config, machine, progress).
Explained in `book/13_log_likelihood.ipynb`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

CHECKPOINT, WEIGHTS = "iwae_checkpoint.pt", "iwae_weights.pt"
CSV, MANIFEST = "iwae_stages.csv", "iwae_manifest.json"
CSV_COLUMNS = ("stage", "lr", "passes", "epochs_total", "train_objective", "test_images",
               "test_k", "test_nll", "wall_seconds", "test_subset", "test_nll_se",
               "train_images", "train_subset", "train_nll", "train_nll_se")
# rows written before the evaluation protocol (stages 0-5 of the committed run) were scored on
# the first N test images; they keep that label
LEGACY_SUBSET = "first {n} of 10000"


def add_parser(commands: Any, parser_class: type, add_config_arguments: Any) -> None:
    """The `iwae` subcommand with its `train` and `eval` commands (chapter 13)."""
    from .config import IWAEConfig

    iwae = commands.add_parser("iwae", help="Burda et al.'s Table 1 recipe (train, eval)")
    sub = iwae.add_subparsers(dest="iwae_command", required=True, parser_class=parser_class)
    train = sub.add_parser("train", help="train with the staged schedule (resumable)")
    add_config_arguments(train, IWAEConfig)
    train.add_argument("--out", type=Path, required=True, help="output folder")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--into-committed", action="store_true",
                       help="allow an --out inside experiments/ (the book's committed results)")
    train.add_argument("--quiet", action="store_true", help="no line per pass")
    evaluate = sub.add_parser("eval", help="print the test bound L_K of a checkpoint")
    evaluate.add_argument("checkpoint", type=Path, help="an iwae_weights.pt or checkpoint")
    evaluate.add_argument("--k", type=int, default=5000, help="importance samples K")
    evaluate.add_argument("--images", type=int, default=10_000,
                          help="a seeded random subset of N test images")


def run(args: argparse.Namespace, usage_error: type[Exception]) -> int:
    """Dispatch `iwae train` / `iwae eval`; bad input raises `usage_error` (one line)."""
    return (_train if args.iwae_command == "train" else _eval)(args, usage_error)


def stages_csv(rows: list[dict[str, Any]]) -> str:
    """The per-stage rows as CSV text (columns `CSV_COLUMNS`, chapter 13)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    def number(r: dict[str, Any], key: str) -> str:
        return "" if r.get(key) is None else f"{r[key]:.4f}"

    for r in rows:
        writer.writerow([r["stage"], f"{r['lr']:.6g}", r["passes"], r["epochs_total"],
                         f"{r['train_objective']:.4f}", r["test_images"], r["test_k"],
                         f"{r['test_nll']:.4f}", f"{r['wall_seconds']:.1f}",
                         r.get("test_subset", LEGACY_SUBSET.format(n=r["test_images"])),
                         number(r, "test_nll_se"), r.get("train_images", ""),
                         r.get("train_subset", ""), number(r, "train_nll"),
                         number(r, "train_nll_se")])
    return out.getvalue()


def recorded_dataset(extras: dict[str, Any]) -> str | None:
    """The data set a checkpoint says its model was trained on, or None (chapter 13)."""
    if "iwae_config" in extras:
        return "mnist"  # Burda et al.'s recipe trains on MNIST only
    for key in ("run", "aevb_config"):
        if isinstance(extras.get(key), dict) and "dataset" in extras[key]:
            return str(extras[key]["dataset"])
    if isinstance(extras.get("cache_key"), str):
        settings = json.loads(extras["cache_key"]).get("settings", {})
        if isinstance(settings, dict) and "dataset" in settings:
            return str(settings["dataset"])
    return None


def test_protocol(config: Any) -> str:
    """How the test NLL of each row is computed, for the manifest (chapter 13)."""
    from ..evaluation import SUBSET_SEED
    from .training import EVAL_NOISE_SEED

    return (f"-L_{config.eval_k}, noise seed {EVAL_NOISE_SEED}, with the standard error between"
            f" images; a seeded random subset (vae_lib.evaluation, seed {SUBSET_SEED}) of"
            f" {config.stage_test_images} test images after stages 0..{config.stages - 2} and"
            f" {config.final_test_images} after the last, with a training subset drawn and"
            " binarized alike; rows without test_subset (written before 2026-12-01) used the"
            " first N test images (column test_subset says which)")


def _read(path: Path, usage_error: type[Exception]) -> tuple[Any, dict[str, Any]]:
    """load_checkpoint, its error (torch's can run to many lines) cut to the first line."""
    from ..checkpoint import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(path, map_location="cpu")
    except CheckpointError as err:
        raise usage_error(str(err).splitlines()[0]) from None


def _load_state(config: Any, out: Path, resume: bool, usage_error: type[Exception]) -> dict:
    from .training import new_state, restore_state

    path = out / CHECKPOINT
    if not resume:
        if path.exists():
            raise usage_error(f"{out} already holds a run; pass --resume to continue it")
        return new_state(config)
    if not path.exists():
        raise usage_error(f"--resume: no {CHECKPOINT} in {out}")
    model, extras = _read(path, usage_error)
    if extras.get("iwae_config") != asdict(config):
        stored = type(config)(**extras["iwae_config"]) if "iwae_config" in extras else None
        was = stored.command(str(out)) if stored else "not an iwae training checkpoint"
        raise usage_error(f"{path} was made with other settings: {was}")
    return restore_state(config, model, extras)


def _train(args: argparse.Namespace, usage_error: type[Exception]) -> int:
    import time

    from ..aevb.results import machine_description
    from ..checkpoint import atomic_write_text, save_checkpoint
    from ..cli import config_from_args, output_folder
    from .config import IWAEConfig, schedule
    from .training import TEST_BINARIZATION_SEED, load_mnist, state_payload, train

    config = config_from_args(IWAEConfig, args)
    out = output_folder(args.out, args.resume, args.into_committed,
                        lambda path: (path / CHECKPOINT).exists())
    state = _load_state(config, out, args.resume, usage_error)
    out.mkdir(parents=True, exist_ok=True)
    manifest_file = out / MANIFEST
    manifest = json.loads(manifest_file.read_text()) if args.resume else {
        "command": config.command(str(out)), "config": asdict(config),
        "settings": {"model": "784-200-200-50 tanh, mirrored decoder, Bernoulli, Glorot init",
                     "optimizer": "Adam (0.9, 0.999, eps 1e-4), moments kept across stages",
                     "schedule": [{"passes": p, "lr": lr} for p, lr in schedule(config)],
                     "binarization": "dynamic (every minibatch); test set binarized once, seed "
                                     f"{TEST_BINARIZATION_SEED}",
                     "test_nll": test_protocol(config)},
        "sessions": []}
    manifest["settings"]["test_nll"] = test_protocol(config)
    manifest["sessions"].append({"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                                 "from_pass": state["epochs_total"],
                                 "machine": machine_description()})

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
        atomic_write_text(manifest_file, json.dumps(manifest, indent=2) + "\n")

    log = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    state = train(config, state, load_mnist(config), save, log)
    print(f"finished {state['stage']} stages; wrote {out}")
    return 0


def _eval(args: argparse.Namespace, usage_error: type[Exception]) -> int:
    from ..device import torch_threads
    from ..evaluation import describe_subset, mean_se, random_subset
    from .training import load_mnist, nll_per_image

    if args.k < 1 or args.k > 100_000:
        raise usage_error(f"--k must be between 1 and 100000, got {args.k}")
    if not 1 <= args.images <= 10_000:
        raise usage_error(f"--images must be between 1 and 10000, got {args.images}")
    model, extras = _read(args.checkpoint, usage_error)
    if getattr(model, "likelihood", None) != "bernoulli" or model.image_shape != (1, 28, 28):
        raise usage_error(f"{args.checkpoint} is not a Bernoulli MNIST VAE")
    dataset = recorded_dataset(extras)
    if dataset != "mnist":  # a Fashion-MNIST model has the same shape and likelihood
        said = f"was trained on {dataset}" if dataset else "does not record its data set"
        raise usage_error(f"{args.checkpoint} {said}; iwae eval scores MNIST models only")
    from .config import IWAEConfig

    _, test = load_mnist(IWAEConfig(train_size=1))
    with torch_threads(1):
        values = nll_per_image(model, random_subset(test, args.images), args.k)
    which = describe_subset(test.shape[0], args.images)
    if values.numel() > 1:
        est = mean_se(values)
        print(f"test NLL (-L_{args.k}) = {est.mean:.3f} ± {est.se:.3f} nats (standard error"
              f" between images) on {which} binarized MNIST test images")
    else:
        print(f"test NLL (-L_{args.k}) = {float(values[0]):.3f} nats on {which} binarized"
              " MNIST test images")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as: python -m vae_lib iwae ...")
