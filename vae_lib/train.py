"""Training and evaluation on tensors that stay on the device.

`fit` keeps the whole data set as one tensor, reshuffles it each epoch and slices
minibatches, which skips the per-image PIL and collation work of a DataLoader (the benchmark in
`benchmarks/fit_vs_dataloader.py` measures the difference). The loop itself is the one
`book/08_training.ipynb` walks through. Any model with `objective(x, beta) -> ELBO` trains here:
the VAEs and the plain `Autoencoder` of `book/02_autoencoders.ipynb` alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .checks import (
    check_beta,
    check_count,
    check_diverged,
    check_learning_rate,
    check_pixels,
    inputs_checked,
)
from .device import accumulator_dtype, model_device, training_device
from .evaluation import separate_noise, sum_of_products

LossFn = Callable[[nn.Module, Tensor, int], Tensor]


@dataclass
class EpochRecord:
    """One row of a training history; losses are nats per image (negative ELBO), so runs of
    any batch size or data set size compare directly.
    """

    epoch: int
    train_loss: float
    test_loss: float
    test_recon: float
    test_kl: float
    seconds: float


class History(list):
    """A list of `EpochRecord`s with column access: `history.column("test_loss")`.

    What `fit` returns and `plot_losses` draws.
    """

    def column(self, name: str) -> list[float]:
        """One field of every epoch, in order."""
        return [getattr(r, name) for r in self]

    def as_dicts(self) -> list[dict]:
        """Plain dicts, for checkpoints and the run cache."""
        return [asdict(r) for r in self]


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generator and return a CPU generator for shuffling.

    Why two: the global one drives the reparameterization noise, the returned one only the
    order of the minibatches, so a checkpoint can save and restore each on its own.
    """
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _as_images(data: Tensor | tuple, what: str) -> Tensor:
    images = data[0] if isinstance(data, tuple) else data
    if not isinstance(images, Tensor):
        raise TypeError(f"{what} must be a tensor of images or an (images, labels) pair")
    if images.dim() == 0 or images.shape[0] == 0:
        raise ValueError(f"{what} is empty")
    return check_pixels(images, what)


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
    """Mean negative ELBO, reconstruction term and KL per image over a data set.

    For a plain autoencoder the loss is its reconstruction error and the KL is 0. Explained in
    `book/08_training.ipynb`.
    """
    check_count("batch_size", batch_size)
    beta = check_beta(beta)
    images = _as_images(images, "images")
    device = model_device(model)
    was_training = model.training
    model.eval()
    sums = torch.zeros(3, dtype=accumulator_dtype(device), device=device)  # where the model is
    with inputs_checked():
        for start in range(0, images.shape[0], batch_size):
            x = images[start : start + batch_size].to(device, non_blocking=True)
            terms = model.objective(_binarize(x) if binarize else x, beta)
            terms_sum = [-terms.total.sum(), -terms.recon.sum(), terms.kl.sum()]
            sums += torch.stack(terms_sum).to(sums.dtype)
    model.train(was_training)
    totals = dict(zip(("loss", "recon", "kl"), sums.tolist(), strict=True))
    return {k: v / images.shape[0] for k, v in totals.items()}


def negative_elbo(beta: float = 1.0) -> LossFn:
    """The default training loss: minus the model's objective, averaged over the minibatch.

    A loss function takes (model, minibatch, step) so that schedules over the steps (a KL
    warm-up, say) fit the same slot. Explained in `book/08_training.ipynb`.
    """
    return lambda model, x, step: -model.objective(x, beta).total.mean()


@dataclass
class FitState:
    """What `fit` changes besides the weights: the optimizer, the shuffling generator, the
    history so far. Passing one to `fit` continues where it stands; the run layer
    (`runkit.state`) saves and restores it to resume a stopped run bit for bit."""

    optimizer: torch.optim.Optimizer
    shuffle: torch.Generator
    history: History = field(default_factory=History)


