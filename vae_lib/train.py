"""Training and evaluation on tensors that stay on the device.

`fit` keeps the whole data set as one tensor, reshuffles it each epoch and slices
minibatches, which skips the per-image PIL and collation work of a DataLoader (the benchmark in
`benchmarks/fit_vs_dataloader.py` measures the difference). The loop itself is the one
`book/08_training.ipynb` walks through.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .checkpoint import save_checkpoint
from .device import pick_device
from .objectives import elbo


@dataclass
class EpochRecord:
    """One row of a training history; losses are nats per image (negative ELBO)."""

    epoch: int
    train_loss: float
    test_loss: float
    test_recon: float
    test_kl: float
    seconds: float


class History(list):
    """A list of `EpochRecord`s with column access: `history.column("test_loss")`."""

    def column(self, name: str) -> list[float]:
        return [getattr(r, name) for r in self]

    def as_dicts(self) -> list[dict]:
        return [asdict(r) for r in self]


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generator and return a CPU generator for shuffling."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _as_images(data: Tensor | tuple, what: str) -> Tensor:
    images = data[0] if isinstance(data, tuple) else data
    if not isinstance(images, Tensor):
        raise TypeError(f"{what} must be a tensor of images or an (images, labels) pair")
    if images.shape[0] == 0:
        raise ValueError(f"{what} is empty")
    return images


def _binarize(x: Tensor) -> Tensor:
    """Dynamic binarization: each pixel is 1 with its grey value as probability, anew each time."""
    return torch.bernoulli(x)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    images: Tensor,
    batch_size: int = 1000,
    beta: float = 1.0,
    binarize: bool = False,
) -> dict[str, float]:
    """Mean negative ELBO, reconstruction term and KL per image over a data set."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    totals = {"loss": 0.0, "recon": 0.0, "kl": 0.0}
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size].to(device, non_blocking=True)
        if binarize:
            x = _binarize(x)
        terms = elbo(model, x, beta)
        totals["loss"] -= terms.total.sum().item()
        totals["recon"] -= terms.recon.sum().item()
        totals["kl"] += terms.kl.sum().item()
    model.train(was_training)
    return {k: v / images.shape[0] for k, v in totals.items()}


def fit(
    model: nn.Module,
    train: Tensor | tuple,
    test: Tensor | tuple,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    beta: float = 1.0,
    seed: int = 0,
    device: str | torch.device | None = None,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    binarize: bool = False,
    quiet: bool = False,
    checkpoint: str | os.PathLike | None = None,
    on_epoch: Callable[[EpochRecord, nn.Module], None] | None = None,
    loss_fn: Callable[[nn.Module, Tensor, int], Tensor] | None = None,
) -> History:
    """Train a VAE by minimising the (beta-weighted) negative ELBO with minibatches.

    The returned history has, per epoch, the mean training loss over the epoch's minibatches
    and the test loss with its reconstruction and KL terms, in nats per image. Runs with the
    same seed repeat exactly on the CPU. `on_epoch(record, model)` is called after each epoch
    (to save reconstructions, say); `checkpoint` is rewritten atomically after each epoch.
    `loss_fn(model, x, step)`, with `step` the global optimisation step from 0, replaces the
    minibatch loss to minimise (None: the negative ELBO); see `vae_lib.losses`.
    """
    import time

    _check_settings(epochs, batch_size, lr)
    train_x, test_x = _as_images(train, "train"), _as_images(test, "test")
    device = torch.device(device) if device is not None else pick_device()
    generator = seed_everything(seed)
    model.to(device).train()
    train_x = train_x.to(device)
    opt = _make_optimizer(optimizer, model, lr, weight_decay)
    history = History()

    step = 0

    def batch_loss(x: Tensor) -> Tensor:
        nonlocal step
        x = _binarize(x) if binarize else x
        loss = -elbo(model, x, beta).total.mean() if loss_fn is None else loss_fn(model, x, step)
        step += 1
        return loss

    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        desc = f"epoch {epoch}/{epochs}"
        train_loss = _train_epoch(opt, train_x, batch_size, generator, batch_loss, desc, quiet)
        test = evaluate(model, test_x, beta=beta, binarize=binarize)
        record = EpochRecord(
            epoch,
            train_loss,
            test["loss"],
            test["recon"],
            test["kl"],
            time.perf_counter() - started,
        )
        history.append(record)
        if not quiet:
            tqdm.write(
                f"epoch {epoch}: train {record.train_loss:.2f}  test {record.test_loss:.2f}"
                f" (recon {record.test_recon:.2f}, KL {record.test_kl:.2f}) nats/image"
            )
        if checkpoint is not None:
            save_checkpoint(model, checkpoint, history=history.as_dicts())
        if on_epoch is not None:
            on_epoch(record, model)
    model.eval()
    return history


