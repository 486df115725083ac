"""A VAE with two stochastic layers: Burda et al. (2016)'s two-layer model, chapter 18.

Generative model p(z2) p(z1 | z2) p(x | z1), inference model q(z1 | x) q(z2 | z1): the top layer
z2 (50 units) is a prior for the bottom layer z1 (100 units), learned instead of fixed. Each
arrow is an MLP with two deterministic tanh layers (100 units around z1, 50 around z2), Glorot
initialisation, log-variances out. The code a reader sees is the concatenation z = [z1, z2], so
the book's interface holds as it is: `log_likelihood(x, z)` reads z1, `prior.log_prob(z)` is
log p(z2) + log p(z1 | z2), and `posterior_sample` draws both layers with their joint log q; the
importance-weighted bound of chapter 13 (`vae_lib.log_weights`) then needs nothing new.
Explained in book/18_hierarchy.ipynb.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from ..checks import check_beta, check_count
from ..device import model_device
from ..objectives import ELBO, diagonal_normal_log_prob, standard_normal_log_prob
from .vae import ACTIVATIONS, VAE


def _gaussian_head(sizes: list[int], act: type[nn.Module], out: int) -> nn.Module:
    """An MLP through `sizes` ending in 2 * out numbers: a Gaussian's mean and log-variance."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), act()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], 2 * out))


def _split(t: Tensor) -> tuple[Tensor, Tensor]:
    mu, logvar = t.chunk(2, dim=-1)
    return mu, logvar


