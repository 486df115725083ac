"""The runs chapters share: the quick/full switch, the model cache, and the chapters' VAE run.

`make test` sets VAE_QUICK=1 so every notebook runs in seconds; `make book` leaves it unset and
the book shows the real runs. Chapter 8 trains the classic 20-d MLP VAE, chapter 10 explores
that same model, chapter 9 trains the notes' convolutional VAE and chapter 11 sweeps beta: each
run is trained once and kept in $VAE_CACHE_DIR (the Makefile uses `.cache/models`, never
committed; else ~/.cache/vae-book/models), so whichever chapter runs first trains exactly the
model the others expect, and a chapter opened on its own (in Colab, say) trains it itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import VAEConfig
from .data import load_dataset, resize
from .device import model_device, pick_device
from .evaluation import random_subset
from .models import build_model, check_model_size
from .runkit.code import code_version
from .runkit.state import fit_resumably
from .train import EpochRecord, History, evaluate, fit

T = TypeVar("T")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def is_quick() -> bool:
    """True when $VAE_QUICK is set to something other than 0/false/empty (CONTRIBUTING.md).

    Chapters 10, 11 and 13 ask it where a check holds only in the full run.
    """
    return os.environ.get("VAE_QUICK", "").strip().lower() not in {"", "0", "false", "no"}


def choose(quick: T, full: T) -> T:
    """`quick` under the test setting, `full` in the built book; used by every chapter, from
    `book/02_autoencoders.ipynb` on (CONTRIBUTING.md, 'Notebooks')."""
    return quick if is_quick() else full


def cache_dir() -> Path:
    """Where trained models are kept between chapters."""
    env = os.environ.get("VAE_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "vae-book" / "models"


def committed_results(name: str) -> Path:
    """The folder of a committed experiment's results, e.g. 'aevb' (`book/12_aevb.ipynb`).

    In the repository it is experiments/<name>; an installed vae_lib carries a copy as package
    data (vae_lib.experiments), so a chapter opened on its own, as Colab opens it, finds it too.
    """
    from importlib import resources

    candidates = [Path(__file__).parent.parent / "experiments" / name]
    try:
        candidates.insert(0, Path(str(resources.files("vae_lib.experiments") / name)))
    except ModuleNotFoundError:
        pass
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise FileNotFoundError(
        f"the committed results {name!r} are not installed; reinstall vae_lib from the repository"
    )


def cached_model(
    name: str, settings: dict[str, Any], train: Callable[[], Any]
) -> tuple[nn.Module, dict[str, Any]]:
    """Load a model trained with these settings, or call `train()` -> model and cache it.

    The key is the name plus a hash of the settings, the quick flag and the library's source,
    so changing a setting or the code retrains instead of reusing a stale model. Returns
    (model, extras) where extras holds whatever `train` stored (its history, for instance); the
    model sits on `pick_device()` either way. Used by `cached_vae` and `aevb.cached_run`; a
    chapter's other models go through it too (CONTRIBUTING.md, 'Notebooks'), as
    `book/17_priors.ipynb`'s do.
    """
    digest = _settings_digest(settings)
    path = cache_dir() / f"{safe_name(name)}-{digest}.pt"
    if path.is_file():
        try:
            model, extras = load_checkpoint(path, map_location=pick_device())
            # an entry copied over another's file holds another model: it says so here
            if extras.pop("cache_key", None) == _cache_key(name, settings):
                return model.eval(), extras
        except CheckpointError:
            pass  # foreign, corrupt, tampered or stale
        path.unlink(missing_ok=True)  # train again
    result = train()
    model, extras = result if isinstance(result, tuple) else (result, {})
    try:
        save_checkpoint(model, path, cache_key=_cache_key(name, settings), **extras)
    except OSError as err:  # a read-only or full cache: keep the model, say so once
        import warnings

        warnings.warn(f"could not cache {name} in {cache_dir()}: {err}", stacklevel=2)
    return model.to(pick_device()).eval(), extras


def safe_name(name: str) -> str:
    """`name` if it is a plain file-name stem; `../../x`, `/abs` or `a/b` would leave the cache.

    So the cache keeps every file inside `cache_dir()`.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"cache name must be letters, digits, '.', '_', '+' or '-' (no slashes"
                         f" or leading dot), got {name!r}")
    return name


def _cache_key(name: str, settings: dict[str, Any]) -> str:
    """What a cache entry was trained for, stored inside it and compared on load."""
    return json.dumps({"name": name, "settings": settings, "quick": is_quick(),
                       "code": code_version()}, sort_keys=True, default=str)


def _settings_digest(settings: dict[str, Any]) -> str:
    key = json.dumps({"settings": settings, "quick": is_quick(), "code": code_version()},
                     sort_keys=True, default=str)
    return hashlib.sha1(key.encode()).hexdigest()[:10]


