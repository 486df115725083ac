"""Minibatch losses for `fit(..., loss_fn=...)`: reductions, KL warm-up and free bits.

Each factory returns `loss_fn(model, x, step) -> scalar`, the loss `fit` minimises on a
minibatch x at global step `step`. They all use one reparameterized sample per image and the
closed-form KL, kept per latent unit so that free bits can act on each unit. Sum vs mean is
explained in book/14_loss_scale_and_likelihood.ipynb, warm-up and free bits in
book/15_posterior_collapse.ipynb.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .schedules import linear_warmup
from .train import LossFn

REDUCTIONS = ("sum", "mean")


def kl_per_unit(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL( N(mu_j, sigma_j^2) || N(0, 1) ) for each example and latent unit j: shape (n, J).

    Summed over j it is `gaussian_kl`; kept per unit so that free bits can floor each unit
    (`free_bits_loss`) and `mean_kl_per_unit` can report each.
    """
    if mu.shape != logvar.shape or mu.dim() != 2:
        raise ValueError(
            f"kl_per_unit: mu and logvar must share a (n, J) shape, got"
            f" {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def _terms(model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """(log p(x | z) per image, KL per image and unit) with one reparameterized z."""
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar)
    return model.log_likelihood(x, z), kl_per_unit(mu, logvar)


def _check_reduction(name: str, value: str) -> None:
    if value not in REDUCTIONS:
        raise ValueError(f"{name} must be one of {REDUCTIONS}, got {value!r}")


def implicit_beta(recon: str, kl: str, pixels: int, latent_dim: int) -> float:
    """The beta that a (recon, kl) reduction puts on the KL term, relative to the likelihood.

    Averaging the reconstruction over P pixels divides it by P, averaging the KL over J
    units divides that by J; the loss is then (1/P) [-recon + (P / J) KL], a beta-VAE
    loss with beta = P / J (P if the KL is summed), scaled by 1/P. Explained in
    book/14_loss_scale_and_likelihood.ipynb.
    """
    _check_reduction("recon", recon)
    _check_reduction("kl", kl)
    if pixels < 1 or latent_dim < 1:
        raise ValueError(f"pixels and latent_dim must be >= 1, got {pixels}, {latent_dim}")
    recon_divisor = pixels if recon == "mean" else 1
    kl_divisor = latent_dim if kl == "mean" else 1
    return recon_divisor / kl_divisor


def reduced_loss(recon: str = "sum", kl: str = "sum") -> LossFn:
    """The negative ELBO with the reconstruction summed or averaged over pixels, and the KL
    summed or averaged over latent units; always averaged over the minibatch.

    ('sum', 'sum') is the ELBO; ('mean', 'sum') is what the bug reports against the classic
    PyTorch example describe. Explained in book/14_loss_scale_and_likelihood.ipynb.
    """
    _check_reduction("recon", recon)
    _check_reduction("kl", kl)

    def loss_fn(model: nn.Module, x: Tensor, step: int) -> Tensor:
        log_px, kl_units = _terms(model, x)
        pixels = math.prod(x.shape[1:])
        recon_term = -log_px / (pixels if recon == "mean" else 1)
        kl_term = kl_units.mean(dim=1) if kl == "mean" else kl_units.sum(dim=1)
        return (recon_term + kl_term).mean()

    return loss_fn


def warmup_loss(warmup_steps: int, start: float = 0.0) -> LossFn:
    """Negative ELBO with the KL weighted by `linear_warmup(step, warmup_steps, start)`.

    After warmup_steps steps it is the plain negative ELBO. Explained in
    book/15_posterior_collapse.ipynb.
    """
    linear_warmup(0, warmup_steps, start)  # checks the arguments now, not at the first step

    def loss_fn(model: nn.Module, x: Tensor, step: int) -> Tensor:
        log_px, kl_units = _terms(model, x)
        beta = linear_warmup(step, warmup_steps, start)
        return (-log_px + beta * kl_units.sum(dim=1)).mean()

    return loss_fn


def free_bits_loss(nats_per_unit: float) -> LossFn:
    """Negative ELBO whose KL term is sum_j max(lambda, mean over the minibatch of KL_j).

    Kingma et al. (2016): a unit whose average KL is below lambda = nats_per_unit costs a
    constant, so nothing pushes it further onto the prior. With lambda = 0 it is the negative
    ELBO. Explained in book/15_posterior_collapse.ipynb.
    """
    if not 0 <= nats_per_unit < math.inf:  # NaN and infinity too: they surface later as a
        # "diverged" run otherwise
        raise ValueError(f"free_bits_loss: nats_per_unit must be a finite number >= 0, got"
                         f" {nats_per_unit}")

    def loss_fn(model: nn.Module, x: Tensor, step: int) -> Tensor:
        log_px, kl_units = _terms(model, x)
        kl_term = kl_units.mean(dim=0).clamp_min(nats_per_unit).sum()
        return -log_px.mean() + kl_term

    return loss_fn


@torch.no_grad()
def mean_kl_per_unit(model: nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """The KL of each latent unit averaged over images, shape (J,), in nats.

    Explained in book/15_posterior_collapse.ipynb.
    """
    if images.shape[0] == 0:
        raise ValueError("mean_kl_per_unit: no images")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total = None
    for start in range(0, images.shape[0], batch_size):
        mu, logvar = model.encode(images[start : start + batch_size].to(device))
        part = kl_per_unit(mu, logvar).sum(dim=0).cpu()
        total = part if total is None else total + part
    model.train(was_training)
    return total / images.shape[0]
