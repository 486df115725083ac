"""Richer priors p(z): a learned mixture of Gaussians and the VampPrior.

The ELBO's KL term pulls every posterior q(z|x) towards p(z); with p = N(0, I) that pull is
towards one blob, while the aggregate of the posteriors may be anything but. A prior with
several components can follow it. Every prior here has the same two methods: `log_prob(z)`
for z of shape (..., latent) and `sample(n, generator)`. Explained in book/17_priors.ipynb.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..checks import check_count
from ..objectives import diagonal_normal_log_prob, standard_normal_log_prob

PRIOR_KINDS = ("standard", "mixture", "vamp")
Encoder = Callable[[Tensor], tuple[Tensor, Tensor]]  # images -> (mu, logvar)


def mixture_log_prob(z: Tensor, log_weights: Tensor, means: Tensor, logvars: Tensor) -> Tensor:
    """log sum_k w_k N(z; m_k, diag(exp(v_k))) for z (..., d), means and logvars (K, d).

    Computed as a log-sum-exp over the K components, so it stays finite far from all of
    them. Explained in book/17_priors.ipynb.
    """
    per_component = diagonal_normal_log_prob(z.unsqueeze(-2), means, logvars)  # (..., K)
    return torch.logsumexp(log_weights + per_component, dim=-1)


def mixture_sample(
    n: int,
    log_weights: Tensor,
    means: Tensor,
    logvars: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """n draws from the mixture: pick component k with probability w_k, then m_k + s_k eps.

    The randomness comes from `generator` (a CPU one), so a seed gives the same codes on any
    device; the draws land on the device of `means`. Explained in book/17_priors.ipynb.
    """
    check_count("n", n)
    probs = log_weights.detach().exp().cpu()
    k = torch.multinomial(probs, n, replacement=True, generator=generator).to(means.device)
    eps = torch.randn(n, means.shape[-1], generator=generator).to(means.device, means.dtype)
    return means[k] + torch.exp(0.5 * logvars[k]) * eps


class Prior(nn.Module):
    """The prior interface: `log_prob(z)` per code and `sample(n, generator)` (chapter 17).

    The p(z) of the generative story (`book/03_generative_story.ipynb`), made a module so that
    it can have parameters and be learned. Explained in book/17_priors.ipynb.
    """

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = check_count("latent_dim", latent_dim)

    def _check(self, z: Tensor) -> Tensor:
        if z.dim() < 1 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"{type(self).__name__} is over a {self.latent_dim}-d latent"
                f" space, got z of shape {tuple(z.shape)}"
            )
        return z

    def log_prob(self, z: Tensor) -> Tensor:  # pragma: no cover - every prior overrides
        """log p(z) for z of shape (..., latent): shape (...)."""
        raise NotImplementedError

    def sample(
        self, n: int, generator: torch.Generator | None = None
    ) -> Tensor:  # pragma: no cover
        """n codes z ~ p(z), shape (n, latent)."""
        raise NotImplementedError


class StandardNormalPrior(Prior):
    """p(z) = N(0, I), the prior of every VAE before chapter 17 (book/17_priors.ipynb)."""

    def log_prob(self, z: Tensor) -> Tensor:
        """log N(z; 0, I) summed over the latent dimensions."""
        return standard_normal_log_prob(self._check(z))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n codes on the CPU, drawn exactly as `VAE.sample` draws them."""
        return torch.randn(check_count("n", n), self.latent_dim, generator=generator)


class MixturePrior(Prior):
    """p(z) = sum_k pi_k N(z; m_k, diag(s_k^2)), all of pi, m and log s^2 learned.

    The weights are softmax(logits) and start equal; the means start as standard normal
    draws, so the components start apart, and the variances at 1. Explained in
    book/17_priors.ipynb.
    """

    def __init__(self, latent_dim: int, n_components: int):
        super().__init__(latent_dim)
        check_count("n_components", n_components)
        self.means = nn.Parameter(torch.randn(n_components, latent_dim))
        self.logvars = nn.Parameter(torch.zeros(n_components, latent_dim))
        self.logits = nn.Parameter(torch.zeros(n_components))

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z) by log-sum-exp over the components."""
        log_weights = torch.log_softmax(self.logits, dim=0)
        return mixture_log_prob(self._check(z), log_weights, self.means, self.logvars)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n codes on the device of the prior's parameters."""
        log_weights = torch.log_softmax(self.logits, dim=0)
        return mixture_sample(n, log_weights, self.means, self.logvars, generator)


