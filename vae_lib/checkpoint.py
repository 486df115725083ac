"""Save and load trained models with the config needed to rebuild them.

Writes are atomic (temp file in the same folder, then rename), so an interrupted save never
leaves a half-written checkpoint where a good one used to be. What the checksum and the size
checks on loading protect, and what they do not: README.md, 'Runs that are not lost'.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .device import pick_device
from .files import atomic_write_bytes
from .models import build_model


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, or not one of ours: one line, and the run cache
    (`vae_lib.runs.cached_model`) trains the model again instead of failing."""


FORMAT = "vae-book/2"  # bump when the payload changes; other versions are refused, not guessed


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over the names, dtypes, shapes and bytes of the weights, in sorted order.

    Stored in every checkpoint and checked on load, so flipped bytes or an edited tensor are
    caught instead of loading silently (the run cache then retrains).
    """
    digest = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(model: nn.Module, path: str | os.PathLike, **extra: Any) -> Path:
    """Save weights, config, checksum and any extra plain data (a history, say) atomically.

    Used by the run cache (`vae_lib.runs.cached_model`) and by `python -m vae_lib train`.
    """
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    extra = {k: v.as_dicts() if hasattr(v, "as_dicts") else v for k, v in extra.items()}
    payload = {"format": FORMAT, "config": model.spec, "state_dict": state,
               "sha256": weights_digest(state), **extra}
    torch.save(payload, buffer)
    try:  # what load_checkpoint could not read back is refused here, not found out later
        torch.load(io.BytesIO(buffer.getvalue()), map_location="cpu", weights_only=True)
    except Exception as err:
        bad = sorted(k for k, v in extra.items() if not _plain(v))
        raise ValueError(f"save_checkpoint: {', '.join(bad) or 'an extra'} is not plain data"
                         f" (tensors, numbers, strings, lists, dicts): {type(err).__name__}"
                         ) from None
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def _plain(value: Any) -> bool:
    if isinstance(value, (torch.Tensor, int, float, str, bool, type(None))):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in value.items())
    return False


MAX_BYTES = 2**30  # 1 GiB: the book's largest checkpoint is about 10 MB


def check_inflated_size(path: Path) -> None:
    """Refuse a file that `torch.load` would inflate: over MAX_BYTES, or compressed records.

    `torch.save` writes an uncompressed zip, so what it unpacks is the size of the file; a
    small file whose records deflate to gigabytes is not one of ours, and is refused before
    any of it is read.
    """
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise CheckpointError(f"{path} is {size:,} bytes, more than a checkpoint of this book"
                              f" ({MAX_BYTES:,} at most)")
    if not zipfile.is_zipfile(path):
        return  # torch.load says what it is
    with zipfile.ZipFile(path) as archive:
        records = archive.infolist()
    inflated = sum(r.file_size for r in records)
    if any(r.compress_type != zipfile.ZIP_STORED for r in records) or inflated > size:
        raise CheckpointError(f"{path} would unpack to {inflated:,} bytes from {size:,}: not a"
                              " checkpoint torch.save wrote")


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The verified payload of a checkpoint: ours, this format, a model config, intact weights.

    Only tensors and plain data are read (`weights_only=True`): a checkpoint cannot run code
    when loaded. Anything else is one `CheckpointError` line, which the run cache answers by
    training again.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        check_inflated_size(path)
    except (OSError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path} cannot be read: {err}") from None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        first = (str(err).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt, or not plain weights?):"
            f" {type(err).__name__}: {first}"
        ) from None
    if not isinstance(payload, dict) or "format" not in payload:
        raise CheckpointError(f"{path} is not a vae-book checkpoint")
    if payload["format"] != FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {payload['format']!r}; this"
                              f" library reads {FORMAT!r} (retrain or use the matching version)")
    config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict) or not isinstance(config.get("kind"), str):
        raise CheckpointError(f"{path} has no model config")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path} has no weights (state_dict)")
    if payload.get("sha256") != weights_digest(state):
        raise CheckpointError(f"{path}: the weights do not match their checksum (corrupt or"
                              " tampered)")
    return payload


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a checkpoint describes and load its weights; returns (model, extras).

    The model lands on `map_location`, `pick_device()` unless given, like every model the
    library returns. Used by the run cache, and by `book/13_log_likelihood.ipynb` to load the
    committed IWAE run's weights.
    """
    map_location = pick_device() if map_location is None else torch.device(map_location)
    payload = read_checkpoint(path)
    model = model_from_payload(payload, path)
    extras = {k: v for k, v in payload.items()
              if k not in {"format", "config", "state_dict", "sha256"}}
    return model.to(map_location), extras


def model_from_payload(payload: dict[str, Any], path: str | os.PathLike) -> nn.Module:
    """Build the stored config's model and load its weights; CheckpointError if not.

    The model is first built on the meta device, which allocates nothing, and its shapes are
    compared with the stored weights: a config that asks for a 16 TB layer beside a few
    kilobytes of weights is refused before any memory is taken.
    """
    try:
        with torch.device("meta"):
            skeleton = build_model(payload["config"])
    except (ValueError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"{path}: cannot build its model: {err}") from None
    wanted = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in payload["state_dict"].items()}
    if wanted != stored:
        diff = sorted(set(wanted.items()) ^ set(stored.items()))[:2]
        raise CheckpointError(f"{path}: weights do not fit the stored config (first"
                              f" differences: {diff})")
    try:
        model = build_model(payload["config"])
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path}: cannot build its model: {err}") from None
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the stored config: {first}") from None
    return model
