"""Quadrant completion (Sohn, Lee & Yan 2015): see one quarter of a digit, draw the rest.

The condition c is the pixels of one quadrant of the image, the target t the other three.
`QuadrantBaseline` is a deterministic network: c -> the Bernoulli means of t, one answer per
input, trained on the exact log p(t | c). `QuadrantCVAE` is that same network with a code z
added to its input, so that one c can have many completions: a recognition network
q(z | c, t) (it reads the whole image), a prior network p(z | c) = N(mu(c), diag(sigma^2(c)))
as in Sohn et al., and the generation network p(t | c, z). Its ELBO bounds log p(t | c);
`log_weights` gives the importance weights whose log-mean-exp estimates log p(t | c) itself,
comparable with the baseline's exact value on the same images. Explained in
book/20_conditional_vae.ipynb.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ..checks import check_count, check_pixels, inputs_checked
from ..objectives import (
    ELBO,
    MAX_SAMPLES,
    bernoulli_log_likelihood,
    diagonal_normal_log_prob,
    sampled_log_weights,
)

QUADRANTS = ("top_left", "top_right", "bottom_left", "bottom_right")


def quadrant_masks(height: int = 28, width: int = 28) -> dict[str, Tensor]:
    """One boolean (height, width) mask per quadrant: they cover every pixel exactly once.

    Odd sizes put the middle row and column in the bottom and right quadrants. Explained in
    book/20_conditional_vae.ipynb.
    """
    check_count("height", height, low=2)
    check_count("width", width, low=2)
    rows, cols = torch.arange(height).unsqueeze(1), torch.arange(width).unsqueeze(0)
    top, left = rows < height // 2, cols < width // 2
    return {"top_left": top & left, "top_right": top & ~left,
            "bottom_left": ~top & left, "bottom_right": ~top & ~left}


class _Quadrants(nn.Module):
    """What both quadrant models share: which pixels are seen, and cutting an image in two."""

    def __init__(self, observed: str, image_shape: tuple[int, int, int]):
        super().__init__()
        if observed not in QUADRANTS:
            raise ValueError(f"observed must be one of {QUADRANTS}, got {observed!r}")
        if len(image_shape) != 3 or image_shape[0] != 1:
            raise ValueError(f"image_shape must be (1, height, width), got {image_shape}")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.observed = observed
        mask = quadrant_masks(*self.image_shape[1:])[observed].flatten()
        self.register_buffer("seen", mask.nonzero().flatten(), persistent=False)
        self.register_buffer("unseen", (~mask).nonzero().flatten(), persistent=False)
        self.pixels = math.prod(self.image_shape)

    def cut(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(c, t): the observed quadrant's pixels and the other three's, each flat per image."""
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.pixels:
            raise ValueError(f"{type(self).__name__} expects images of {self.pixels} pixels"
                             f" each, got shape {tuple(x.shape)}")
        flat = check_pixels(x, f"{type(self).__name__} input").reshape(x.shape[0], -1)
        return flat[:, self.seen], flat[:, self.unseen]

    def paste(self, c: Tensor, t: Tensor) -> Tensor:
        """Whole images from an observed quadrant c and the other three t (shapes as `cut`)."""
        out = torch.empty(c.shape[0], self.pixels, dtype=t.dtype, device=t.device)
        out[:, self.seen], out[:, self.unseen] = c.to(t.dtype), t
        return out.view(-1, *self.image_shape)


class QuadrantBaseline(_Quadrants):
    """The deterministic baseline: c -> hidden (ReLU) -> the logits of t's pixels.

    Its log p(t | c) is exact (a product of Bernoullis), so it trains on it directly: `objective`
    returns it as the ELBO's total with a KL of 0, as `Autoencoder` does, and `fit` trains it.
    Explained in book/20_conditional_vae.ipynb.
    """

    def __init__(self, hidden_dim: int = 400, observed: str = "bottom_left",
                 image_shape: tuple[int, int, int] = (1, 28, 28)):
        super().__init__(observed, image_shape)
        check_count("hidden_dim", hidden_dim)
        self.spec: dict[str, Any] = {"kind": "quadrant_baseline", "hidden_dim": hidden_dim,
                                     "observed": observed, "image_shape": list(self.image_shape)}
        self.net = nn.Sequential(nn.Linear(len(self.seen), hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, len(self.unseen)))

    def log_likelihood(self, x: Tensor) -> Tensor:
        """The exact log p(t | c) per image, in nats (book/20_conditional_vae.ipynb)."""
        c, t = self.cut(x)
        return bernoulli_log_likelihood(self.net(c), t)

    def objective(self, x: Tensor, beta: float = 1.0) -> ELBO:
        """What `fit` maximises: log p(t | c), exact, with no KL (beta is ignored)."""
        ll = self.log_likelihood(x)
        return ELBO(ll, ll, torch.zeros_like(ll))

    @torch.no_grad()
    def complete(self, x: Tensor) -> Tensor:
        """The observed quadrant of x with the Bernoulli means of the other three pasted in."""
        c, _ = self.cut(x)
        return self.paste(c, torch.sigmoid(self.net(c)))