@dataclass
class TrainedVAE:
    """A trained model with what was recorded while training it: what `cached_vae` returns.

    history      per epoch: mean training loss, test loss, test reconstruction and KL terms
    train_terms  per epoch: `evaluate` on a fixed slice of the training set ({loss, recon, kl}),
                 so training and test curves of each term are measured the same way
    frames       per epoch: reconstructions of `originals` (posterior means), for animations
    """

    model: nn.Module
    history: History
    config: VAEConfig
    train_terms: list[dict[str, float]] = field(default_factory=list)
    frames: Tensor | None = None
    originals: Tensor | None = None

    @property
    def test_loss(self) -> float:
        """The last epoch's test loss: negative ELBO, nats per image."""
        return self.history[-1].test_loss

    @property
    def seconds_per_epoch(self) -> float:
        """Mean wall-clock seconds per epoch (on the machine that trained it)."""
        return sum(self.history.column("seconds")) / len(self.history)

    @property
    def parameters(self) -> int:
        """How many numbers the model learns."""
        return sum(p.numel() for p in self.model.parameters())


def train_vae(
    config: VAEConfig,
    quiet: bool = True,
    on_epoch: Callable[[EpochRecord, nn.Module], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train the run `config` describes; returns (model, extras) for `cached_model`.

    `on_epoch(record, model)` runs after each epoch's own recording (the command line saves
    pictures there); `checkpoint` and `resume` go to `fit_resumably` (the command line's
    --resume).
    """
    train = load_dataset(config.dataset, "train").images
    test = load_dataset(config.dataset, "test").images
    # seeded random subsets, drawn alike from both splits, never the first N (chapter 12);
    # resized after subsetting, so a small run at a large size stays small
    train_x = random_subset(train, config.train_size)
    test_x = random_subset(test, config.test_size)
    if config.image_size is not None:
        train_x, test_x = resize(train_x, config.image_size), resize(test_x, config.image_size)
    spec = config.model_spec(tuple(train_x.shape[1:]))
    check_model_size(spec)
    torch.manual_seed(config.seed)  # the initial weights, so a rerun repeats exactly
    net = build_model(spec)
    track_x = random_subset(train_x, config.track_size) if config.track_size else train_x[:0]
    originals = test_x[: config.frames].clone() if config.frames else None
    train_terms: list[dict[str, float]] = []
    recon_frames: list[Tensor] = []

    def record(epoch: EpochRecord, net: nn.Module) -> None:
        if config.track_size:
            train_terms.append(evaluate(net, track_x, beta=config.beta, binarize=config.binarize))
        if originals is not None:
            with torch.no_grad():
                net.eval()
                mu, _ = net.encode(originals.to(model_device(net)))
                recon_frames.append(net.decode(mu).cpu())
                net.train()
        if on_epoch is not None:
            on_epoch(epoch, net)

    settings = {"epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr,
                "beta": config.beta, "binarize": config.binarize, "seed": config.seed,
                "quiet": quiet, "on_epoch": record}
    if checkpoint is None:
        history = fit(net, train_x, test_x, **settings)
    else:  # the command line's run: its state saved after every epoch (`vae_lib.runkit`)
        history = fit_resumably(net, train_x, test_x, checkpoint, resume, **settings)
    extras: dict[str, Any] = {"history": history.as_dicts(), "train_terms": train_terms}
    if originals is not None:
        extras["originals"] = originals
        extras["frames"] = torch.stack(recon_frames) if recon_frames else None
    return net, extras


def cached_vae(config: VAEConfig | None = None, quiet: bool | None = None,
               **settings: Any) -> TrainedVAE:
    """The run `config` (or `VAEConfig(**settings)`) through the model cache.

    Trained once, then loaded by any chapter. Progress bars show in a live session at the full
    setting and stay off in tests and builds (`quiet`). Explained in `book/08_training.ipynb`.
    """
    config = replace(config, **settings) if config is not None else VAEConfig(**settings)
    quiet = _quiet_by_default() if quiet is None else quiet
    model, extras = cached_model(config.name(), asdict(config),
                                 lambda: train_vae(config, quiet=quiet))
    return TrainedVAE(
        model=model,
        history=History(EpochRecord(**row) for row in extras.get("history", [])),
        config=config,
        train_terms=list(extras.get("train_terms", [])),
        frames=extras.get("frames"),
        originals=extras.get("originals"),
    )


def _quiet_by_default() -> bool:
    """No progress bars under `make test` / `make book` (VAE_QUICK set or executed by nbclient)."""
    return is_quick() or os.environ.get("VAE_PROGRESS", "") in {"0", "false", "no"}