def new_fit_state(model: nn.Module, lr: float = 1e-3, seed: int = 0, optimizer: str = "adam",
                  weight_decay: float = 0.0) -> FitState:
    """A fresh state for `model` (already on its device): seeds the global generator, which
    draws the reparameterization noise, and one that only shuffles (`seed_everything`)."""
    shuffle = seed_everything(seed)
    return FitState(_make_optimizer(optimizer, model, lr, weight_decay), shuffle)


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
    on_epoch: Callable[[EpochRecord, nn.Module], None] | None = None,
    loss_fn: LossFn | None = None,
    state: FitState | None = None,
) -> History:
    """Train a model by minimising its negative (beta-weighted) ELBO on minibatches.

    The returned history has, per epoch, the mean training loss over the epoch's minibatches
    and the test loss with its reconstruction and KL terms, in nats per image. The model is
    trained and left on `device` (`pick_device()` unless given). Runs with the same seed repeat
    exactly on the CPU at a fixed thread count. `on_epoch(record, model)` is called after each
    epoch (to save reconstructions, or the run's state); `loss_fn` replaces the training loss
    (see `negative_elbo`); `state` continues a run from where it stands (`new_fit_state`; the
    seed and optimizer settings are then its own). A loss or weights that stop being finite
    raise FloatingPointError at the end of the epoch. Explained in `book/08_training.ipynb`.
    """
    check_count("epochs", epochs, low=0)
    check_count("batch_size", batch_size)
    check_learning_rate(lr)
    beta = check_beta(beta)
    if not callable(getattr(model, "objective", None)):
        raise TypeError("fit needs a model with an objective(x, beta) method, like the book's")
    train_x, test_x = _as_images(train, "train"), _as_images(test, "test")
    device = training_device(device)
    model.to(device).train()
    train_x = train_x.to(device)
    state = state or new_fit_state(model, lr, seed, optimizer, weight_decay)
    history, loss_fn = state.history, loss_fn or negative_elbo(beta)
    steps = math.ceil(train_x.shape[0] / batch_size) * len(history)
    for epoch in range(len(history) + 1, epochs + 1):
        started = time.perf_counter()

        def batch_loss(x: Tensor, step: int, first: int = steps) -> Tensor:
            return loss_fn(model, _binarize(x) if binarize else x, first + step)

        with inputs_checked():  # checked once above, not again in every minibatch
            train_loss = _train_epoch(state, train_x, batch_size, batch_loss,
                                      f"epoch {epoch}/{epochs}", quiet)
        steps += math.ceil(train_x.shape[0] / batch_size)
        with separate_noise(device):
            test_terms = evaluate(model, test_x, beta=beta, binarize=binarize)
        record = EpochRecord(epoch, train_loss, test_terms["loss"], test_terms["recon"],
                             test_terms["kl"], time.perf_counter() - started)
        check_diverged(torch.tensor([record.train_loss, record.test_loss]),
                       f"in epoch {epoch}", model)
        history.append(record)
        if not quiet:
            tqdm.write(
                f"epoch {epoch}: train {record.train_loss:.2f}  test {record.test_loss:.2f}"
                f" (recon {record.test_recon:.2f}, KL {record.test_kl:.2f}) nats/image"
            )
        if on_epoch is not None:
            with separate_noise(device):
                on_epoch(record, model)
    model.eval()
    return history


def _train_epoch(
    state: FitState,
    train_x: Tensor,
    batch_size: int,
    batch_loss: Callable[[Tensor, int], Tensor],
    desc: str,
    quiet: bool,
) -> float:
    """One pass over a reshuffled on-device tensor; returns the mean loss per image.

    Slicing minibatches out of one tensor is what makes it faster than a DataLoader. The
    losses are kept as tensors and read back once, at the end: asking for each step's value
    would make a GPU wait for it every step.
    """
    n, opt = train_x.shape[0], state.optimizer
    order = torch.randperm(n, generator=state.shuffle).to(train_x.device)
    losses, sizes = [], []
    bar = tqdm(range(math.ceil(n / batch_size)), desc=desc, disable=quiet, leave=False)
    for step in bar:
        x = train_x[order[step * batch_size : (step + 1) * batch_size]]
        loss = batch_loss(x, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        try:
            opt.step()
        except RuntimeError as err:  # a step too large for float32 (lr 1e300, say)
            raise FloatingPointError(f"training diverged at {desc}, step {step}: {err};"
                                     " try a smaller learning rate") from None
        losses.append(loss.detach())
        sizes.append(x.shape[0])
        if not quiet and step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.1f}")
    return sum_of_products(losses, sizes) / n


def _make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float):
    optimizers = {"adam": torch.optim.Adam, "adagrad": torch.optim.Adagrad, "sgd": torch.optim.SGD}
    if name not in optimizers:
        raise ValueError(f"unknown optimizer {name!r}; choose from {sorted(optimizers)}")
    return optimizers[name](model.parameters(), lr=lr, weight_decay=weight_decay)