class QuadrantCVAE(_Quadrants):
    """Sohn et al.'s conditional VAE for quadrant completion: q(z | c, t), p(z | c), p(t | c, z).

    The generation network is the baseline's, fed [c, z]; the recognition network reads the
    whole image; the prior network reads c. With a prior that depends on c the KL term is
    between two diagonal Gaussians, in closed form. Explained in book/20_conditional_vae.ipynb.
    """

    def __init__(self, latent_dim: int = 20, hidden_dim: int = 400,
                 observed: str = "bottom_left", image_shape: tuple[int, int, int] = (1, 28, 28)):
        super().__init__(observed, image_shape)
        self.latent_dim = check_count("latent_dim", latent_dim)
        check_count("hidden_dim", hidden_dim)
        self.spec: dict[str, Any] = {"kind": "quadrant_cvae", "latent_dim": latent_dim,
                                     "hidden_dim": hidden_dim, "observed": observed,
                                     "image_shape": list(self.image_shape)}
        seen, unseen = len(self.seen), len(self.unseen)
        self.recognition = nn.Sequential(nn.Linear(self.pixels, hidden_dim), nn.ReLU(),
                                         nn.Linear(hidden_dim, 2 * latent_dim))
        self.prior_net = nn.Sequential(nn.Linear(seen, hidden_dim), nn.ReLU(),
                                       nn.Linear(hidden_dim, 2 * latent_dim))
        self.generation = nn.Sequential(nn.Linear(seen + latent_dim, hidden_dim), nn.ReLU(),
                                        nn.Linear(hidden_dim, unseen))

    def posterior(self, c: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of q(z | c, t), from the whole image."""
        both = torch.empty(c.shape[0], self.pixels, dtype=c.dtype, device=c.device)
        both[:, self.seen], both[:, self.unseen] = c, t
        return self.recognition(both).chunk(2, dim=-1)

    def prior(self, c: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of the prior network p(z | c) (book/20_conditional_vae.ipynb)."""
        return self.prior_net(c).chunk(2, dim=-1)

    def target_logits(self, c: Tensor, z: Tensor) -> Tensor:
        """The logits of p(t | c, z); z may carry leading sample dimensions."""
        return self.generation(torch.cat([c.expand(*z.shape[:-1], c.shape[-1]), z], dim=-1))

    def objective(self, x: Tensor, beta: float = 1.0) -> ELBO:
        """The ELBO of log p(t | c): E_q[log p(t | c, z)] - beta KL(q(z | c, t) || p(z | c)).

        One reparameterized z; the KL between the two diagonal Gaussians in closed form.
        Explained in book/20_conditional_vae.ipynb.
        """
        c, t = self.cut(x)
        mu, logvar = self.posterior(c, t)
        mu_p, logvar_p = self.prior(c)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        recon = bernoulli_log_likelihood(self.target_logits(c, z), t)
        kl = 0.5 * (logvar_p - logvar + (logvar.exp() + (mu - mu_p).pow(2)) / logvar_p.exp()
                    - 1).sum(dim=-1)
        return ELBO(recon - beta * kl, recon, kl)

    @torch.no_grad()
    def log_weights(self, x: Tensor, k: int) -> Tensor:
        """log p(t | c, z) + log p(z | c) - log q(z | c, t) for k draws z ~ q: shape (k, n).

        The posterior is the proposal; log-mean-exp over the k weights estimates the conditional
        log-likelihood log p(t | c), from below on average (Jensen), exactly as K grows.
        Explained in book/20_conditional_vae.ipynb.
        """
        check_count("k", k, high=MAX_SAMPLES)
        c, t = self.cut(x)
        mu, logvar = self.posterior(c, t)
        mu_p, logvar_p = self.prior(c)
        c_rows = c.repeat(k, 1)  # the condition of each of the k * n rows

        def log_pt(t_rows: Tensor, z: Tensor) -> Tensor:
            return bernoulli_log_likelihood(self.target_logits(c_rows, z), t_rows)

        def log_prior(z: Tensor) -> Tensor:  # the prior network's p(z | c)
            return diagonal_normal_log_prob(z, mu_p, logvar_p)

        with inputs_checked():
            return sampled_log_weights(log_pt, t, mu, logvar, k, log_prior)

    @torch.no_grad()
    def complete(self, x: Tensor, n: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """n completions of each image, z ~ p(z | c): shape (n, batch, C, H, W), mean images."""
        check_count("n", n, high=MAX_SAMPLES)
        c, _ = self.cut(x)
        mu_p, logvar_p = self.prior(c)
        eps = torch.randn((n, *mu_p.shape), generator=generator).to(mu_p.device)
        t = torch.sigmoid(self.target_logits(c, mu_p + (0.5 * logvar_p).exp() * eps))
        return torch.stack([self.paste(c, t[i]) for i in range(n)])
