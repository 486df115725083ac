"""Yardsticks for a VAE's train and test log-likelihood, exact and in closed form.

Independent pixels (a Bernoulli per pixel for MNIST's grey values, a Gaussian per pixel for
Frey Face) have no latent code at all; probabilistic PCA (Tipping & Bishop 1999) has one, a
linear-Gaussian latent-variable model, with an exact log-likelihood. On MNIST the per-pixel
Bernoulli shows how much easier the first half of the test set is than the second; on Frey
Face the baselines show how much of a train-test gap comes with the choice of held-out frames
(`book/12_aevb.ipynb`). Images are flattened to vectors; every log-likelihood is in nats per
image, computed in float64.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)
VARIANCE_FLOOR = 1e-4  # a pixel that never changes in training would otherwise get variance 0


def _flat(images: Tensor) -> Tensor:
    return images.reshape(images.shape[0], -1).double()


class PixelGaussian(NamedTuple):
    """Independent Gaussians, one per pixel: mean and variance, the Frey Face yardstick with no
    latent code at all (a row of `baseline_table`)."""

    mean: Tensor
    var: Tensor


class PPCA(NamedTuple):
    """x = W z + mean + noise, z ~ N(0, I_q), noise ~ N(0, sigma2 I) (`book/12_aevb.ipynb`).

    Kept as its covariance's eigen-decomposition: the top q eigenvectors `basis` (d, q) of the
    training covariance, their eigenvalues `eigenvalues` (q,), and the noise variance sigma2
    (the mean of the other eigenvalues), so that C = W W^T + sigma2 I has eigenvalues
    `eigenvalues` along `basis` and sigma2 everywhere else.
    """

    mean: Tensor
    basis: Tensor
    eigenvalues: Tensor
    sigma2: float


PROBABILITY_FLOOR = 1e-4  # a pixel that is always 0 in training would otherwise get p = 0


def fit_pixel_bernoulli(images: Tensor, floor: float = PROBABILITY_FLOOR) -> Tensor:
    """The mean grey value of every pixel, kept in [floor, 1 - floor]: a Bernoulli per pixel.

    The model with no code at all that `book/12_aevb.ipynb` measures MNIST's subsets with.
    """
    return _flat(images).mean(0).clamp(floor, 1 - floor)


def pixel_bernoulli_log_likelihood(probabilities: Tensor, images: Tensor) -> Tensor:
    """sum_i x_i log p_i + (1 - x_i) log(1 - p_i) per image: minus the cross-entropy on grey
    values that the book's Bernoulli decoders are trained with (`book/12_aevb.ipynb`)."""
    x = _flat(images)
    return (x * probabilities.log() + (1 - x) * (-probabilities).log1p()).sum(1)


def fit_pixel_gaussian(images: Tensor, floor: float = VARIANCE_FLOOR) -> PixelGaussian:
    """Maximum-likelihood mean and variance of every pixel, the variance at least `floor`.

    The floor matters: the test log-likelihood of a pixel that barely moved in training (its
    ML variance near 0) is dominated by it (experiments/frey_split/README.md shows two floors).
    """
    x = _flat(images)
    return PixelGaussian(x.mean(0), x.var(0, unbiased=False).clamp_min(floor))


def pixel_gaussian_log_likelihood(model: PixelGaussian, images: Tensor) -> Tensor:
    """log p(x) per image under independent per-pixel Gaussians, exact (not a bound)."""
    x = _flat(images)
    return -0.5 * (LOG_2PI + model.var.log() + (x - model.mean) ** 2 / model.var).sum(1)


def fit_ppca(images: Tensor, q: int) -> PPCA:
    """Tipping & Bishop's closed-form maximum-likelihood PPCA with q components.

    W = U_q (Lambda_q - sigma2 I)^(1/2) with sigma2 the mean of the d - q discarded eigenvalues
    of the (biased) sample covariance: no EM, so a row of `baseline_table` has no training
    noise in it.
    """
    x = _flat(images)
    n, d = x.shape
    if not 1 <= q < d:
        raise ValueError(f"q must be between 1 and {d - 1}, got {q}")
    mean = x.mean(0)
    centred = x - mean
    eigenvalues, vectors = torch.linalg.eigh(centred.T @ centred / n)  # ascending
    eigenvalues, vectors = eigenvalues.flip(0).clamp_min(0), vectors.flip(1)
    sigma2 = eigenvalues[q:].mean().item()
    return PPCA(mean, vectors[:, :q], eigenvalues[:q], sigma2)


def ppca_covariance(model: PPCA) -> Tensor:
    """C = W W^T + sigma2 I, the PPCA model's covariance (d, d), in full.

    `ppca_log_likelihood` never builds it; the tests check that function against it.
    """
    d = model.mean.shape[0]
    w = model.basis * (model.eigenvalues - model.sigma2).clamp_min(0).sqrt()
    return w @ w.T + model.sigma2 * torch.eye(d, dtype=w.dtype)


def ppca_log_likelihood(model: PPCA, images: Tensor) -> Tensor:
    """log N(x; mean, C) per image, from C's eigen-decomposition: O(d q) per image, without
    the d x d covariance or its inverse."""
    y = _flat(images) - model.mean
    d, q = y.shape[1], model.eigenvalues.shape[0]
    along = y @ model.basis  # coordinates along the principal directions
    rest = (y**2).sum(1) - (along**2).sum(1)
    mahalanobis = (along**2 / model.eigenvalues).sum(1) + rest / model.sigma2
    log_det = model.eigenvalues.log().sum() + (d - q) * math.log(model.sigma2)
    return -0.5 * (d * LOG_2PI + log_det + mahalanobis)


def baseline_table(train: Tensor, test: Tensor, qs: tuple[int, ...] = (2, 5, 10, 20),
                   floor: float = VARIANCE_FLOOR) -> list[dict[str, float | str]]:
    """Mean train and test log-likelihood per image, and their gap, for each baseline.

    One row for the per-pixel Gaussian and one per PPCA size: the table of `book/12_aevb.ipynb`.
    """
    fits = [("per-pixel Gaussian", fit_pixel_gaussian(train, floor), pixel_gaussian_log_likelihood)]
    fits += [(f"PPCA q={q}", fit_ppca(train, q), ppca_log_likelihood) for q in qs]
    rows = []
    for name, model, log_lik in fits:
        tr, te = log_lik(model, train).mean().item(), log_lik(model, test).mean().item()
        rows.append({"model": name, "train": tr, "test": te, "gap": tr - te})
    return rows
