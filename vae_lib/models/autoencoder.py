"""A plain, deterministic autoencoder: the foil of `book/02_autoencoders.ipynb`."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..checks import check_count
from ..objectives import ELBO, bernoulli_log_likelihood


class Autoencoder(nn.Module):
    """A plain, deterministic autoencoder: one code per image, no distribution, no KL.

    The foil of `book/02_autoencoders.ipynb`: same layers as `MLPVAE`, trained on reconstruction
    alone, so its codes need not fill any region a prior could sample from.
    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden_dim: int = 400,
        image_shape: tuple[int, int, int] = (1, 28, 28),
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.latent_dim = check_count("latent_dim", latent_dim)
        self.spec = {
            "kind": "autoencoder",
            "latent_dim": latent_dim,
            "hidden_dim": hidden_dim,
            "image_shape": list(self.image_shape),
        }
        pixels = math.prod(self.image_shape)
        self.encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(pixels, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, pixels)
        )

    def encode(self, x: Tensor) -> Tensor:
        """The code of each image: one point, no distribution (`book/02_autoencoders.ipynb`)."""
        return self.encoder(x)

    def decode_logits(self, z: Tensor) -> Tensor:
        """The decoder's logits, shaped as images (`book/02_autoencoders.ipynb`)."""
        return self.decoder(z).view(-1, *self.image_shape)

    def decode(self, z: Tensor) -> Tensor:
        """The image a code decodes to, in [0, 1] (`book/02_autoencoders.ipynb`)."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruct x through its code (`book/02_autoencoders.ipynb`)."""
        return self.decode(self.encode(x))

    def objective(self, x: Tensor, beta: float = 1.0) -> ELBO:
        """What `fit` maximises: minus the summed binary cross-entropy per image, no KL.

        The VAE's reconstruction term alone, so `fit` and `evaluate` treat both kinds of model
        alike (`book/02_autoencoders.ipynb`); `beta` is ignored, there is no KL to weigh.
        """
        recon = bernoulli_log_likelihood(self.decode_logits(self.encode(x)), x)
        return ELBO(recon, recon, torch.zeros_like(recon))
