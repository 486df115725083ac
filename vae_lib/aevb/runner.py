"""`python -m vae_lib aevb`: run every curve of a config and write the results folder."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from torch import nn

from .config import BATCH_SIZE, AEVBConfig
from .experiment import CurvePoint, evaluation_points, load_data, run
from .results import (
    curve_path,
    machine_description,
    manifest_path,
    save_samples,
    write_curve,
    write_manifest,
)


def new_manifest(config: AEVBConfig, out: Path, n_train: int) -> dict[str, Any]:
    """What a results folder records: the config, derived settings, the machine (chapter 12)."""
    setup = config.setup
    return {
        "dataset": config.dataset,
        "command": config.command(str(out)),
        "config": asdict(config),
        "settings": {
            "hidden_dim": setup.hidden_dim, "activation": "tanh", "likelihood": setup.likelihood,
            "batch_size": BATCH_SIZE, "samples_per_datapoint": 1, "optimizer": "adagrad",
            "lr": config.lr, "weight_decay": 1.0 / n_train, "init_std": config.init_std,
            "seed": config.seed, "threads": config.threads, "n_train": n_train,
            "eval_train": config.eval_train, "eval_test": config.eval_test,
            "eval_points": evaluation_points(config),
            "eval_noise_seeds": {"train": config.seed + 1, "test": config.seed + 2},
        },
        "machine": machine_description(),
        "runs": {},
    }


def holds_results(folder: str | Path, dataset: str) -> bool:
    """True if `folder` has a manifest or any file of `dataset`'s runs (chapter 12)."""
    folder = Path(folder)
    return folder.is_dir() and any(folder.glob(f"{dataset}_*"))


def resumed_manifest(config: AEVBConfig, out: Path) -> dict[str, Any]:
    """The manifest of an earlier run of the same config in `out`, to keep its finished curves.

    Resuming is per curve: finished curves stay, an unfinished one is run again from its start
    (it is deterministic, so it ends the same). Other settings are refused (chapter 12).
    """
    path = manifest_path(out, config.dataset)
    try:
        manifest = json.loads(path.read_text())
        stored = manifest["config"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"cannot resume: {path} is missing or unreadable ({err})") from None
    if stored != json.loads(json.dumps(asdict(config))):
        raise ValueError(f"cannot resume {out}: its {config.dataset} results were made with other"
                         " settings; choose another --out")
    return manifest


def command(config: AEVBConfig, out: str | Path, quiet: bool = False,
            resume: bool = False) -> int:
    """Train one curve per latent size; write CSVs, prior samples and the manifest into `out`.

    Writes `{dataset}_nz{N}.csv` (rewritten after every evaluation point),
    `{dataset}_nz{N}_samples.png` (100 prior samples at the end) and `{dataset}_manifest.json`
    (config, machine, per-run wall time, whether each run finished). With `resume`, the
    finished curves of an earlier run of the same config are kept. Explained in
    `book/12_aevb.ipynb`.
    """
    out = Path(out)
    old = resumed_manifest(config, out) if resume else {"runs": {}}
    data = load_data(config)
    manifest = new_manifest(config, out, data.train.shape[0])
    write_manifest(out, manifest)
    for latent_dim in config.sizes:
        if old["runs"].get(str(latent_dim), {}).get("finished"):
            manifest["runs"][str(latent_dim)] = old["runs"][str(latent_dim)]
            write_manifest(out, manifest)
            continue
        path = curve_path(out, config.dataset, latent_dim)
        manifest["runs"][str(latent_dim)] = {"csv": path.name, "finished": False}
        started = time.perf_counter()
        try:
            model, curve = run(config, latent_dim, data=data,
                               on_point=lambda c, path=path: write_curve(path, c))
        except FloatingPointError as err:
            raise ValueError(f"{config.dataset}, N_z = {latent_dim}: {err}") from None
        _finish(config, out, manifest, latent_dim, model, curve, time.perf_counter() - started)
        if not quiet:
            last = curve[-1]
            print(f"{config.dataset} N_z={latent_dim}: {last.samples_seen} samples, train bound"
                  f" {last.train_bound:.2f}, test bound {last.test_bound:.2f} nats"
                  f" ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"wrote {len(config.sizes)} curve(s) to {out}")
    return 0


def _finish(config: AEVBConfig, out: Path, manifest: dict[str, Any], latent_dim: int,
            model: nn.Module, curve: list[CurvePoint], seconds: float) -> None:
    """Save a finished curve's prior samples and mark it finished in the manifest."""
    samples = f"{config.dataset}_nz{latent_dim}_samples.png"
    save_samples(model, out / samples, seed=config.seed)
    manifest["runs"][str(latent_dim)] = {
        "csv": curve_path(out, config.dataset, latent_dim).name, "samples_png": samples,
        "finished": True, "wall_seconds": round(seconds, 1), "final": asdict(curve[-1]),
    }
    write_manifest(out, manifest)
