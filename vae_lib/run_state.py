"""A training run's state between epochs: everything `fit` needs to continue bit for bit.

`fit(checkpoint=path)` rewrites one file atomically after every epoch: the weights, the
optimizer's moments, both random generators (the global one that draws the reparameterization
noise, and the one that shuffles), the history, and the run's settings. `fit(resume=True)`
reads it back, so a run stopped after k epochs (Ctrl-C, a crash, a killed job) and resumed
ends with exactly the weights of a run that never stopped (`book/08_training.ipynb`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .checkpoint import CheckpointError, model_from_payload, read_checkpoint, save_checkpoint


def data_fingerprint(x: Tensor) -> str:
    """A cheap hash of a data set (its shape and every 997th value): resuming on other data fails.

    Chapter 8's runs resume only on the images they started with.
    """
    sample = x.detach().reshape(-1)[::997].float().cpu().contiguous()
    digest = hashlib.sha256(str(tuple(x.shape)).encode())
    digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:16]


def _cuda_ids(device: torch.device) -> list[int]:
    return [device.index or 0] if device.type == "cuda" else []


@contextlib.contextmanager
def side_rng(device: torch.device) -> Iterator[None]:
    """Draw from a copy of the global generator inside the block, then put the original back.

    `fit` evaluates and calls `on_epoch` inside it, so the training noise depends only on the
    seed and the steps taken, never on how often a run was evaluated or stopped (chapter 8).
    """
    with torch.random.fork_rng(devices=_cuda_ids(device)):
        yield


def rng_state(generator: torch.Generator, device: torch.device) -> dict[str, Any]:
    """Both generators' states (and the GPU's, when training there), for a checkpoint."""
    state = {"global": torch.get_rng_state(), "shuffle": generator.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator,
                  device: torch.device) -> None:
    """Put back what `rng_state` saved (chapter 8's resumed runs)."""
    torch.set_rng_state(state["global"])
    generator.set_state(state["shuffle"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_run(path: str | os.PathLike, model: nn.Module, opt: torch.optim.Optimizer,
             generator: torch.Generator, device: torch.device, history: list[dict],
             settings: dict[str, Any]) -> None:
    """One atomic file with the weights, optimizer, generators, history and settings (ch. 8)."""
    save_checkpoint(model, path, history=history, optimizer=opt.state_dict(),
                    rng=rng_state(generator, device), run=settings)


def check_new_run(path: str | os.PathLike | None, resume: bool) -> None:
    """Refuse to start a new run over an existing checkpoint: it may hold a better one (ch. 8)."""
    if path is not None and not resume and Path(path).exists():
        raise ValueError(f"{path} already holds a run: pass resume=True (--resume) to continue"
                         " it, or choose another checkpoint path")


def load_run(path: str | os.PathLike, model: nn.Module, opt: torch.optim.Optimizer,
             generator: torch.Generator, device: torch.device,
             settings: dict[str, Any]) -> list[dict]:
    """Load a saved run into `model`, `opt` and the generators; returns its history (ch. 8).

    The stored settings must equal this run's (same data, batch size, step size, seed, ...):
    otherwise the continued run would not be the one that was started, and that is an error.
    """
    payload = read_checkpoint(path)
    stored = payload.get("run")
    if not isinstance(stored, dict) or not {"optimizer", "rng", "history"} <= payload.keys():
        raise CheckpointError(f"{path} is a finished model, not a run that can be resumed")
    changed = sorted(k for k in settings if stored.get(k) != settings[k])
    if changed:
        raise ValueError(f"cannot resume {path}: it was started with other settings"
                         f" ({', '.join(changed)})")
    if payload["config"] != getattr(model, "config", None):
        raise ValueError(f"cannot resume {path}: it holds another model ({payload['config']})")
    model.load_state_dict(model_from_payload(payload, path).state_dict())
    try:
        opt.load_state_dict(payload["optimizer"])
        set_rng_state(payload["rng"], generator, device)
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"{path}: its optimizer or random state is broken: {err}") from None
    return list(payload["history"])