class TwoLayerPrior(nn.Module):
    """p(z) = p(z2) p(z1 | z2) over z = [z1, z2]: N(0, I) on top, a learned Gaussian below.

    The bottom layer's prior is a network of z2, so the code z1 is free to have any shape the
    top layer can produce; `log_prob` and `sample` follow the generative arrows. Chapter 18.
    """

    def __init__(self, dims: tuple[int, int], hidden: int, act: type[nn.Module]):
        super().__init__()
        self.dims = dims
        self.top_down = _gaussian_head([dims[1], hidden, hidden], act, dims[0])

    def conditional(self, z2: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of p(z1 | z2) (chapter 18)."""
        return _split(self.top_down(z2))

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z2) + log p(z1 | z2) for codes z = [z1, z2] of shape (..., d1 + d2)."""
        z1, z2 = z.split(list(self.dims), dim=-1)
        mu, logvar = self.conditional(z2)
        return standard_normal_log_prob(z2) + diagonal_normal_log_prob(z1, mu, logvar)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n codes [z1, z2] drawn top-down: z2 ~ N(0, I), then z1 ~ p(z1 | z2) (chapter 18).

        The noise comes from `generator` on the CPU; the codes land where the prior's weights are.
        """
        device = next(self.parameters()).device
        z2 = torch.randn(check_count("n", n), self.dims[1], generator=generator).to(device)
        mu, logvar = self.conditional(z2)
        eps = torch.randn(mu.shape, generator=generator).to(device)
        return torch.cat([mu + (0.5 * logvar).exp() * eps, z2], dim=-1)


class TwoLayerVAE(VAE):
    """Burda et al.'s two-stochastic-layer VAE for binarized MNIST (book/18_hierarchy.ipynb).

    latent_dims (100, 50) are z1 and z2, hidden_dims (100, 50) the deterministic layers beside
    them. `encode(x)` gives q(z1 | x) and, at z1's mean, q(z2 | z1): a plug-in summary for
    plots; the objective and `posterior_sample` draw z1 first, then z2 given that draw.
    """

    def __init__(self, latent_dims: tuple[int, int] = (100, 50),
                 hidden_dims: tuple[int, int] = (100, 50),
                 image_shape: tuple[int, int, int] = (1, 28, 28), activation: str = "tanh"):
        d1, d2 = (check_count("latent_dims", int(d)) for d in latent_dims)
        h1, h2 = (check_count("hidden_dims", int(h)) for h in hidden_dims)
        super().__init__(image_shape, d1 + d2, "bernoulli")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.spec: dict[str, Any] = {
            "kind": "two_layer", "latent_dims": [d1, d2], "hidden_dims": [h1, h2],
            "image_shape": list(self.image_shape), "activation": activation}
        self.dims, act, pixels = (d1, d2), ACTIVATIONS[activation], math.prod(self.image_shape)
        self.bottom_up1 = nn.Sequential(nn.Flatten(), _gaussian_head([pixels, h1, h1], act, d1))
        self.bottom_up2 = _gaussian_head([d1, h2, h2], act, d2)
        self.prior = TwoLayerPrior((d1, d2), h2, act)
        layers: list[nn.Module] = []
        for n_in, n_out in ((d1, h1), (h1, h1)):
            layers += [nn.Linear(n_in, n_out), act()]
        self.decoder = nn.Sequential(*layers, nn.Linear(h1, pixels))
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def _encode_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu1, logvar1 = _split(self.bottom_up1(x))
        mu2, logvar2 = _split(self.bottom_up2(mu1))
        return torch.cat([mu1, mu2], -1), torch.cat([logvar1, logvar2], -1)

    def _decode_output(self, z: Tensor) -> Tensor:
        return self.decoder(z[:, : self.dims[0]]).view(-1, *self.image_shape)

    def posterior_sample(self, x: Tensor, n: int) -> tuple[Tensor, Tensor]:
        """n draws [z1, z2] ~ q(z1 | x) q(z2 | z1) per image with their log q: shapes
        (n, batch, d1 + d2) and (n, batch): what `vae_lib.log_weights` needs (chapter 18)."""
        check_count("n", n)
        mu1, logvar1 = _split(self.bottom_up1(self._check_images(x)))
        eps1 = torch.randn((n, *mu1.shape), device=mu1.device, dtype=mu1.dtype)
        z1 = mu1 + (0.5 * logvar1).exp() * eps1
        mu2, logvar2 = _split(self.bottom_up2(z1))
        z2 = mu2 + (0.5 * logvar2).exp() * torch.randn_like(mu2)
        log_q = (diagonal_normal_log_prob(z1, mu1, logvar1)
                 + diagonal_normal_log_prob(z2, mu2, logvar2))
        return torch.cat([z1, z2], -1), log_q

    def objective(self, x: Tensor, beta: float = 1.0) -> ELBO:
        """One-sample ELBO with both KL terms sampled: kl = log q(z1, z2 | x) - log p(z1, z2).

        Neither KL has a closed form once z2 is drawn from q(z2 | z1) (chapter 18).
        """
        beta = check_beta(beta)
        z, log_q = self.posterior_sample(x, 1)
        recon = self.log_likelihood(x, z[0])
        kl = log_q[0] - self.prior.log_prob(z[0])
        return ELBO(recon - beta * kl, recon, kl)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Decode n codes drawn top-down from the learned prior (chapter 18)."""
        return self.decode(self.prior.sample(n, generator).to(model_device(self)))

    @torch.no_grad()
    def layer_activity(self, images: Tensor, draws: int = 16) -> tuple[Tensor, Tensor]:
        """Burda et al.'s activity A_u = Var_x(E_q[u | x]) of each unit of z1 and of z2.

        E_q[z1 | x] is q(z1 | x)'s mean; E_q[z2 | x] averages q(z2 | z1)'s mean over `draws`
        draws of z1, a Monte Carlo estimate. Chapter 18 counts the units with A_u > 0.01.
        """
        mu1, logvar1 = _split(self.bottom_up1(self._check_images(images)))
        eps = torch.randn((draws, *mu1.shape), device=mu1.device, dtype=mu1.dtype)
        mean2 = _split(self.bottom_up2(mu1 + (0.5 * logvar1).exp() * eps))[0].mean(0)
        return (mu1.double().var(0, unbiased=False).float(),
                mean2.double().var(0, unbiased=False).float())

    @torch.no_grad()
    def top_down_decoder(self, units: list[int]) -> LayerDecoder:
        """The image at z1 = the mean of p(z1 | z2), as a decoder of the z2 units `units`, in that
        order (the others held at 0): what dragging the top layer does (chapter 18)."""
        return LayerDecoder(self, 2, units)

    @torch.no_grad()
    def lower_decoder(self, units: list[int]) -> LayerDecoder:
        """The image as a decoder of the z1 units `units`, each in standard deviations of
        p(z1 | z2 = 0) from its mean, the other units at that mean: what dragging the lower
        layer does (the explorer of chapter 18)."""
        return LayerDecoder(self, 1, units)


class LayerDecoder(nn.Module):
    """Some units of one layer -> the decoder's mean image, as one MLP of `Linear` and `Tanh`
    layers, so `vae_lib.widgets.LatentExplorer` and the page's explorer decode it as they decode
    any MLP VAE. Layer 2: z2's `units` (others 0) -> mean of p(z1 | z2) -> image. Layer 1: z1's
    `units` in standard deviations of p(z1 | z2 = 0), the others at its mean -> image. Built by
    `TwoLayerVAE.top_down_decoder` and `lower_decoder` (chapter 18).
    """

    def __init__(self, model: TwoLayerVAE, layer: int, units: list[int]):
        super().__init__()
        d1, d2 = model.dims
        size = {1: d1, 2: d2}[layer]
        units = [int(u) for u in units]
        if not units or len(set(units)) < len(units) or not all(0 <= u < size for u in units):
            raise ValueError(f"units must be a non-empty list of distinct z{layer} units in"
                             f" 0..{size - 1}")
        self.layer, self.units, self.latent_dim = layer, units, len(units)
        self.image_shape = model.image_shape
        layers = [*copy.deepcopy(model.prior.top_down)] if layer == 2 else []
        layers += [*copy.deepcopy(model.decoder)]
        first = layers[0]
        if layer == 2:
            mean_out = layers[len(model.prior.top_down) - 1]
            mean_out.weight = nn.Parameter(mean_out.weight[:d1].clone())  # the mean half only
            mean_out.bias = nn.Parameter(mean_out.bias[:d1].clone())
            mean_out.out_features = d1
            first.weight = nn.Parameter(first.weight[:, units].clone())  # the others are 0
        else:
            mean, logvar = model.prior.conditional(torch.zeros(1, d2, device=first.weight.device))
            scale = (0.5 * logvar[0]).exp()
            first.bias = nn.Parameter(first.bias + first.weight @ mean[0])
            first.weight = nn.Parameter(first.weight[:, units] * scale[units])
        first.in_features = len(units)
        self.decoder = nn.Sequential(*layers)
        self.eval()

    def decode(self, z: Tensor) -> Tensor:
        """The mean image of each code, shape (n, len(units)) -> (n, C, H, W)."""
        return torch.sigmoid(self.decoder(z)).view(-1, *self.image_shape)
