"""The evaluation protocol: which images a held-out number is computed on, and how sure it is.

Two rules, both from chapter 12's lesson on MNIST's two halves (its first 5,000 test images
come from NIST's cleaner SD-3 writers, the last 5,000 from SD-1, so `test[:N]` is an easier
set than the whole): a number is computed on the whole split or on a *seeded random* subset,
drawn the same way from train and test, never on the first N; and a number carries its
standard error. Three different errors, named apart:

- `mean_se`: the spread between images, the error of a mean over a sample of images;
- `paired_difference`: two models on the same images (and the same noise), the error of
  the mean of the per-image differences, far smaller than either model's own spread;
- `monte_carlo_se`: the noise of a stochastic estimate (the z drawn by an ELBO or L_K)
  redrawn for the same images, which says nothing about other images.

Explained in `book/12_aevb.ipynb` (the subsets) and `book/13_log_likelihood.ipynb` (the errors).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch import Tensor

from .checks import check_count

SUBSET_SEED = 0  # one draw for the whole book: every chapter's subset of a split is the same


@contextlib.contextmanager
def separate_noise(device: torch.device | str = "cpu", seed: int | None = None) -> Iterator[None]:
    """Draw the block's random numbers from a copy of the global generator (seeded with `seed`
    if given), then put the training stream back as it was.

    The one way evaluation noise is kept off a training run's generator: `fit` evaluates and
    calls its epoch hook inside it, the IWAE recipe's L_5000 (`vae_lib.iwae`) draws its fixed
    noise inside it, so a run's training noise depends only on its seed and its steps, never on
    how often it was evaluated or stopped.
    """
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(seed)
        yield


class Estimate(NamedTuple):
    """A mean with its standard error and the number of values: what `mean_se`,
    `paired_difference` and `monte_carlo_se` return (the errors: `book/13_log_likelihood`)."""

    mean: float
    se: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.se:.2f}"


def subset_indices(size: int, n: int | None, seed: int = SUBSET_SEED) -> Tensor:
    """Sorted indices of a seeded random n-subset of range(size); all of them for n = None.

    The same (size, n, seed) gives the same indices on every machine (a CPU generator), so a
    train subset and a test subset of the same n are drawn alike; chapters 2, 10 and 13 pick
    their images with it.
    """
    check_count("size", size)
    if n is None or n >= size:
        return torch.arange(size)
    check_count("n", n)
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed))
    return order[:n].sort().values


def random_subset(images: Tensor, n: int | None, seed: int = SUBSET_SEED) -> Tensor:
    """`images` at `subset_indices(len(images), n, seed)`: the held-out set of chapter 12."""
    return images[subset_indices(images.shape[0], n, seed)]


def describe_subset(size: int, n: int | None, seed: int = SUBSET_SEED) -> str:
    """How a subset was drawn, in words, for manifests and table captions (those of
    `book/13_log_likelihood.ipynb`, say), so a number says which images it is about."""
    if n is None or n >= size:
        return f"all {size}"
    return f"random {n} of {size} (seed {seed})"


def _values(values: Tensor | list[float], what: str) -> Tensor:
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if v.numel() < 2:
        raise ValueError(f"{what}: a standard error needs at least 2 values, got {v.numel()}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{what}: values must be finite")
    return v


def mean_se(values: Tensor | list[float]) -> Estimate:
    """The mean of per-image values and its standard error, std / sqrt(n) (chapter 13).

    This is the spread between images: how far the mean would move on another sample of
    images from the same population.
    """
    v = _values(values, "mean_se")
    return Estimate(float(v.mean()), float(v.std(unbiased=True)) / math.sqrt(v.numel()),
                    v.numel())


def paired_difference(a: Tensor | list[float], b: Tensor | list[float]) -> Estimate:
    """mean(a - b) with the paired standard error, for two models on the same images.

    The per-image differences cancel what the images share (a hard digit is hard for both
    models), so this error is the one to rank two models with (chapter 13).
    """
    a, b = _values(a, "paired_difference"), _values(b, "paired_difference")
    if a.shape != b.shape:
        raise ValueError(f"paired_difference: {a.numel()} values against {b.numel()};"
                         " a paired comparison needs the same images")
    return mean_se(a - b)


def monte_carlo_se(redraws: Tensor) -> Estimate:
    """The Monte Carlo error of a stochastic per-image estimate, from R >= 2 redraws.

    `redraws` has shape (R, n): row r is the estimate on the same n images with the noise
    drawn afresh. The mean is over all R * n values; the error is the spread of the R
    image-averages, divided by sqrt(R): the error of the mean that the noise alone causes
    (chapter 13). It is not the spread between images (`mean_se`).
    """
    r = torch.as_tensor(redraws, dtype=torch.float64)
    if r.dim() != 2 or r.shape[0] < 2:
        raise ValueError("monte_carlo_se: pass redraws of shape (R, n) with R >= 2,"
                         f" got shape {tuple(r.shape)}")
    per_draw = r.mean(dim=1)
    est = mean_se(per_draw)
    return Estimate(est.mean, est.se, r.shape[1])


@torch.no_grad()
def per_image_elbo(model: torch.nn.Module, images: Tensor, redraws: int = 4,
                   batch_size: int = 1000) -> dict[str, Tensor]:
    """-ELBO ("loss"), distortion ("recon", minus the reconstruction term) and rate ("kl") of
    every image, once per draw of the noise: tensors of shape (redraws, n), on the CPU.

    Draw r uses a generator seeded with r, so two models of the same latent size evaluated with
    the same `batch_size` see the same noise on the same images, and their per-image
    differences are paired in both; the terms
    are the unweighted ones, whatever beta a model was trained with (chapters 9-11).
    """
    from .device import model_device
    from .objectives import elbo

    check_count("redraws", redraws, high=1000)
    device = model_device(model)
    was_training = model.training
    model.eval()
    draws: dict[str, list[Tensor]] = {"loss": [], "recon": [], "kl": []}
    for r in range(redraws):
        generator = torch.Generator().manual_seed(r)
        parts: dict[str, list[Tensor]] = {key: [] for key in draws}
        for start in range(0, images.shape[0], batch_size):
            terms = elbo(model, images[start : start + batch_size].to(device),
                         generator=generator)
            parts["loss"].append(-terms.total.cpu())
            parts["recon"].append(-terms.recon.cpu())
            parts["kl"].append(terms.kl.cpu())
        for key, rows in parts.items():
            draws[key].append(torch.cat(rows))
    model.train(was_training)
    return {key: torch.stack(rows) for key, rows in draws.items()}


def outside(estimate: Estimate, z: float = 2.0) -> bool:
    """True when the interval mean ± z SE excludes 0: the test every ranking of chapters 9-15
    asserts before it says that one model beats another."""
    return abs(estimate.mean) > z * estimate.se


def sum_of_products(values: list[Tensor], weights: list[int]) -> float:
    """sum_i values[i] * weights[i] in float64, read back from the device in one transfer and
    added in order, as a running Python sum would (`fit`'s epoch loss, without a wait on the
    device at every step)."""
    total = 0.0
    if values:
        for value, weight in zip(torch.stack(values).cpu().double().tolist(), weights,
                                 strict=True):
            total += value * weight
    return total
