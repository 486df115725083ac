"""The aggregate posterior against the prior: ELBO surgery (Hoffman & Johnson 2016).

With the data uniform over N images x_1..x_N, the aggregate posterior is the mixture of the
encoder's posteriors, q(z) = (1/N) sum_n q(z | x_n), and the ELBO's average KL term splits as

    (1/N) sum_n KL(q(z | x_n) || p(z)) = I(n; z) + KL(q(z) || p(z)),

the mutual information between the image's index and its code (at most log N) plus how far the
aggregate posterior is from the prior. Only the second term depends on p(z), so it is what a
richer prior can shrink. Every term is an expectation under n uniform and z ~ q(z | x_n), so
`elbo_surgery` estimates all three from the same draws, with q(z) the exact mixture of all N
posteriors. Explained in book/17_priors.ipynb (chapter 15 splits the KL per unit the same way,
`code_use.information_terms`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .checks import check_count
from .device import model_device
from .evaluation import subset_indices
from .objectives import diagonal_normal_log_prob

_LOG_2PI = math.log(2.0 * math.pi)


def _check_posteriors(mu: Tensor, logvar: Tensor) -> None:
    if mu.shape != logvar.shape or mu.dim() != 2 or mu.shape[0] < 1:
        raise ValueError("aggregate posterior: mu and logvar must share an (N, d) shape with"
                         f" N >= 1, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    if not bool(torch.isfinite(mu).all() and torch.isfinite(logvar).all()):
        raise ValueError("aggregate posterior: mu and logvar must be finite")


@torch.no_grad()
def gaussian_posteriors(model: nn.Module, images: Tensor,
                        batch_size: int = 1000) -> tuple[Tensor, Tensor]:
    """(mu, logvar) of q(z | x) for every image, float64 on the CPU: shapes (N, d).

    Only a Gaussian posterior is a mixture component with a closed-form density: a model with
    flow steps is refused. Used by `elbo_surgery` (book/17_priors.ipynb).
    """
    check_count("batch_size", batch_size)
    if len(getattr(model, "flow", ())) > 0:
        raise ValueError("the aggregate posterior needs Gaussian posteriors; this model has"
                         f" {len(model.flow)} flow steps (use n_flows=0)")
    was_training = model.training
    model.eval()
    device = model_device(model)
    mus, logvars = [], []
    for start in range(0, images.shape[0], batch_size):
        mu, logvar = model.encode(images[start : start + batch_size].to(device))
        mus.append(mu.double().cpu())
        logvars.append(logvar.double().cpu())
    model.train(was_training)
    return torch.cat(mus), torch.cat(logvars)


@torch.no_grad()
def aggregate_log_prob(z: Tensor, mu: Tensor, logvar: Tensor, chunk: int = 512) -> Tensor:
    """log q(z) = log (1/N) sum_n N(z; mu_n, diag(exp(logvar_n))) for z of shape (m, d).

    The mixture of all N posteriors, exactly: the squared distances of the m codes to the N
    means come from three matrix products, (z^2) s^T - 2 z (mu s)^T + sum(mu^2 s) with s the
    precisions, in float64 (the products cancel less than float32 can afford), and the
    log-sum-exp runs over chunks of N so that memory stays m x chunk. Returns float64, (m,).
    Explained in book/17_priors.ipynb.
    """
    _check_posteriors(mu, logvar)
    check_count("chunk", chunk)
    if z.dim() != 2 or z.shape[1] != mu.shape[1]:
        raise ValueError(f"aggregate_log_prob: z must be (m, {mu.shape[1]}), got"
                         f" {tuple(z.shape)}")
    z, mu, logvar = z.double().cpu(), mu.double().cpu(), logvar.double().cpu()
    total = torch.full((z.shape[0],), -math.inf, dtype=torch.float64)
    for start in range(0, mu.shape[0], chunk):
        m, v = mu[start : start + chunk], logvar[start : start + chunk]
        precision = torch.exp(-v)
        squares = (z.pow(2) @ precision.T - 2 * z @ (m * precision).T
                   + (m.pow(2) * precision).sum(1))
        log_n = -0.5 * (squares.clamp_min(0) + v.sum(1) + mu.shape[1] * _LOG_2PI)  # (m, chunk)
        total = torch.logaddexp(total, torch.logsumexp(log_n, dim=1))
    return total - math.log(mu.shape[0])


class Surgery(NamedTuple):
    """Per-draw terms of ELBO surgery, float64 of shape (m,), one draw z ~ q(z | x_n) per image.

    information  log q(z | x_n) - log q(z): its mean estimates I(n; z)
    marginal_kl  log q(z) - log p(z): its mean estimates KL(q(z) || p(z))
    rate         log q(z | x_n) - log p(z) = information + marginal_kl, draw by draw: its
                 mean estimates the average KL term of the ELBO
    index        which of the N images each draw is of (a seeded random subset)
    n_data       N, the number of images q(z) is the mixture of (I(n; z) <= log N)

    `evaluation.mean_se` of a term gives its mean and standard error over the (image, draw)
    pairs (book/17_priors.ipynb).
    """

    information: Tensor
    marginal_kl: Tensor
    rate: Tensor
    index: Tensor
    n_data: int


@torch.no_grad()
def elbo_surgery(model: nn.Module, images: Tensor, n_draws: int, seed: int = 0,
                 mixture_of_draws: bool = False, batch_size: int = 1000) -> Surgery:
    """Estimate the terms of E_n KL(q(z|x_n) || p(z)) = I(n; z) + KL(q(z) || p(z)).

    The data are `images`, uniform over their N rows (binarize them once beforehand: the
    decomposition is of a fixed data set). The outer expectation is a Monte Carlo average over
    a seeded random `n_draws` of the images (`evaluation.subset_indices`), one z ~ q(z | x_n)
    each, drawn from a CPU generator seeded with `seed`. q(z) is the exact mixture of all N
    posteriors (`aggregate_log_prob`), so every mean is unbiased for its term. With
    `mixture_of_draws=True`, q(z) is instead the mixture of the n_draws posteriors drawn from,
    the cheap estimate that a minibatch gives, which book/17_priors.ipynb compares with the
    exact one. The prior is `model.prior.log_prob`; the posterior must be Gaussian.
    """
    check_count("n_draws", n_draws)
    mu, logvar = gaussian_posteriors(model, images, batch_size)
    index = subset_indices(mu.shape[0], n_draws, seed)
    generator = torch.Generator().manual_seed(seed)
    eps = torch.randn(len(index), mu.shape[1], generator=generator, dtype=torch.float64)
    z = mu[index] + torch.exp(0.5 * logvar[index]) * eps
    own = diagonal_normal_log_prob(z, mu[index], logvar[index])
    if mixture_of_draws:
        log_agg = aggregate_log_prob(z, mu[index], logvar[index])
    else:
        log_agg = aggregate_log_prob(z, mu, logvar)
    was_training = model.training
    model.eval()
    prior_param = next(model.prior.parameters(), None)
    dtype = prior_param.dtype if prior_param is not None else torch.float32
    log_p = model.prior.log_prob(z.to(model_device(model), dtype)).double().cpu()
    model.train(was_training)
    return Surgery(own - log_agg, log_agg - log_p, own - log_p, index,
                   len(index) if mixture_of_draws else mu.shape[0])
