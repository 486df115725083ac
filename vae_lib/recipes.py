"""The training runs the experiment chapters share, each trained once and cached.

Chapter 8 trains the classic 20-d MLP VAE, chapter 10 interpolates in that same model, chapter 9
trains the notes' convolutional VAE and chapter 11 sweeps beta. Keeping the recipe in one place
means that whichever chapter runs first trains exactly the model the others expect: the same
settings give the same cache entry (`vae_lib.cached_model`), and a chapter run on its own (in
Colab, say) trains it itself.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from .data import load_dataset
from .models import MLPVAE, ConvVAE
from .settings import cached_model
from .train import EpochRecord, History, evaluate, fit


@dataclass
class TrainedVAE:
    """A trained model with what was recorded while training it.

    history      per epoch: mean training loss, test loss, test reconstruction and KL terms
    train_terms  per epoch: `evaluate` on a fixed slice of the training set ({loss, recon, kl}),
                 so training and test curves of each term are measured the same way
    frames       per epoch: reconstructions of `originals` (posterior means), for animations
    """

    model: nn.Module
    history: History
    train_terms: list[dict[str, float]] = field(default_factory=list)
    frames: Tensor | None = None
    originals: Tensor | None = None
    settings: dict[str, Any] = field(default_factory=dict)

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
        return sum(p.numel() for p in self.model.parameters())


def train_vae(
    dataset: str = "mnist",
    model: str = "mlp",
    latent_dim: int = 20,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    beta: float = 1.0,
    size: int | None = None,
    train_size: int | None = None,
    test_size: int | None = None,
    track_size: int = 10_000,
    frames: int = 0,
    seed: int = 0,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train one VAE with Adam and return (model, extras) for `cached_model`.

    model: 'mlp' (`MLPVAE`, 400 hidden units) or 'conv' (`ConvVAE`, needs size=32).
    size resizes the images (32 for the conv VAE); train_size / test_size keep only the first
    images of each split (the quick setting). After every epoch the model is evaluated on the
    first `track_size` training images, and with frames > 0 the first `frames` test images are
    reconstructed through their posterior means.
    """
    train = load_dataset(dataset, "train", size=size)
    test = load_dataset(dataset, "test", size=size)
    train_x = train.images[:train_size] if train_size else train.images
    test_x = test.images[:test_size] if test_size else test.images
    torch.manual_seed(seed)  # the initial weights, so a rerun repeats exactly
    if model == "mlp":
        net: nn.Module = MLPVAE(latent_dim=latent_dim, image_shape=tuple(train_x.shape[1:]))
    elif model == "conv":
        net = ConvVAE(latent_dim=latent_dim)
    else:
        raise ValueError(f"model must be 'mlp' or 'conv', got {model!r}")
    track_x = train_x[:track_size]
    originals = test_x[:frames].clone() if frames else None  # clone: not the whole storage
    train_terms: list[dict[str, float]] = []
    recon_frames: list[Tensor] = []

    def record(_: EpochRecord, net: nn.Module) -> None:
        train_terms.append(evaluate(net, track_x, beta=beta))
        if originals is not None:
            with torch.no_grad():
                device = next(net.parameters()).device
                net.eval()
                mu, _ = net.encode(originals.to(device))
                recon_frames.append(net.decode(mu).cpu())
                net.train()

    history = fit(
        net, train_x, test_x, epochs=epochs, batch_size=batch_size, lr=lr, beta=beta,
        seed=seed, quiet=True, on_epoch=record,
    )
    extras: dict[str, Any] = {"history": history.as_dicts(), "train_terms": train_terms}
    if originals is not None:
        extras["originals"] = originals
        extras["frames"] = torch.stack(recon_frames) if recon_frames else None
    return net.cpu(), extras


_SIGNATURE = inspect.signature(train_vae)


def _settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every argument of `train_vae`, defaults filled in, so equal runs share one cache key."""
    bound = _SIGNATURE.bind(**kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def cached_vae(**settings: Any) -> TrainedVAE:
    """`train_vae(**settings)` through the model cache: trained once, then loaded by any chapter."""
    full = _settings(settings)
    beta = full["beta"]
    beta_tag = f"-beta{beta:g}" if not math.isclose(beta, 1.0) else ""
    name = f"{full['dataset']}-{full['model']}{full['latent_dim']}{beta_tag}"
    model, extras = cached_model(name, full, lambda: train_vae(**full))
    history = History(EpochRecord(**row) for row in extras.get("history", []))
    return TrainedVAE(
        model=model,
        history=history,
        train_terms=list(extras.get("train_terms", [])),
        frames=extras.get("frames"),
        originals=extras.get("originals"),
        settings=full,
    )
