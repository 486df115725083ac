"""A run's state between stretches of work: what a resumed run needs to continue bit for bit.

Every resumable run (the `train` command's `fit`, a Figure 2 curve, Burda et al.'s staged
schedule) saves the same kinds of thing: weights, optimizer moments, every random generator it
draws from, its progress and the settings it was started with. The generators and the settings
check are written once here; each run keeps its own payload keys, so committed checkpoints stay
readable. A run resumed with other settings is refused: it would not be the run that was
started (README.md, 'Runs that are not lost').
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import torch
from torch import Tensor, nn

from ..checkpoint import CheckpointError, model_from_payload, read_checkpoint, save_checkpoint
from ..train import EpochRecord, FitState


class RunError(ValueError):
    """A run cannot go on as asked (other settings, another run's files): one line, exit 2.

    Raised by the run layer (`vae_lib.aevb`, `vae_lib.iwae`, `fit_resumably` of the `train`
    command); the commands print it as one line.
    """


def settings_differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The settings whose stored and wanted values differ, as 'name stored vs wanted'.

    The one "made with other settings" comparison of every command, so all three say it alike.
    """
    names = sorted(set(stored) | set(wanted))
    return [f"{k} {stored.get(k)!r} vs {wanted.get(k)!r}" for k in names
            if stored.get(k) != wanted.get(k)]


def check_same_settings(stored: dict[str, Any], wanted: dict[str, Any], what: str) -> None:
    """Refuse to continue `what` with other settings than it was started with: it would not be
    the run that was started."""
    if diffs := settings_differences(stored, wanted):
        shown = ", ".join(diffs)
        raise RunError(f"cannot resume {what}: it was made with other settings"
                       f" ({shown[:400]}): resume with the settings it was started with, or use"
                       " another --out")


def generator_states(device: torch.device | str = "cpu",
                     **generators: torch.Generator) -> dict[str, Any]:
    """The global generator's state (and the GPU's, when training there) and each named one's.

    What every resumable checkpoint stores under "rng": a resumed run draws the same noise
    and the same minibatches as one that never stopped.
    """
    device = torch.device(device)
    states = {"global": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    states.update({name: g.get_state() for name, g in generators.items()})
    return states


def restore_generators(states: dict[str, Any], device: torch.device | str = "cpu",
                       **generators: torch.Generator) -> None:
    """Put back what `generator_states` saved, into the global and the named generators."""
    device = torch.device(device)
    torch.set_rng_state(states["global"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)
    for name, g in generators.items():
        g.set_state(states[name])


def read_run(path: str | os.PathLike, model: nn.Module, settings_key: str,
             settings: dict[str, Any], needs: tuple[str, ...] = ()) -> dict[str, Any]:
    """A resumable checkpoint's payload, checked, with its weights loaded into `model`.

    It must hold a run (the keys `needs`), have been started with `settings` (stored under
    `settings_key`), and hold the same kind of model; anything else is a `RunError` or a
    `CheckpointError` line. Used by every command's --resume.
    """
    payload = read_checkpoint(path)
    stored = payload.get(settings_key)
    if not isinstance(stored, dict) or not set(needs) <= payload.keys():
        raise CheckpointError(f"{path} is a finished model, not a run that can be resumed")
    check_same_settings(stored, settings, str(path))
    if payload["config"] != getattr(model, "spec", None):
        raise RunError(f"cannot resume {path}: it holds another model ({payload['config']})")
    model.load_state_dict(model_from_payload(payload, path).state_dict())
    return payload


def data_fingerprint(x: Tensor) -> str:
    """A cheap hash of a data set (its shape and every 997th value): resuming on other data fails.

    `fit_resumably`'s runs resume only on the images they started with.
    """
    sample = x.detach().reshape(-1)[::997].float().cpu().contiguous()
    digest = hashlib.sha256(str(tuple(x.shape)).encode())
    digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:16]


FIT_RUN = ("optimizer", "rng", "history")  # what a resumable `fit` checkpoint holds


def save_fit(path: str | os.PathLike, model: nn.Module, state: FitState,
             settings: dict[str, Any], device: torch.device) -> None:
    """One atomic file with the weights, optimizer, generators, history and settings of a
    `fit` run, rewritten after every epoch: a stop loses at most the epoch under way."""
    save_checkpoint(model, path, history=state.history.as_dicts(),
                    optimizer=state.optimizer.state_dict(),
                    rng=generator_states(device, shuffle=state.shuffle), run=settings)


def resume_fit(path: str | os.PathLike, model: nn.Module, state: FitState,
               settings: dict[str, Any], device: torch.device) -> None:
    """Load a saved `fit` run into `model` and `state` (a `new_fit_state`), checked against
    `settings`: `fit(state=state)` then continues it bit for bit."""
    payload = read_run(path, model, "run", settings, FIT_RUN)
    try:
        state.optimizer.load_state_dict(payload["optimizer"])
        restore_generators(payload["rng"], device, shuffle=state.shuffle)
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"{path}: its optimizer or random state is broken: {err}") from None
    state.history.extend(EpochRecord(**row) for row in payload["history"])


def fit_resumably(model: nn.Module, train: Tensor, test: Tensor, checkpoint: str | os.PathLike,
                  resume: bool = False, on_epoch=None, **settings: Any):
    """`fit` with its whole state rewritten to `checkpoint` after every epoch; `resume=True`
    continues the run saved there bit for bit (same settings and data only). The run layer's
    wrapper of `fit`, which knows nothing of checkpoints or folders (CONTRIBUTING.md, 'Runs and
    commands'); returns the history.

    `settings` are `fit`'s keyword arguments; an existing checkpoint is refused unless resume.
    """
    from pathlib import Path

    from ..device import training_device
    from ..train import fit, new_fit_state

    if Path(checkpoint).exists() and not resume:
        raise RunError(f"{checkpoint} already holds a run: pass resume=True (--resume) to"
                       " continue it, or choose another checkpoint path")
    device = training_device(settings.pop("device", None))
    model.to(device)
    kept = {k: settings.get(k, default) for k, default in (
        ("batch_size", 128), ("lr", 1e-3), ("beta", 1.0), ("seed", 0), ("optimizer", "adam"),
        ("weight_decay", 0.0), ("binarize", False))}
    state = new_fit_state(model, kept["lr"], kept["seed"], kept["optimizer"],
                          kept["weight_decay"])
    train_x, test_x = (d[0] if isinstance(d, tuple) else d for d in (train, test))
    recorded = {**kept, "train": data_fingerprint(train_x), "test": data_fingerprint(test_x)}
    if resume and Path(checkpoint).exists():
        resume_fit(checkpoint, model, state, recorded, device)

    def saved_then(record, model: nn.Module) -> None:
        save_fit(checkpoint, model, state, recorded, device)  # before anything draws noise
        if on_epoch is not None:
            on_epoch(record, model)

    return fit(model, train, test, device=device, on_epoch=saved_then, state=state, **settings)
