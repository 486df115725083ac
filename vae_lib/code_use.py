"""Is the code used? The information each latent unit carries, and the wrong-code test.

A unit's KL to the prior (`losses.mean_kl_per_unit`) is not a measure of use. Averaged over
images it splits as

    E_x KL(q(z_j | x) || p(z_j)) = I(x; z_j) + KL(q(z_j) || p(z_j)),

with q(z_j) = E_x q(z_j | x) the aggregate posterior, so the KL only bounds the information
from above. Under free bits a unit can sit at the floor while ignoring x: q(z_j | x) = N(1, 1)
for every x costs 0.5 nat and carries nothing. Two measures that do not have this blind spot,
both explained in book/15_posterior_collapse.ipynb (chapter 15):

- `information_terms` / `unit_information`: I(x; z_j) under the encoder, with x uniform over
  the images given and the aggregate posterior their mixture (He et al. 2019 steer training
  by the same mutual information, for the whole code);
- `wrong_code_drop`: how much log p(x | z) falls when the decoder gets another image's code,
  in all units or in some of them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .checks import check_count
from .device import model_device

_LOG_2PI = math.log(2.0 * math.pi)


def _check_codes(mu: Tensor, logvar: Tensor) -> None:
    if mu.shape != logvar.shape or mu.dim() != 2:
        raise ValueError("information_terms: mu and logvar must share an (n, J) shape, got"
                         f" {tuple(mu.shape)} and {tuple(logvar.shape)}")
    if mu.shape[0] < 2:
        raise ValueError(f"information_terms: need at least 2 images, got {mu.shape[0]}")
    if not bool(torch.isfinite(mu).all() and torch.isfinite(logvar).all()):
        raise ValueError("information_terms: mu and logvar must be finite")


@torch.no_grad()
def information_terms(
    mu: Tensor,
    logvar: Tensor,
    draws: int = 2,
    generator: torch.Generator | None = None,
    chunk: int = 250,
) -> Tensor:
    """Per-image, per-unit terms of I(x; z_j): shape (draws, n, J), in nats.

    Entry [r, i, j] is log q(z_j | x_i) - log (1/n) sum_m q(z_j | x_m) at a fresh draw
    z_j ~ q(z_j | x_i) = N(mu_ij, exp(logvar_ij)). Its mean over draws and images is the
    mutual information between the image (uniform over the n given) and unit j, up to
    Monte Carlo error: `evaluation.monte_carlo_se(terms[..., j])` is that error, and
    `evaluation.mean_se(terms[..., j].mean(0))` the spread between images. The value lies in
    [0, log n]: a unit whose q(z_j | x) is the same for every image gives exactly 0, however
    far that q is from the prior. Takes (mu, logvar) rather than a model, so the tests can
    check it on hand-made posteriors; `unit_information` feeds it an encoder's.
    """
    _check_codes(mu, logvar)
    check_count("draws", draws)
    check_count("chunk", chunk)
    mu, logvar = mu.double().cpu(), logvar.double().cpu()
    n = mu.shape[0]
    inv_var = torch.exp(-logvar)
    log_norm = -0.5 * (logvar + _LOG_2PI)  # log of each component's normalising constant
    out = torch.empty(draws, *mu.shape, dtype=torch.float64)
    for r in range(draws):
        eps = torch.randn(mu.shape, generator=generator, dtype=torch.float64)
        z = mu + torch.exp(0.5 * logvar) * eps
        own = log_norm - 0.5 * eps.pow(2)  # log q(z_ij | x_i)
        for start in range(0, n, chunk):
            zc = z[start : start + chunk, None, :]  # (c, 1, J) against all n components
            log_q = log_norm[None] - 0.5 * (zc - mu[None]).pow(2) * inv_var[None]
            mixture = torch.logsumexp(log_q, dim=1) - math.log(n)
            out[r, start : start + chunk] = own[start : start + chunk] - mixture
    return out


def unit_information(
    model: nn.Module,
    images: Tensor,
    draws: int = 2,
    generator: torch.Generator | None = None,
    batch_size: int = 1000,
) -> Tensor:
    """`information_terms` of a VAE's encoder on `images`: shape (draws, n, J), in nats.

    The mean over the first two axes is I(x; z_j) per unit, with the aggregate posterior
    estimated by the mixture over these images; compare it with the unit's KL
    (`losses.mean_kl_per_unit`), which it never exceeds by more than the Monte Carlo error.
    Explained in book/15_posterior_collapse.ipynb (chapter 15).
    """
    check_count("batch_size", batch_size)
    was_training = model.training
    model.eval()
    device = model_device(model)
    mus, logvars = [], []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            mu, logvar = model.encode(images[start : start + batch_size].to(device))
            mus.append(mu.cpu())
            logvars.append(logvar.cpu())
    model.train(was_training)
    return information_terms(torch.cat(mus), torch.cat(logvars), draws, generator)


def derangement(n: int, generator: torch.Generator | None = None) -> Tensor:
    """A random partner for each of n >= 2 items, never the item itself: one n-cycle.

    Item perm[k] gets partner perm[k + 1], so every image is decoded with a code that is not
    its own (a random permutation may keep some images' own codes). Used by `wrong_code_drop`.
    """
    check_count("n", n)
    if n < 2:
        raise ValueError(f"derangement: need at least 2 items, got {n}")
    perm = torch.randperm(n, generator=generator)
    partner = torch.empty(n, dtype=torch.long)
    partner[perm] = perm.roll(-1)
    return partner


@torch.no_grad()
def wrong_code_drop(
    model: nn.Module,
    images: Tensor,
    draws: int = 2,
    units: Tensor | list[int] | None = None,
    generator: torch.Generator | None = None,
    batch_size: int = 1000,
) -> Tensor:
    """log p(x | mu(x)) - log p(x | mu~) per image, shape (draws, n), in nats.

    mu~ is the image's own posterior mean with the latent units in `units` (all of them when
    None) replaced by those of a partner image, drawn afresh for each draw (`derangement`).
    A decoder that ignores those units loses nothing (0 for every image); one that reads
    the image from them loses much. `evaluation.monte_carlo_se` of the result is the error from
    the choice of partners, `evaluation.mean_se` of its mean over draws the spread between
    images. Explained in book/15_posterior_collapse.ipynb (chapter 15).
    """
    check_count("draws", draws)
    check_count("batch_size", batch_size)
    n = images.shape[0]
    was_training = model.training
    model.eval()
    device = model_device(model)
    mu = torch.cat([model.encode(images[s : s + batch_size].to(device))[0].cpu()
                    for s in range(0, n, batch_size)])
    mask = torch.ones(mu.shape[1], dtype=torch.bool)
    if units is not None:
        mask = torch.zeros_like(mask)
        mask[torch.as_tensor(units, dtype=torch.long)] = True

    def log_lik(codes: Tensor) -> Tensor:
        return torch.cat([
            model.log_likelihood(images[s : s + batch_size].to(device),
                                 codes[s : s + batch_size].to(device)).cpu()
            for s in range(0, n, batch_size)
        ]).double()

    own = log_lik(mu)
    out = torch.empty(draws, n, dtype=torch.float64)
    for r in range(draws):
        wrong = torch.where(mask, mu[derangement(n, generator)], mu)
        out[r] = own - log_lik(wrong)
    model.train(was_training)
    return out
