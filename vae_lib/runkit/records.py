"""Result files' provenance: the manifest each results folder keeps, and the machine it ran on.

A manifest records the command that reproduces the run, its config, and one entry per session
of work (when it started, from where, on which machine), so a run that spans several sessions
says so. Read and written here for every command (the manifests of experiments/aevb/ and
experiments/iwae/).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from ..files import atomic_write_json


def machine_description() -> dict[str, Any]:
    """CPU model, core count and library versions: the machine a results folder was made on.

    The provenance of the committed curves and stage table: every session of a manifest
    records one, so a timing says which machine it was measured on, and book/12_aevb.ipynb
    knows whether its rerun of a curve runs on the CPU that made it.
    """
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def read_manifest(path: str | os.PathLike) -> dict[str, Any] | None:
    """A results folder's manifest, or None if there is none yet (a new run writes one)."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def start_session(manifest: dict[str, Any], **details: Any) -> None:
    """Append this stretch of work to the manifest's sessions: when, on what, and `details`.

    A run resumed across several sessions lists each, with the machine it ran on.
    """
    manifest.setdefault("sessions", []).append(
        {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), **details,
         "machine": machine_description()})


def write_manifest(path: str | os.PathLike, manifest: dict[str, Any]) -> None:
    """Rewrite a manifest atomically, indented, so a stopped run never leaves half of one."""
    atomic_write_json(path, manifest)
