"""Kingma & Welling (2013), Section 5 and Appendix C: the training and evaluation of Figure 2.

Every run is deterministic given its seed on a given CPU and thread count: the global generator
is seeded once per run (the reparameterization noise), a separate generator shuffles, and the
bound is evaluated on fixed subsets with its own fixed noise (the same noise at every
evaluation point, so the curves are not jagged by Monte Carlo error). Explained in
`book/12_aevb.ipynb`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..models import MLPVAE, build_model
from ..objectives import elbo
from .config import BATCH_SIZE, AEVBConfig


@dataclass(frozen=True)
class CurvePoint:
    """One evaluation: the mean lower bound per datapoint (nats) after `samples_seen` samples.

    A point of Figure 2, and one row of a curve's CSV (`vae_lib.aevb.results`).
    """

    samples_seen: int
    train_bound: float
    test_bound: float
    wall_seconds: float
    train_se: float | None = None  # standard errors between images (not in older curves)
    test_se: float | None = None


@dataclass(frozen=True)
class Data:
    """The training images and the fixed subsets the bounds are evaluated on: what `load_data`
    returns (chapter 12 calls it), loaded once and shared by every curve of a config."""

    train: Tensor
    eval_train: Tensor
    eval_test: Tensor


def paper_init_(model: nn.Module, std: float, seed: int = 0) -> nn.Module:
    """Overwrite every weight and bias with draws from N(0, std^2), in place; returns the model.

    The draws come from their own generator seeded with `seed`, so the initial parameters do
    not depend on how many random numbers were used before: a curve rerun on its own starts
    from the weights it started from inside the whole figure's run.
    """
    if not std > 0:
        raise ValueError(f"init std must be > 0, got {std}")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * std)
    return model


def paper_model(config: AEVBConfig, latent_dim: int) -> MLPVAE:
    """The paper's VAE for the config's data set, with N(0, init_std^2) parameters."""
    return paper_init_(build_model(config.model_spec(latent_dim)), config.init_std, config.seed)


def evaluation_points(config: AEVBConfig, batch_size: int = BATCH_SIZE) -> list[int]:
    """Log-spaced sample counts, multiples of the batch size, from `first` up to `samples`.

    `per_decade` points per factor of ten; `samples` itself is always the last point.
    """
    first, max_samples = config.first, config.samples
    if first < batch_size:
        raise ValueError(f"the first point ({first}) must be at least a batch ({batch_size})")
    points: list[int] = []
    k = 0
    while (value := first * 10 ** (k / config.per_decade)) <= max_samples * (1 + 1e-9):
        rounded = int(round(value / batch_size)) * batch_size
        if not points or rounded > points[-1]:
            points.append(rounded)
        k += 1
    last = int(math.ceil(max_samples / batch_size)) * batch_size
    if points[-1] < last:
        points.append(last)
    return points


@torch.no_grad()
def bounds_per_image(model: nn.Module, images: Tensor, seed: int = 1,
                     batch_size: int = 1000) -> Tensor:
    """The one-sample ELBO of each image in nats, with noise from a generator seeded `seed`.

    The same seed gives the same noise every time, so evaluating a model twice gives the same
    numbers and successive points of a learning curve differ only because the model changed;
    two models of the same latent size evaluated with the same seed see the same noise, so
    their per-image bounds can be compared in pairs (`book/12_aevb.ipynb`).
    """
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size]
        out.append(elbo(model, x, generator=generator).total.double().cpu())
    model.train(was_training)
    return torch.cat(out)


def lower_bound(model: nn.Module, images: Tensor, seed: int = 1, batch_size: int = 1000) -> float:
    """The mean one-sample ELBO per image in nats: the mean of `bounds_per_image`."""
    return float(bounds_per_image(model, images, seed, batch_size).mean())


def load_data(config: AEVBConfig) -> Data:
    """The training set and the evaluation subsets of train and test (chapter 12).

    Seeded random subsets of `eval_train` / `eval_test` images, drawn alike from both splits
    (`vae_lib.evaluation`; MNIST's first test images are easier than the rest), or the first
    N for results made before that (`eval_subset="first"`). Frey Face has only 1,765 training
    and 200 test frames, so its subsets are the whole splits.
    """
    from ..data import load_dataset
    from ..evaluation import random_subset

    train = load_dataset(config.dataset, "train").images
    test = load_dataset(config.dataset, "test").images
    if config.eval_subset == "first":
        return Data(train, train[: config.eval_train].clone(), test[: config.eval_test].clone())
    return Data(train, random_subset(train, config.eval_train),
                random_subset(test, config.eval_test))
