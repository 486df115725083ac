"""Save and load trained models with the config needed to rebuild them.

Writes are atomic (temp file in the same folder, then rename), so an interrupted save never
leaves a half-written checkpoint where a good one used to be.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .device import pick_device
from .models import build_model


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, or not one of ours (the run cache, chapter 8)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to a temp file beside `path`, then rename it over `path`.

    Every file the library writes goes through here (`python -m vae_lib`, `book/12_aevb.ipynb`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """`atomic_write_bytes` for UTF-8 text (the CSV files and manifests of chapter 12)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(model: nn.Module, path: str | os.PathLike, **extra: Any) -> Path:
    """Save weights, config and any extra JSON-like data (a history, say) atomically.

    Used by the run cache of chapters 8-13 and by `python -m vae_lib train`.
    """
    import io

    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(
        {"format": "vae-book/1", "config": model.config, "state_dict": state, **extra}, buffer
    )
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a checkpoint describes and load its weights; returns (model, extras).

    The model lands on `map_location`, `pick_device()` unless given, like every model the
    library returns. Only tensors and plain data are read (`weights_only=True`): a checkpoint
    cannot run code when loaded. Used by the run cache of chapters 8-13.
    """
    path = Path(path)
    map_location = pick_device() if map_location is None else torch.device(map_location)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt?):"
            f" {type(err).__name__}: {err}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != "vae-book/1":
        raise CheckpointError(f"{path} is not a vae-book checkpoint")
    model = build_model(payload["config"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the stored config: {first}") from None
    extras = {k: v for k, v in payload.items() if k not in {"format", "config", "state_dict"}}
    return model.to(map_location), extras