class VampPrior(Prior):
    """p(z) = (1/K) sum_k q(z | u_k): the encoder's posteriors at K learned pseudo-inputs.

    Tomczak & Welling (2018). The prior shares the encoder, so it is tied to the model: pass
    its `encode`-like function, images -> (mu, logvar). A flow VAE passes its Gaussian
    encoder, so the components are the base posteriors q0(z | u_k), not the flowed ones
    (whose density needs the flow's inverse). The pseudo-inputs are u = sigmoid(free
    parameters), not the paper's hardtanh: a hardtanh has zero gradient once a pseudo-pixel
    leaves [0, 1], so that pixel stops learning for good, whereas the sigmoid always passes a
    gradient and keeps u strictly inside (0, 1), where a Bernoulli encoder's input lives.
    Explained in book/17_priors.ipynb.
    """

    def __init__(
        self, latent_dim: int, n_components: int, image_shape: tuple[int, ...], encode: Encoder
    ):
        super().__init__(latent_dim)
        check_count("n_components", n_components)
        if not callable(encode):
            raise ValueError(f"VampPrior: encode must be callable, got {type(encode).__name__}")
        self.encode = encode  # a plain attribute: the encoder's weights belong to the model
        self.pseudo_logits = nn.Parameter(0.1 * torch.randn(n_components, *image_shape))

    def pseudo_inputs(self) -> Tensor:
        """The K pseudo-inputs u_k = sigmoid(free parameters), images in (0, 1)."""
        return torch.sigmoid(self.pseudo_logits)

    @torch.no_grad()
    def set_pseudo_inputs(self, images: Tensor, margin: float = 1e-3) -> None:
        """Start the pseudo-inputs at K real images (clipped to [margin, 1 - margin])."""
        if images.shape != self.pseudo_logits.shape:
            raise ValueError(
                f"VampPrior: need images of shape {tuple(self.pseudo_logits.shape)},"
                f" got {tuple(images.shape)}"
            )
        self.pseudo_logits.copy_(torch.logit(images.clamp(margin, 1 - margin)))

    def _components(self) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(self.pseudo_inputs())
        log_weights = torch.full(
            (mu.shape[0],), -math.log(mu.shape[0]), device=mu.device, dtype=mu.dtype
        )
        return log_weights, mu, logvar

    def log_prob(self, z: Tensor) -> Tensor:
        """log (1/K) sum_k N(z; mu(u_k), sigma^2(u_k)), one encoder pass over the K u_k."""
        return mixture_log_prob(self._check(z), *self._components())

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n codes on the device of the pseudo-inputs: a uniform k, then q(z | u_k)."""
        return mixture_sample(n, *self._components(), generator)


def build_prior(
    kind: str,
    latent_dim: int,
    n_components: int = 1,
    image_shape: tuple[int, ...] = (1, 28, 28),
    encode: Encoder | None = None,
) -> Prior:
    """The prior named `kind`: 'standard', 'mixture' or 'vamp' (which needs `encode`).

    Explained in book/17_priors.ipynb.
    """
    if kind == "standard":
        return StandardNormalPrior(latent_dim)
    if kind == "mixture":
        return MixturePrior(latent_dim, n_components)
    if kind == "vamp":
        if encode is None:
            raise ValueError("the vamp prior needs the model's encoder: pass encode")
        return VampPrior(latent_dim, n_components, image_shape, encode)
    raise ValueError(f"prior must be one of {PRIOR_KINDS}, got {kind!r}")
