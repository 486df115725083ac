"""A VAE whose decoder is autoregressive over pixels: strong enough to ignore z.

The decoder is a MADE (Germain et al. 2015) conditioned on the code: pixel i (in raster
order) gets a Bernoulli probability from the pixels before it and from z. Such a decoder can
model binarized MNIST well on its own, which is what makes the VAE's posterior collapse onto
the prior. Explained in book/15_posterior_collapse.ipynb.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_count
from ..objectives import bernoulli_log_likelihood
from .vae import VAE


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask of the same shape.

    The mask cuts the connections that would let an output see its own input or later ones;
    `MADEVAE`'s decoder and the IAF steps of `vae_lib.models.flows` are built from it.
    """

    def __init__(self, mask: Tensor, bias: bool = True):
        out_features, in_features = mask.shape
        super().__init__(in_features, out_features, bias=bias)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def made_masks(pixels: int, hidden_dim: int) -> tuple[Tensor, Tensor, Tensor]:
    """The three masks of a one-hidden-layer MADE over `pixels` inputs in raster order.

    Hidden unit k gets a degree m_k in 1 .. pixels-1 and sees inputs d <= m_k; output d sees
    hidden units with m_k < d and, through the direct connection, inputs before d. So output d
    depends on pixels 1 .. d-1 only. Returns (input->hidden, hidden->output, input->output),
    each shaped (out, in) like a weight, for `MaskedLinear`.
    """
    check_count("hidden_dim", hidden_dim)
    if pixels < 2:
        raise ValueError(f"made_masks: need at least 2 pixels, got {pixels}")
    inputs = torch.arange(1, pixels + 1)
    degrees = torch.arange(hidden_dim) % (pixels - 1) + 1
    to_hidden = degrees[:, None] >= inputs[None, :]
    to_output = inputs[:, None] > degrees[None, :]
    direct = inputs[:, None] > inputs[None, :]
    return to_hidden.float(), to_output.float(), direct.float()


class MADEVAE(VAE):
    """MLP encoder, autoregressive Bernoulli decoder p(x | z) = prod_i p(x_i | x_<i, z).

    The decoder's hidden layer is relu(W_x x + W_z z) with W_x masked, and its logits add a
    masked direct connection from x. `log_likelihood` needs one pass; `decode` and `sample`
    draw the pixels one at a time (784 passes), so keep them to a few images.
    Explained in book/15_posterior_collapse.ipynb.
    """

    def __init__(
        self,
        latent_dim: int = 20,
        hidden_dim: int = 400,
        decoder_hidden: int = 500,
        image_shape: tuple[int, int, int] = (1, 28, 28),
    ):
        super().__init__(image_shape, latent_dim, "bernoulli")
        check_count("hidden_dim", hidden_dim)
        self.spec = {
            "kind": "made",
            "latent_dim": latent_dim,
            "hidden_dim": hidden_dim,
            "decoder_hidden": decoder_hidden,
            "image_shape": list(self.image_shape),
        }
        pixels = math.prod(self.image_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden_dim), nn.ReLU())
        self.to_mu = nn.Linear(hidden_dim, latent_dim)
        self.to_logvar = nn.Linear(hidden_dim, latent_dim)
        to_hidden, to_output, direct = made_masks(pixels, decoder_hidden)
        self.x_to_hidden = MaskedLinear(to_hidden)
        self.z_to_hidden = nn.Linear(latent_dim, decoder_hidden, bias=False)
        self.hidden_to_logits = MaskedLinear(to_output)
        self.x_to_logits = MaskedLinear(direct, bias=False)
        self.z_to_logits = nn.Linear(latent_dim, pixels, bias=False)

    def _encode_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def logits(self, x: Tensor, z: Tensor) -> Tensor:
        """Logits of p(x_i = 1 | x_<i, z) for every pixel i at once (teacher forcing)."""
        flat = x.flatten(1)
        h = F.relu(self.x_to_hidden(flat) + self.z_to_hidden(z))
        out = self.hidden_to_logits(h) + self.x_to_logits(flat) + self.z_to_logits(z)
        return out.view(-1, *self.image_shape)

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x | z) = sum_i log p(x_i | x_<i, z), per example, in one pass."""
        x = self._check_images(x)
        return bernoulli_log_likelihood(self.logits(x, self._check_latent(z)), x)

    @torch.no_grad()
    def decode(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Draw x ~ p(x | z) pixel by pixel; returns the probabilities of the drawn path.

        Pixel i's probability is computed from the pixels already drawn, then pixel i is
        drawn from it. The grey image of those probabilities is easier to read than the
        binary draw itself.
        """
        z = self._check_latent(z)
        pixels = math.prod(self.image_shape)
        x = torch.zeros(z.shape[0], pixels, device=z.device)
        probs = torch.zeros_like(x)
        for i in range(pixels):
            p = torch.sigmoid(self.logits(x.view(-1, *self.image_shape), z).flatten(1)[:, i])
            probs[:, i] = p
            u = torch.rand(p.shape, generator=generator).to(p.device)
            x[:, i] = (u < p).float()
        return probs.view(-1, *self.image_shape)
