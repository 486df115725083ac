"""The quantities a VAE optimises and reports, all per example and in nats.

Chapter links: the closed-form KL is derived in `book/06_gaussian_kl.ipynb`, the ELBO in
`book/05_elbo.ipynb`, and the importance-weighted bound in `book/13_log_likelihood.ipynb`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import check_beta, check_count, check_finite, check_pixels, inputs_checked

LOG_2PI = math.log(2 * math.pi)
MAX_SAMPLES = 10**6  # importance samples per image: L_5000 is the book's largest, 1e12 never ends


def _flat(t: Tensor) -> Tensor:
    """View a batch as (batch, features) so every sum below runs over one example."""
    return t.reshape(t.shape[0], -1)


def _check_same_shape(a: Tensor, b: Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL( N(mu, exp(logvar)) || N(0, I) ) per example, summed over latent dimensions.

    -KL = 1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2), the closed form that makes the
    VAE's regulariser exact instead of sampled. Derived in `book/06_gaussian_kl.ipynb`.
    """
    _check_same_shape(mu, logvar, "gaussian_kl(mu, logvar)")
    return 0.5 * _flat(mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def bernoulli_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x | z) for a Bernoulli decoder given its logits, per example.

    Works from logits (minus binary cross-entropy with logits), so it stays finite at
    logits of +-100 where sigmoid-then-log would give log(0). x may be grey values in [0, 1],
    as in the classic PyTorch example. Explained in `book/08_training.ipynb`.
    """
    _check_same_shape(logits, x, "bernoulli_log_likelihood(logits, x)")
    check_pixels(x, "bernoulli_log_likelihood: x")
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return -_flat(bce).sum(dim=1)


def gaussian_log_likelihood(mean: Tensor, x: Tensor, logvar_or_scale: Tensor | float) -> Tensor:
    """log N(x; mean, sigma^2) per example, for real-valued data such as Frey Face.

    The contract, with no guessing: a tensor of mean's shape is a log-variance per value (what a
    decoder head outputs); a Python float is a fixed standard deviation sigma > 0. Any other
    tensor (a 0-d one, say) is refused, since it could mean either. Used by the Gaussian
    decoders: Frey Face's in `VAE.log_likelihood`, the "MSE" ones of
    `book/14_loss_scale_and_likelihood.ipynb`.
    """
    _check_same_shape(mean, x, "gaussian_log_likelihood(mean, x)")
    check_finite(x, "gaussian_log_likelihood: x")
    if isinstance(logvar_or_scale, Tensor):
        if logvar_or_scale.shape != mean.shape:
            got = tuple(logvar_or_scale.shape)
            raise ValueError("gaussian_log_likelihood: a tensor is read as a log-variance of"
                             f" mean's shape {tuple(mean.shape)}, got shape {got};"
                             " pass a float for a fixed standard deviation")
        logvar = logvar_or_scale
    else:
        scale = logvar_or_scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (
            0 < scale < math.inf
        ):
            raise ValueError(f"gaussian_log_likelihood: scale (a standard deviation) must be a"
                             f" finite number > 0, got {scale!r}")
        logvar = torch.full_like(mean, 2 * math.log(scale))
    log_density = -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) / logvar.exp())
    return _flat(log_density).sum(dim=1)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I), summed over the last dimension: the standard prior's term of the
    importance weights (`sampled_log_weights`)."""
    return -0.5 * (LOG_2PI + z.pow(2)).sum(dim=-1)


def diagonal_normal_log_prob(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mu, diag(exp(logvar))), summed over the last dimension: log q(z|x) of the
    Gaussian encoder, in the importance weights and in wake-sleep's sleep phase."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(dim=-1)


class ELBO(NamedTuple):
    """The evidence lower bound per example: total = recon - beta * kl (`book/05_elbo.ipynb`)."""

    total: Tensor
    recon: Tensor
    kl: Tensor


