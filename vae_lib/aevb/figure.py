"""Figure 2 into a results folder: every curve of a config, resumable (`python -m vae_lib aevb`).

A stopped command resumes where it stopped: finished curves are skipped, a curve with a
checkpoint continues from its last evaluation point, bit for bit. A folder whose results were
made with other settings is refused. Explained in `book/12_aevb.ipynb`.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint import load_checkpoint, save_checkpoint
from ..data import FREY_SPLIT
from ..runkit.records import machine_description, read_manifest, start_session
from ..runkit.state import RunError, settings_differences
from .config import BATCH_SIZE, AEVBConfig, config_from_manifest, run_identity
from .experiment import CurvePoint, evaluation_points, load_data, paper_model
from .results import (
    bounds_path,
    checkpoint_path,
    curve_path,
    manifest_path,
    save_samples,
    write_bounds,
    write_curve,
    write_manifest,
)
from .training import one_curve


def _split(dataset: str) -> str | None:
    return FREY_SPLIT if dataset == "frey" else None


def new_manifest(config: AEVBConfig, out: Path, n_train: int) -> dict[str, Any]:
    """What a results folder records: the config, derived settings, the machine, so that a
    committed curve says how to make it again (experiments/aevb/README.md, 'Files')."""
    setup = config.setup
    return {
        "dataset": config.dataset,
        "command": config.command_line(str(out)),
        "config": asdict(config),
        "settings": {
            "method": config.method, "hidden_dim": setup.hidden_dim, "activation": "tanh",
            "likelihood": setup.likelihood, "batch_size": BATCH_SIZE,
            "samples_per_datapoint": 1, "optimizer": "adagrad", "lr": config.lr,
            "weight_decay": 1.0 / n_train, "init_std": config.init_std,
            "seed": config.seed, "threads": config.threads, "n_train": n_train,
            "eval_train": config.eval_train, "eval_test": config.eval_test,
            "eval_subsets": _subsets(config, n_train),
            "eval_points": evaluation_points(config), "frey_split": _split(config.dataset),
            "eval_noise_seeds": {"train": config.seed + 1, "test": config.seed + 2},
        },
        "machine": machine_description(),
        "runs": {},
    }


def _subsets(config: AEVBConfig, n_train: int) -> dict[str, str]:
    """How the evaluation images were drawn, in words (`vae_lib.evaluation`)."""
    from ..data import load_dataset
    from ..evaluation import describe_subset

    n_test = load_dataset(config.dataset, "test").images.shape[0]
    if config.eval_subset == "first":
        return {"train": f"first {min(config.eval_train, n_train)} of {n_train}",
                "test": f"first {min(config.eval_test, n_test)} of {n_test}"}
    return {"train": describe_subset(n_train, config.eval_train),
            "test": describe_subset(n_test, config.eval_test)}


def _same_run(config: AEVBConfig, stored: dict[str, Any]) -> str:
    """'' if `stored` (a manifest) was made with `config`'s settings, else the differences.

    Latent sizes may differ (each curve is independent), and so may the number of samples
    (extending a curve is a resume); everything else that the method uses must match.
    """
    diffs = settings_differences(run_identity(asdict(config_from_manifest(stored))),
                                 run_identity(asdict(config)))
    default_split = "tail" if config.dataset == "frey" else None  # before the split was recorded
    split = stored.get("settings", {}).get("frey_split", default_split)
    if split != _split(config.dataset):
        diffs.append(f"frey split {split} vs {_split(config.dataset)}")
    return ", ".join(diffs)


def holds_results(folder: str | Path, dataset: str) -> bool:
    """True if `folder` has a manifest or any file of `dataset`'s runs.

    The command line refuses such a folder unless --resume is given
    (`vae_lib.runkit.folder.output_folder`), so a new run never mixes with an old one's files.
    """
    folder = Path(folder)
    return folder.is_dir() and any(folder.glob(f"{dataset}_*"))


def train_figure(config: AEVBConfig, out: str | Path, quiet: bool = False) -> int:
    """Train one curve per latent size, resuming stopped ones; write the results into `out`.

    Stopped curves always continue from their last checkpoint (the command line's --resume is
    its consent, checked by the --out policy: a folder holding results needs it).

    Writes `{dataset}[_ws]_nz{N}.csv` and `..._checkpoint.pt` at every evaluation point,
    `..._samples.png` (100 prior samples) at the end of a curve, and
    `{dataset}[_ws]_manifest.json` (config, machine, sessions, per-curve progress): the format
    of experiments/aevb/README.md, 'Files'.
    """
    out = Path(out)
    path = manifest_path(out, config.dataset, config.method)
    manifest = read_manifest(path)
    if manifest is not None and (diffs := _same_run(config, manifest)):
        raise RunError(f"{out} holds {config.dataset} {config.method} results made with other"
                         f" settings ({diffs}); use another --out")
    data = load_data(config)
    if manifest is None:
        manifest = new_manifest(config, out, data.train.shape[0])
    sizes = tuple(dict.fromkeys([*map(int, manifest["runs"]), *config.sizes]))
    manifest["command"] = replace(config, latent_dims=sizes).command_line(str(out))
    manifest["config"]["latent_dims"] = list(sizes)
    if config.samples >= manifest["config"].get("samples", 0):  # extended, never shortened
        manifest["config"]["samples"] = config.samples
        manifest["settings"]["eval_points"] = evaluation_points(config)
    start_session(manifest, latent_dims=list(config.sizes))
    write_manifest(out, manifest)
    last_point = evaluation_points(config)[-1]
    for latent_dim in config.sizes:
        entry = manifest["runs"].get(str(latent_dim), {})
        if entry.get("samples_seen", 0) >= last_point:
            print(f"{config.dataset} N_z={latent_dim}: already finished in {out}")
            if config.eval_subset == "random" and not entry.get("bounds"):  # made before them
                _backfill_bounds(config, out, manifest, latent_dim, data)
            continue
        _one_curve(config, out, manifest, latent_dim, data, quiet)
    print(f"wrote {len(config.sizes)} curve(s) to {out}")
    return 0


def _backfill_bounds(config: AEVBConfig, out: Path, manifest: dict[str, Any], latent_dim: int,
                     data: Any) -> None:
    """Write the per-image bounds of a curve that finished before they were saved."""
    ckpt = checkpoint_path(out, config.dataset, latent_dim, config.method)
    model, _ = load_checkpoint(ckpt, map_location="cpu")
    _save_bounds(config, out, latent_dim, model, data)
    manifest["runs"][str(latent_dim)]["bounds"] = bounds_path(
        out, config.dataset, latent_dim, config.method).name
    write_manifest(out, manifest)


def _one_curve(config: AEVBConfig, out: Path, manifest: dict[str, Any], latent_dim: int,
               data: Any, quiet: bool) -> None:
    """Train (or resume) one curve, checkpointing at every evaluation point."""
    path = curve_path(out, config.dataset, latent_dim, config.method)
    ckpt = checkpoint_path(out, config.dataset, latent_dim, config.method)
    entry = manifest["runs"].setdefault(str(latent_dim), {})
    if entry.get("samples_seen") and not ckpt.is_file():
        raise RunError(f"{path.name} has {entry['samples_seen']} samples but no checkpoint"
                         f" {ckpt.name} to continue from; use another --out")
    entry.update(csv=path.name, checkpoint=ckpt.name, finished=False)
    resume, model = None, paper_model(config, latent_dim)
    if ckpt.is_file():
        model, extras = load_checkpoint(ckpt, map_location="cpu")
        if extras.get("latent_dim") != latent_dim or extras.get("method") != config.method:
            raise RunError(f"{ckpt} belongs to another run; move it away")
        stored = run_identity(extras.get("aevb_config") or {})
        diffs = settings_differences(stored, run_identity(asdict(config)))
        if not stored or diffs:
            raise RunError(f"{ckpt} was made with other settings"
                             f" ({', '.join(diffs) or 'none recorded'}); move it away")
        resume = extras["state"]
        write_curve(path, [CurvePoint(**p) for p in resume["curve"]])

    def checkpoint(state: dict[str, Any]) -> None:
        save_checkpoint(model, ckpt, latent_dim=latent_dim, method=config.method,
                        aevb_config=asdict(config), state=state)
        entry.update(samples_seen=state["seen"], wall_seconds=round(state["wall_seconds"], 1))
        write_manifest(out, manifest)

    try:
        model, curve = one_curve(config, latent_dim, data=data, model=model, resume=resume,
                                 on_point=lambda c: write_curve(path, c),
                                 on_checkpoint=checkpoint)
    except FloatingPointError as err:
        raise FloatingPointError(f"{config.dataset}, N_z = {latent_dim}: {err}") from None
    _finish(config, out, manifest, latent_dim, model, curve)
    if not quiet:
        last = curve[-1]
        print(f"{config.dataset} N_z={latent_dim}: {last.samples_seen} samples, train bound"
              f" {last.train_bound:.2f}, test bound {last.test_bound:.2f} nats"
              f" ({last.wall_seconds:.0f} s)", flush=True)


def _finish(config: AEVBConfig, out: Path, manifest: dict[str, Any], latent_dim: int,
            model: nn.Module, curve: list[CurvePoint]) -> None:
    """Save a finished curve's prior samples and mark it finished in the manifest."""
    stem = curve_path(out, config.dataset, latent_dim, config.method).stem
    samples = f"{stem}_samples.png"
    save_samples(model, out / samples, seed=config.seed)
    _save_bounds(config, out, latent_dim, model)
    manifest["runs"][str(latent_dim)].update(
        samples_png=samples, finished=True, wall_seconds=round(curve[-1].wall_seconds, 1),
        final=asdict(curve[-1]), bounds=bounds_path(out, config.dataset, latent_dim,
                                                    config.method).name)
    write_manifest(out, manifest)