def _check_settings(epochs: int, batch_size: int, lr: float) -> None:
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not lr > 0:
        raise ValueError(f"learning rate must be > 0, got {lr}")


def _train_epoch(
    opt: torch.optim.Optimizer,
    train_x: Tensor,
    batch_size: int,
    generator: torch.Generator,
    batch_loss: Callable[[Tensor], Tensor],
    desc: str,
    quiet: bool,
) -> float:
    """One pass over a reshuffled on-device tensor; returns the mean loss per image.

    The shared inner loop of `fit` and `fit_autoencoder`: slicing minibatches out of one tensor
    is what makes it faster than a DataLoader.
    """
    n = train_x.shape[0]
    order = torch.randperm(n, generator=generator).to(train_x.device)
    running = 0.0
    bar = tqdm(range(math.ceil(n / batch_size)), desc=desc, disable=quiet, leave=False)
    for step in bar:
        x = train_x[order[step * batch_size : (step + 1) * batch_size]]
        loss = batch_loss(x)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at {desc}, step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running += loss.item() * x.shape[0]
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.1f}")
    return running / n


def _make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float):
    optimizers = {"adam": torch.optim.Adam, "adagrad": torch.optim.Adagrad, "sgd": torch.optim.SGD}
    if name not in optimizers:
        raise ValueError(f"unknown optimizer {name!r}; choose from {sorted(optimizers)}")
    return optimizers[name](model.parameters(), lr=lr, weight_decay=weight_decay)


@torch.no_grad()
def _autoencoder_test_loss(model: nn.Module, images: Tensor, batch_size: int = 1000) -> float:
    """Mean reconstruction loss (summed binary cross-entropy, nats per image) over a data set."""
    device = next(model.parameters()).device
    total = 0.0
    for start in range(0, images.shape[0], batch_size):
        total += model.loss(images[start : start + batch_size].to(device)).sum().item()
    return total / images.shape[0]


def fit_autoencoder(
    model: nn.Module,
    train: Tensor | tuple,
    test: Tensor | tuple,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device | None = None,
    quiet: bool = False,
) -> History:
    """Train a plain `Autoencoder` on reconstruction alone (its `loss(x)`, nats per image).

    `fit` trains VAEs through the ELBO; a deterministic autoencoder has no KL term and no
    sampling, so it gets this smaller loop, the same minibatch scheme with Adam. It exists for
    `book/02_autoencoders.ipynb`, which sets the two kinds of model side by side. The history
    has the same `EpochRecord` rows as `fit`'s (so `plot_losses` draws it), with the test loss
    as `test_recon` and `test_kl` = 0. Runs with the same seed repeat exactly on the CPU.
    """
    import time

    _check_settings(epochs, batch_size, lr)
    if not callable(getattr(model, "loss", None)):
        raise TypeError("fit_autoencoder needs a model with a loss(x) method, like Autoencoder")
    train_x, test_x = _as_images(train, "train"), _as_images(test, "test")
    device = torch.device(device) if device is not None else pick_device()
    generator = seed_everything(seed)
    model.to(device).train()
    train_x = train_x.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        desc = f"epoch {epoch}/{epochs}"
        train_loss = _train_epoch(
            opt, train_x, batch_size, generator, lambda x: model.loss(x).mean(), desc, quiet
        )
        model.eval()
        test_loss = _autoencoder_test_loss(model, test_x)
        model.train()
        record = EpochRecord(
            epoch, train_loss, test_loss, test_loss, 0.0, time.perf_counter() - started
        )
        history.append(record)
        if not quiet:
            tqdm.write(
                f"epoch {epoch}: train {record.train_loss:.2f}  test {test_loss:.2f} nats/image"
            )
    model.eval()
    return history
