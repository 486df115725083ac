"""The results folder of the Figure 2 experiment: one CSV per curve, prior samples, a manifest.

Writer and reader sit together so the format is defined once. Every write is atomic, so an
interrupted run leaves valid partial curves. Read by `book/12_aevb.ipynb`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..files import atomic_write_bytes, atomic_write_json, atomic_write_text, csv_text
from .experiment import CurvePoint

CSV_COLUMNS = ("samples_seen", "train_bound", "test_bound", "wall_seconds")
# the standard errors between images of the two bounds, in curves written from 2026-12-01 on
SE_COLUMNS = ("train_se", "test_se")


def _prefix(dataset: str, method: str) -> str:
    return dataset if method == "aevb" else f"{dataset}_ws"


def curve_path(folder: str | os.PathLike, dataset: str, latent_dim: int,
               method: str = "aevb") -> Path:
    """Where a curve lives: {dataset}_nz{N}.csv, or {dataset}_ws_nz{N}.csv for wake-sleep."""
    return Path(folder) / f"{_prefix(dataset, method)}_nz{latent_dim}.csv"


def checkpoint_path(folder: str | os.PathLike, dataset: str, latent_dim: int,
                    method: str = "aevb") -> Path:
    """Where a curve's resume checkpoint lives: beside its CSV, so the folder is the whole run."""
    return Path(folder) / f"{_prefix(dataset, method)}_nz{latent_dim}_checkpoint.pt"


def manifest_path(folder: str | os.PathLike, dataset: str, method: str = "aevb") -> Path:
    """Where a results folder keeps the settings, machine and status of a data set's runs:
    {dataset}_manifest.json, or {dataset}_ws_manifest.json for wake-sleep."""
    return Path(folder) / f"{_prefix(dataset, method)}_manifest.json"


def curve_csv(curve: Sequence[CurvePoint]) -> str:
    """A curve as CSV text with the columns of `CSV_COLUMNS` (and `SE_COLUMNS` when known)."""
    with_se = bool(curve) and all(p.train_se is not None for p in curve)
    rows = ([p.samples_seen, f"{p.train_bound:.4f}", f"{p.test_bound:.4f}", f"{p.wall_seconds:.2f}",
             *([f"{p.train_se:.4f}", f"{p.test_se:.4f}"] if with_se else [])] for p in curve)
    return csv_text(CSV_COLUMNS + (SE_COLUMNS if with_se else ()), rows)


def write_curve(path: str | os.PathLike, curve: Sequence[CurvePoint]) -> None:
    """Rewrite a curve's CSV atomically (after every evaluation point)."""
    atomic_write_text(path, curve_csv(curve))


def read_curve(path: str | os.PathLike) -> list[CurvePoint]:
    """Read a curve's CSV; raises ValueError if the columns are not ours.

    How `book/12_aevb.ipynb` reads a curve kept outside a figure's folder (its side run).
    """
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or tuple(rows[0]) not in (CSV_COLUMNS, CSV_COLUMNS + SE_COLUMNS):
        raise ValueError(f"{path}: expected columns {','.join(CSV_COLUMNS)}")
    width = len(rows[0])
    try:
        if any(len(r) != width for r in rows[1:]):
            raise ValueError
        return [CurvePoint(int(r[0]), *map(float, r[1:])) for r in rows[1:]]
    except (ValueError, IndexError):
        raise ValueError(f"{path}: a row is not {width} numbers") from None


def bounds_path(folder: str | os.PathLike, dataset: str, latent_dim: int,
                method: str = "aevb") -> Path:
    """Where a finished curve's per-image bounds live: ..._nz{N}_bounds.pt, beside its CSV."""
    return Path(folder) / f"{_prefix(dataset, method)}_nz{latent_dim}_bounds.pt"


def write_bounds(path: str | os.PathLike, bounds: dict[str, Any]) -> None:
    """Save the per-image bounds of a finished curve (tensors and plain data), atomically."""
    buffer = io.BytesIO()
    torch.save(bounds, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_bounds(path: str | os.PathLike) -> dict[str, Any]:
    """The per-image bounds `write_bounds` saved: "train" and "test" of shape (draws, images),
    their noise "seeds" and the image "train_indices" / "test_indices", so that two curves'
    bounds are compared image by image on the same noise (`load_figure` hands them over).
    """
    from ..checkpoint import CheckpointError, check_inflated_size

    path = Path(path)
    try:
        check_inflated_size(path)
        bounds = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, CheckpointError) as err:
        raise ValueError(f"{path}: not a file of per-image bounds ({err})") from None
    if not isinstance(bounds, dict) or not {"train", "test", "seeds"} <= bounds.keys():
        raise ValueError(f"{path}: not a file of per-image bounds")
    return bounds


def write_manifest(folder: str | os.PathLike, manifest: dict[str, Any]) -> None:
    """Rewrite a data set's manifest atomically."""
    method = manifest.get("config", {}).get("method", "aevb")
    atomic_write_json(manifest_path(folder, manifest["dataset"], method), manifest)


def load_results(
    folder: str | os.PathLike, dataset: str, method: str = "aevb", finished_only: bool = True
) -> tuple[dict[str, Any], dict[int, list[CurvePoint]]]:
    """A results folder's manifest for `dataset` and `method`, and its curves by latent size.

    Only the runs the manifest marks as finished are read (all that have a CSV with
    `finished_only=False`: partial curves of stopped runs), in the order they were run.
    `book/12_aevb.ipynb` reads its legacy first-N results with it.
    """
    path = manifest_path(folder, dataset, method)
    if not path.is_file():
        raise FileNotFoundError(f"no results for {dataset} in {folder} (looked for {path.name})")
    manifest = json.loads(path.read_text())
    curves = {
        int(nz): read_curve(Path(folder) / run["csv"])
        for nz, run in manifest["runs"].items()
        if run.get("finished") or (not finished_only and (Path(folder) / run["csv"]).is_file())
    }
    return manifest, curves


def load_figure(folder: str | os.PathLike) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every curve of a Figure 2 folder, by (dataset, method, latent size) (chapter 12).

    Each value holds the `curve` (finished or not), whether it is `finished`, its per-image
    `bounds` (`read_bounds`, None before it finished) and its data set's `manifest`.
    """
    from .config import METHODS, PAPER

    found: dict[tuple[str, str, int], dict[str, Any]] = {}
    for dataset in PAPER:
        for method in METHODS:
            path = manifest_path(folder, dataset, method)
            if not path.is_file():
                continue
            manifest = json.loads(path.read_text())
            for nz, run in manifest["runs"].items():
                csv_file = Path(folder) / run["csv"]
                if not csv_file.is_file():
                    continue
                bounds = run.get("bounds") and Path(folder) / run["bounds"]
                found[dataset, method, int(nz)] = {
                    "curve": read_curve(csv_file), "finished": bool(run.get("finished")),
                    "bounds": read_bounds(bounds) if bounds and bounds.is_file() else None,
                    "manifest": manifest}
    return found


def save_samples(model: torch.nn.Module, path: str | os.PathLike, n: int = 100,
                 seed: int = 0) -> None:
    """Decode n codes from the prior (fixed seed) and save them as one PNG grid, atomically."""
    from ..plots import grid_to_pil

    generator = torch.Generator().manual_seed(seed)
    picture = grid_to_pil(model.sample(n, generator=generator).cpu(), ncols=10)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
