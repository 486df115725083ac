"""Quick settings for tests, full settings for the book.

`make test` sets VAE_QUICK=1 so every notebook runs in seconds; `make book` leaves it unset
and the book shows the real runs. Trained models are cached between chapters in
$VAE_CACHE_DIR (the Makefile uses `.cache/models`, never committed; else ~/.cache/vae-book),
one file per name and setting.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def is_quick() -> bool:
    """True when $VAE_QUICK is set to something other than 0/false/empty."""
    return os.environ.get("VAE_QUICK", "").strip().lower() not in {"", "0", "false", "no"}


def choose(quick: T, full: T) -> T:
    """`quick` under the test setting, `full` in the built book."""
    return quick if is_quick() else full


def cache_dir() -> Path:
    """Where trained models are kept between chapters."""
    env = os.environ.get("VAE_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "vae-book" / "models"


def cached_model(name: str, settings: dict[str, Any], train: Callable[[], Any]):
    """Load a model trained with these settings, or call `train()` -> model and cache it.

    The cache key is the name plus a hash of the settings and the quick flag, so changing a
    setting retrains instead of reusing a stale model. Returns (model, extras) where extras
    holds whatever `train` stored (its history, for instance).
    """
    from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from .device import pick_device

    key = json.dumps({"settings": settings, "quick": is_quick()}, sort_keys=True, default=str)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    path = cache_dir() / f"{name}-{digest}.pt"
    if path.exists():
        try:
            model, extras = load_checkpoint(path, map_location=pick_device())
            return model.eval(), extras
        except CheckpointError:
            path.unlink(missing_ok=True)  # a stale or broken cache entry: train again
    result = train()
    model, extras = result if isinstance(result, tuple) else (result, {})
    save_checkpoint(model, path, **extras)
    return model.eval(), extras
