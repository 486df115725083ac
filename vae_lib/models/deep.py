"""A VAE with several deterministic hidden layers: Burda et al. (2016)'s one-stochastic-layer model.

784-200-200-50 with tanh, a mirrored decoder, log-variances (exp gives the variances) and
Glorot initialisation; trained by `vae_lib.iwae` and evaluated in `book/13_log_likelihood.ipynb`.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor, nn

from ..checks import check_count
from .vae import ACTIVATIONS, VAE


def _stack(sizes: list[int], act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), act()]
    return nn.Sequential(*layers)


class DeepVAE(VAE):
    """An MLP VAE with hidden layers `hidden_dims` (the decoder mirrors them); Bernoulli only.

    Burda et al.'s Table 1 model is DeepVAE(50, (200, 200), activation="tanh"); weights start
    Glorot-uniform, biases at zero. Trained by `vae_lib.iwae` (experiments/iwae/README.md,
    'The recipe').
    """

    def __init__(self, latent_dim: int = 50, hidden_dims: tuple[int, ...] = (200, 200),
                 image_shape: tuple[int, int, int] = (1, 28, 28), activation: str = "tanh"):
        super().__init__(image_shape, latent_dim, "bernoulli")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        hidden = [check_count("hidden_dims", int(h)) for h in hidden_dims]
        if not hidden:
            raise ValueError("hidden_dims must name at least one layer")
        self.spec: dict[str, Any] = {
            "kind": "deep", "latent_dim": latent_dim, "hidden_dims": hidden,
            "image_shape": list(self.image_shape), "activation": activation,
        }
        pixels, act = math.prod(self.image_shape), ACTIVATIONS[activation]
        self.encoder = nn.Sequential(nn.Flatten(), _stack([pixels, *hidden], act))
        self.to_mu = nn.Linear(hidden[-1], latent_dim)
        self.to_logvar = nn.Linear(hidden[-1], latent_dim)
        self.decoder = _stack([latent_dim, *hidden[::-1]], act)
        self.to_pixels = nn.Linear(hidden[0], pixels)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def _encode_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def _decode_output(self, z: Tensor) -> Tensor:
        return self.to_pixels(self.decoder(z)).view(-1, *self.image_shape)
