"""Files written atomically: a temp file beside the target, then a rename over it.

An interrupted write (Ctrl-C, a full disk, kill -9) never leaves a half-written file where a
good one used to be, so a stopped run's checkpoints, curves and manifests are always whole.
Every file the library and its commands write goes through `atomic_write_bytes` (README.md,
'Runs that are not lost').
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to a temp file beside `path`, then rename it over `path`.

    Every file the library writes goes through here: checkpoints, curves, manifests, figures.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


STALE_SECONDS = 3600  # a temp file this old beside its target was left by a killed writer


def _remove_stale_parts(path: Path) -> None:
    """Delete the temp files a kill -9 left beside `path` (never a live writer's: too old)."""
    for part in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if time.time() - part.stat().st_mtime > STALE_SECONDS:
                part.unlink()
        except OSError:
            pass


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """`atomic_write_bytes` for UTF-8 text (the CSV files and manifests of the experiments)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, value: Any) -> None:
    """A JSON file (a manifest, say), indented, with a final newline, so a committed one diffs
    line by line."""
    atomic_write_text(path, json.dumps(value, indent=2) + "\n")


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text with a header row and Unix line ends: the one CSV format of every result file
    (`python -m vae_lib train`'s history.csv, the Figure 2 curves, the IWAE stage table)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def write_columns(path: str | os.PathLike, index: Sequence[int], columns: dict[str, Any],
                  index_name: str = "test_index") -> None:
    """Per-image values as one CSV, one row per image, atomically: the per-image result files of
    the experiments under experiments/ (flows, hierarchy; their READMEs, 'Files')."""
    names = list(columns)
    rows = [[int(index[j])] + [f"{float(columns[n][j]):.6f}" for n in names]
            for j in range(len(index))]
    atomic_write_text(path, csv_text([index_name, *names], rows))