BOUND_DRAWS = 2  # noise redraws of the final per-image bounds: the Monte Carlo error needs two


def _save_bounds(config: AEVBConfig, out: Path, latent_dim: int, model: nn.Module,
                 data: Any = None) -> None:
    """The final model's one-sample bound of every evaluation image, for BOUND_DRAWS noise
    seeds: what chapter 12 compares methods with, image by image (paired)."""
    from ..device import torch_threads
    from ..evaluation import subset_indices
    from .experiment import bounds_per_image

    data = data if data is not None else load_data(config)
    seeds = {"train": [config.seed + 1 + 10 * d for d in range(BOUND_DRAWS)],
             "test": [config.seed + 2 + 10 * d for d in range(BOUND_DRAWS)]}
    model = model.cpu()
    with torch_threads(config.threads):
        bounds = {split: torch.stack([bounds_per_image(model, images, seed).float()
                                      for seed in seeds[split]])
                  for split, images in (("train", data.eval_train), ("test", data.eval_test))}
    from ..data import load_dataset

    n_train = data.train.shape[0]
    n_test_all = load_dataset(config.dataset, "test").images.shape[0]
    write_bounds(bounds_path(out, config.dataset, latent_dim, config.method), {
        **bounds, "seeds": seeds,
        "train_indices": subset_indices(n_train, config.eval_train),
        "test_indices": subset_indices(n_test_all, min(config.eval_test, n_test_all)),
        "subsets": _subsets(config, n_train)})


