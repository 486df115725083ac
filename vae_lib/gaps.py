"""The two gaps of an encoder, per image: its q against the best q the same family holds.

The ELBO falls short of log p(x) by the approximation gap (the family of q) plus the
amortization gap (the encoder's q is not the family's best for this image; Cremer, Li &
Duvenaud 2018). To separate them, each image gets its own q: the encoder's outputs that define
q are set free and improved by gradient ascent on that image's ELBO, the decoder (and any
weights shared by all images, such as a flow's) held fixed. For the Gaussian VAE those outputs
are mu and log sigma^2; for a flow VAE whose steps read the encoder's hidden layer, also that
context vector, so the family is "this flow, any base Gaussian, any context".

Every ELBO here is sampled, log p(x|z) + log p(z) - log q(z|x) with z ~ q, the same estimator
for a Gaussian and a flow, so two models (or two q of one model) given the same generator seed
see the same base noise eps and their per-image differences are paired. Chapter 13 does this
for the Gaussian VAE in the notebook; `book/16_flows.ipynb` uses this module for both models.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from .checks import check_count
from .objectives import diagonal_normal_log_prob, standard_normal_log_prob

Params = dict[str, Tensor]


def _is_flow(model: nn.Module) -> bool:
    return hasattr(model, "flow") and hasattr(model, "_push")


def _reads_context(model: nn.Module) -> bool:
    return _is_flow(model) and any(
        getattr(step, "context_to_hidden", None) is not None for step in model.flow
    )


@torch.no_grad()
def variational_parameters(model: nn.Module, x: Tensor) -> Params:
    """The encoder's per-image outputs that define q(z|x), detached: {'mu', 'logvar'} and,
    for a flow whose steps read the encoder's hidden layer, 'context' (book/16_flows.ipynb)."""
    if _is_flow(model):
        mu, logvar, h = model._encode_with_context(x)
        params = {"mu": mu, "logvar": logvar}
        if _reads_context(model):
            params["context"] = h
        return params
    mu, logvar = model.encode(x)
    return {"mu": mu, "logvar": logvar}


def sample_from(model: nn.Module, params: Params, eps: Tensor) -> tuple[Tensor, Tensor]:
    """(z, log q(z|x)) for base noise eps of shape (..., batch, latent) under the q that
    `params` define: z0 = mu + sigma eps, then the model's flow, if it has one (chapter 16)."""
    mu, logvar = params["mu"], params["logvar"]
    z0 = mu + (0.5 * logvar).exp() * eps
    if _is_flow(model):
        return model._push(z0, mu, logvar, params.get("context"))
    return z0, diagonal_normal_log_prob(z0, mu, logvar)


def _log_prior(model: nn.Module, z: Tensor) -> Tensor:
    prior = getattr(model, "prior", None)
    return prior.log_prob(z) if prior is not None else standard_normal_log_prob(z)


def elbo_of(
    model: nn.Module,
    x: Tensor,
    params: Params,
    k: int,
    generator: torch.Generator | None = None,
    chunk: int = 100,
) -> Tensor:
    """The sampled ELBO of q = `params` for each image, averaged over k draws: shape (n,).

    Draws come from `generator` (a CPU one) in chunks of `chunk`, so the same seed gives two
    models of the same latent size the same noise; gradients flow where `params` have them.
    The gaps of book/16_flows.ipynb are differences of it.
    """
    check_count("k", k)
    mu = params["mu"]
    total = torch.zeros(mu.shape[0], device=mu.device, dtype=mu.dtype)
    for start in range(0, k, chunk):
        n = min(chunk, k - start)
        eps = torch.randn((n, *mu.shape), generator=generator).to(mu.device, mu.dtype)
        z, log_q = sample_from(model, params, eps)  # (n, b, d), (n, b)
        x_rep = x.unsqueeze(0).expand(n, *x.shape).reshape(n * x.shape[0], *x.shape[1:])
        log_px_z = model.log_likelihood(x_rep, z.reshape(-1, z.shape[-1])).view(n, -1)
        total = total + (log_px_z + _log_prior(model, z) - log_q).sum(0)
    return total / k


@contextlib.contextmanager
def _frozen(model: nn.Module) -> Iterator[None]:
    flags = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def optimise_posterior(
    model: nn.Module,
    x: Tensor,
    steps: tuple[int, int] = (400, 400),
    lrs: tuple[float, float] = (1e-2, 1e-3),
    k: int = 8,
    kept_at: tuple[int, ...] = (),
    seed: int = 0,
) -> dict[int, Params]:
    """Per-image q: Adam on each image's own ELBO, starting from the encoder's q.

    steps[0] steps at lrs[0], then steps[1] at lrs[1] (a constant step leaves q jittering below
    its optimum), k draws per step from a generator seeded `seed`; the model's weights stay
    fixed. All images move at once (their parameters are separate, so this is n separate
    optimisations). Returns the parameters after each step in `kept_at` and after the last.
    A finite optimisation stops short of the family's best q, so an ELBO of its result is a
    lower bound on that q's ELBO (book/16_flows.ipynb).
    """
    check_count("steps", steps[0], low=0)
    check_count("steps", steps[1], low=0)
    total = steps[0] + steps[1]
    free = {name: t.clone().requires_grad_(True) for name, t in
            variational_parameters(model, x).items()}
    optimizer = torch.optim.Adam(free.values(), lr=lrs[0])
    generator = torch.Generator().manual_seed(seed)
    kept: dict[int, Params] = {}
    if 0 in kept_at:
        kept[0] = {name: t.detach().clone() for name, t in free.items()}
    with _frozen(model):
        for step in range(1, total + 1):
            if step == steps[0] + 1:
                for group in optimizer.param_groups:
                    group["lr"] = lrs[1]
            loss = -elbo_of(model, x, free, k, generator, chunk=k).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step in kept_at or step == total:
                kept[step] = {name: t.detach().clone() for name, t in free.items()}
    return kept
