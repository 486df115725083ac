"""The book's VAEs: an MLP VAE and the notes' convolutional VAE.

Every VAE here shares one interface (`encode`, `reparameterize`, `decode`, `forward`,
`sample`, `log_likelihood`), so objectives, training and plots never ask which one they hold.
The reparameterization trick is explained in `book/07_reparameterization.ipynb`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ..checks import check_count, check_finite, check_pixels
from ..device import model_device
from ..objectives import ELBO, bernoulli_log_likelihood, elbo, gaussian_log_likelihood

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
LIKELIHOODS = ("bernoulli", "gaussian")


class VAE(nn.Module):
    """What every VAE in the book shares: the reparameterized sample, the likelihood, sampling.

    Explained in `book/08_training.ipynb`.

    Subclasses provide `_encode_features(x) -> (mu, logvar)` and `_decode_output(z)`, the
    decoder's raw output of shape (n, C, H, W): logits for a Bernoulli decoder, or the
    pre-sigmoid mean for a Gaussian one (whose log-variance comes from `_decode_logvar`).
    """

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int, likelihood: str):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (channels, height, width), got {image_shape}")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.latent_dim = check_count("latent_dim", latent_dim)
        self.likelihood = likelihood
        self.spec: dict[str, Any] = {}

    # -- checks -------------------------------------------------------------------------
    def _check_images(self, x: Tensor) -> Tensor:
        expected = self.image_shape
        if x.dim() == 3 and expected[0] == 1:
            x = x.unsqueeze(1)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"{type(self).__name__} expects images of shape"
                f" (n, {', '.join(map(str, expected))}),"
                f" got {tuple(x.shape)}"
            )
        if self.likelihood == "gaussian":  # real-valued data: any finite value is an image
            return check_finite(x, f"{type(self).__name__} input")
        return check_pixels(x, f"{type(self).__name__} input")

    def _check_latent(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"{type(self).__name__} has a {self.latent_dim}-d latent space,"
                f" got z of shape {tuple(z.shape)}"
            )
        return z

    # -- the VAE interface --------------------------------------------------------------
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) = N(mu, diag(exp(logvar))): the encoder outputs log sigma^2, never sigma.

        Explained in `book/08_training.ipynb`.
        """
        return self._encode_features(self._check_images(x))

    def reparameterize(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): a sample gradients can flow through.

        Explained in `book/07_reparameterization.ipynb`.
        """
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode(self, z: Tensor) -> Tensor:
        """The decoder's mean image in [0, 1] for each code: what we look at and plot.

        Explained in `book/08_training.ipynb`.
        """
        return torch.sigmoid(self._decode_output(self._check_latent(z)))

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x | z) per example, Bernoulli or Gaussian as the model was built.

        Explained in `book/08_training.ipynb` (Bernoulli) and `book/12_aevb.ipynb` (Gaussian).
        """
        x = self._check_images(x)
        out = self._decode_output(self._check_latent(z))
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(out, x)
        return gaussian_log_likelihood(torch.sigmoid(out), x, self._decode_logvar(z))

    def objective(self, x: Tensor, beta: float = 1.0) -> ELBO:
        """The per-image terms `fit` maximises: the (beta-weighted) ELBO, `book/05_elbo.ipynb`."""
        return elbo(self, x, beta)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruct x through one sampled code: (mean image, mu, logvar).

        Explained in `book/08_training.ipynb`.
        """
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Decode n codes drawn from the prior N(0, I): the model's idea of new data.

        Explained in `book/08_training.ipynb`.
        """
        z = torch.randn(n, self.latent_dim, generator=generator).to(model_device(self))
        return self.decode(z)

    def _decode_logvar(self, z: Tensor) -> Tensor:  # pragma: no cover - Gaussian models override
        raise NotImplementedError


class MLPVAE(VAE):
    """A VAE whose encoder and decoder are multilayer perceptrons (`book/08_training.ipynb`).

    The default is the classic PyTorch example, 784-400-latent-400-784 with ReLU and a Bernoulli
    decoder; Kingma & Welling's models are the same shape with tanh and 500 (MNIST) or 200 (Frey
    Face) hidden units, the latter with a Gaussian decoder.
    """

    def __init__(
        self,
        latent_dim: int = 20,
        hidden_dim: int = 400,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        activation: str = "relu",
        likelihood: str = "bernoulli",
    ):
        super().__init__(image_shape, latent_dim, likelihood)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        check_count("hidden_dim", hidden_dim)
        self.spec = {
            "kind": "mlp",
            "latent_dim": latent_dim,
            "hidden_dim": hidden_dim,
            "image_shape": list(self.image_shape),
            "activation": activation,
            "likelihood": likelihood,
        }
        pixels = math.prod(self.image_shape)
        act = ACTIVATIONS[activation]
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden_dim), act())
        self.to_mu = nn.Linear(hidden_dim, latent_dim)
        self.to_logvar = nn.Linear(hidden_dim, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden_dim), act())
        self.to_pixels = nn.Linear(hidden_dim, pixels)
        if likelihood == "gaussian":
            self.to_pixel_logvar = nn.Linear(hidden_dim, pixels)

    def _encode_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def _decode_output(self, z: Tensor) -> Tensor:
        return self.to_pixels(self.decoder(z)).view(-1, *self.image_shape)

    def _decode_logvar(self, z: Tensor) -> Tensor:
        return self.to_pixel_logvar(self.decoder(z)).view(-1, *self.image_shape)


class ConvVAE(VAE):
    """The notes' convolutional VAE for 32x32 images (`book/09_conv_vae.ipynb`).

    Four 4x4 stride-2 convolutions (8, 16, 32, 64 channels) take 32x32 down to 2x2, a 128-unit
    dense layer leads to the latent code, and the decoder mirrors it with transposed
    convolutions back to 32x32 logits (the sigmoid is applied in `decode`).
    """

    channels = (8, 16, 32, 64)

    def __init__(self, latent_dim: int = 16, in_channels: int = 1, dense_dim: int = 128):
        super().__init__((in_channels, 32, 32), latent_dim, "bernoulli")
        self.spec = {
            "kind": "conv",
            "latent_dim": latent_dim,
            "in_channels": in_channels,
            "dense_dim": dense_dim,
        }
        widths = (in_channels, *self.channels)
        down: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            down += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(
            *down, nn.Flatten(), nn.Linear(64 * 2 * 2, dense_dim), nn.ReLU()
        )
        self.to_mu = nn.Linear(dense_dim, latent_dim)
        self.to_logvar = nn.Linear(dense_dim, latent_dim)
        up: list[nn.Module] = []
        for c_in, c_out in zip(widths[:0:-1], widths[-2::-1], strict=True):
            up += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, dense_dim),
            nn.ReLU(),
            nn.Linear(dense_dim, 64 * 2 * 2),
            nn.ReLU(),
            nn.Unflatten(1, (64, 2, 2)),
            *up[:-1],  # no ReLU on the logits
        )

    def _encode_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def _decode_output(self, z: Tensor) -> Tensor:
        return self.decoder(z)