def elbo(
    model: torch.nn.Module, x: Tensor, beta: float = 1.0, generator: torch.Generator | None = None
) -> ELBO:
    """One-sample estimate of the (beta-weighted) ELBO for each example in x.

    recon is E_q[log p(x|z)] estimated with one reparameterized sample, kl is the closed form.
    Training minimises -total.mean(); with beta = 1 that is the negative ELBO. A `generator`
    (on the CPU) fixes the noise, so evaluating a model twice gives the same number, as the
    learning curves of Figure 2 (`vae_lib.aevb`) need. Derived in `book/05_elbo.ipynb`.
    """
    beta = check_beta(beta)
    mu, logvar = model.encode(x)
    if generator is None:
        z = model.reparameterize(mu, logvar)
    else:
        eps = torch.randn(mu.shape, generator=generator).to(mu.device, mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
    recon = model.log_likelihood(x, z)
    kl = gaussian_kl(mu, logvar)
    return ELBO(recon - beta * kl, recon, kl)


def sampled_log_weights(log_likelihood: Callable[[Tensor, Tensor], Tensor], x: Tensor, mu: Tensor,
                        logvar: Tensor, k: int, log_prior: Callable = standard_normal_log_prob
                        ) -> Tensor:
    """log p(x | z_k) + log p(z_k) - log q(z_k | x), k draws z_k ~ N(mu, exp(logvar)): (k, n).

    The one place a Gaussian encoder's importance weights are drawn, with gradients when they
    are on: for L_k in training (`vae_lib.iwae`), in evaluation (`log_weights`) and for the
    conditional models (`LabelCVAE`, `QuadrantCVAE`, whose prior network is `log_prior`).
    `log_likelihood` scores x repeated k times (k * n rows) against the codes, flattened.
    """
    eps = torch.randn((k, *mu.shape), device=mu.device, dtype=mu.dtype)
    z = mu + (0.5 * logvar).exp() * eps  # (k, batch, latent)
    x_rep = x.unsqueeze(0).expand(k, *x.shape).reshape(k * x.shape[0], *x.shape[1:])
    log_px_z = log_likelihood(x_rep, z.reshape(-1, z.shape[-1])).view(k, -1)
    return log_px_z + log_prior(z) - diagonal_normal_log_prob(z, mu, logvar)


@torch.no_grad()
def log_weights(model: torch.nn.Module, x: Tensor, k: int, chunk: int = 500) -> Tensor:
    """log p(x, z_k) - log q(z_k | x) for k draws z_k ~ q(z | x) per image: shape (k, n).

    The importance weights of `book/13_log_likelihood.ipynb`; every bound L_K is a log-mean-exp
    over blocks of them. Samples are drawn in chunks of `chunk` to bound memory; the images are
    checked once, by the encoder, not again for every chunk.
    """
    check_count("k", k, high=MAX_SAMPLES)
    check_count("chunk", chunk, high=MAX_SAMPLES)
    sizes = [min(chunk, k - start) for start in range(0, k, chunk)]
    if callable(getattr(model, "posterior_sample", None)):  # a flow or another prior
        model._check_images(x)
        with inputs_checked():
            return torch.cat([posterior_log_weights(model, x, n) for n in sizes], dim=0)
    mu, logvar = model.encode(x)
    with inputs_checked():
        weights = [sampled_log_weights(model.log_likelihood, x, mu, logvar, n) for n in sizes]
        return torch.cat(weights, dim=0)


def posterior_log_weights(model: torch.nn.Module, x: Tensor, k: int) -> Tensor:
    """The importance weights of a model that draws its own posterior samples and has its own
    prior (`posterior_sample` and `prior.log_prob`, the flows and priors of book/16_flows.ipynb),
    so `log_weights` and `iwae_bound` need nothing new for them:
    log p(x | z) + log p(z) - log q(z | x), shape (k, n)."""
    z, log_q = model.posterior_sample(x, k)
    x_rep = x.unsqueeze(0).expand(k, *x.shape).reshape(k * x.shape[0], *x.shape[1:])
    log_px_z = model.log_likelihood(x_rep, z.reshape(-1, z.shape[-1])).view(k, -1)
    return log_px_z + model.prior.log_prob(z) - log_q


@torch.no_grad()
def iwae_bound(model: torch.nn.Module, x: Tensor, k: int, chunk: int = 500) -> Tensor:
    """The importance-weighted bound L_K per example (Burda et al. 2016).

    L_K = E[log (1/K) sum_k p(x, z_k) / q(z_k | x)], computed with log-sum-exp. L_1 is the
    ELBO, L_K grows with K and tends to log p(x), which makes it the standard estimator of
    the test log-likelihood. Explained in `book/13_log_likelihood.ipynb`.
    """
    check_count("k", k, high=MAX_SAMPLES)
    return torch.logsumexp(log_weights(model, x, k, chunk), dim=0) - math.log(k)


def continuous_bernoulli_log_normalizer(logits: Tensor, small: float = 1e-3) -> Tensor:
    """log C(lambda) of the continuous Bernoulli, elementwise, from the logits l of lambda.

    With lambda = sigmoid(l), C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda) simplifies to
    l / tanh(l / 2), which is 2 at l = 0 and grows like |l| for large |l|. Near l = 0 (|l| <
    `small`) the series 2 + l^2/6 - l^4/360 replaces the 0/0 form. Used in
    book/08_training.ipynb; `continuous_bernoulli_log_likelihood` adds it to the Bernoulli term.
    """
    if not small > 0:
        raise ValueError(f"continuous_bernoulli_log_normalizer: small must be > 0, got {small}")
    near = logits.abs() < small
    safe = torch.where(near, torch.ones_like(logits), logits)  # no 0/0, so no NaN gradient
    far_value = torch.log(safe / torch.tanh(safe / 2))
    l2 = logits.pow(2)
    near_value = torch.log(2 + l2 / 6 - l2.pow(2) / 360)
    return torch.where(near, near_value, far_value)


def continuous_bernoulli_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x | z) per example for a continuous Bernoulli decoder on grey values in [0, 1].

    The Bernoulli formula (minus binary cross-entropy) plus the log normaliser log C(lambda)
    per pixel, which makes it a density on [0, 1] (Loaiza-Ganem & Cunningham 2019). Explained
    in book/14_loss_scale_and_likelihood.ipynb.
    """
    _check_same_shape(logits, x, "continuous_bernoulli_log_likelihood(logits, x)")
    check_pixels(x, "continuous_bernoulli_log_likelihood: x")
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return _flat(continuous_bernoulli_log_normalizer(logits) - bce).sum(dim=1)



LEVELS = 256  # the grey levels of an 8-bit pixel, k = 0, ..., 255


def dequantize(images: Tensor, generator: torch.Generator) -> Tensor:
    """8-bit grey values k / 255 to (k + u) / 256 with u ~ U[0, 1): uniform dequantization.

    The input convention is torchvision's (and `load_dataset`'s): MNIST stores integers k in
    0..255 and hands them over as k / 255, so k = round(255 x); anything further than 1e-3 / 255
    from such a value is refused. The output convention is Theis et al.'s (2016): level k owns
    the bin [k / 256, (k + 1) / 256) of width 1 / 256, and y is uniform in it, so y lies in
    [0, 1) and no density can pile mass on the point x = 0. The noise comes from `generator`
    (a CPU one), so the same seed gives the same y on any device, and models evaluated on the
    same y are compared on the same noise. Explained in book/14_loss_scale_and_likelihood.ipynb.
    """
    check_pixels(images, "dequantize: images")
    levels = images.detach().double() * (LEVELS - 1)
    k = levels.round()
    if images.numel() and float((levels - k).abs().max()) > 1e-3:
        raise ValueError("dequantize: images must be 8-bit grey values k / 255 (MNIST as"
                         " torchvision gives it); these are not")
    u = torch.rand(images.shape, generator=generator, dtype=torch.float64)
    y = ((k + u.to(k.device)) / LEVELS).to(images.dtype)
    top = ((k + 1) / LEVELS).to(images.dtype)  # exact: a multiple of 1 / 256
    return torch.minimum(y, torch.nextafter(top, torch.zeros_like(top)))  # rounding stays in


def bits_per_dim(log_density: Tensor | float, dims: int) -> Tensor | float:
    """Bits per dimension of 8-bit data from the log-density, in nats, of its dequantized copy.

    With y = (k + u) / 256 on [0, 1]^P and P(k) the mass the density puts on k's bin (of
    volume 256^-P), Jensen gives log2 P(k) >= E_u[log2 p(y)] - 8 P, so

        bpd = -log p(y) / (P ln 2) + log2(256)

    averaged over u bounds the discrete model's -log2 P(k) / P from above (and any lower bound
    on log p(y), such as an ELBO, keeps it an upper bound). The + 8 is the Jacobian of
    rescaling [0, 256)^P to [0, 1]^P. Derived in book/14_loss_scale_and_likelihood.ipynb.
    """
    check_count("dims", dims)
    return -log_density / (dims * math.log(2)) + math.log2(LEVELS)
