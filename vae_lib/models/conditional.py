"""A conditional VAE: the digit's label given to the encoder and to the decoder.

Sohn, Lee & Yan (2015) condition both halves of a VAE on an observed variable y: the encoder
is q(z | x, y), the decoder p(x | z, y), and the ELBO bounds log p(x | y). Here y is the digit's
label, as a one-hot vector concatenated to the encoder's input and to the decoder's, and the
prior stays p(z) = N(0, I) (it does not depend on y), so the KL term keeps its closed form. What
z has to carry is then what the label does not say: the style of the digit. The quadrant
models, whose condition is part of the image, are in `quadrants`. Explained in
book/20_conditional_vae.ipynb.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_count, check_labels, check_pixels, inputs_checked
from ..device import model_device
from ..objectives import (
    ELBO,
    MAX_SAMPLES,
    bernoulli_log_likelihood,
    gaussian_kl,
    sampled_log_weights,
)


def with_labels(images: Tensor, labels: Tensor, n_labels: int = 10) -> Tensor:
    """Each image as one row of its pixels followed by its label's one-hot: shape (n, P + L).

    `fit` trains on one tensor of rows in [0, 1] and slices minibatches from it; this puts the
    label into the row, where binarization (a Bernoulli draw of 0 or 1) leaves it unchanged, and
    `LabelCVAE.split` takes it out again. Explained in book/20_conditional_vae.ipynb.
    """
    x = check_pixels(images, "with_labels: images").reshape(images.shape[0], -1)
    y = check_labels(labels, n_labels, x.shape[0])
    return torch.cat([x, F.one_hot(y.to(x.device), n_labels).to(x.dtype)], dim=1)


class LabelCVAE(nn.Module):
    """q(z | x, y) and p(x | z, y) with y the one-hot label, an MLP each; p(z) = N(0, I).

    The book's MLP (784-400-latent-400-784, ReLU, Bernoulli decoder) with the label's ten
    numbers concatenated to the encoder's input and to the code. `decoder` is `Sequential(
    Linear(latent + labels, hidden), ReLU)` and `to_pixels` its last layer, so the first layer
    reads [z, one_hot(y)]: W [z, e_y] + b = W_z z + (b + W[:, latent + y]), a bias per label,
    which is how the page's explorer runs it (`vae_lib.display.page_decoder`). Explained in
    book/20_conditional_vae.ipynb.
    """

    def __init__(self, latent_dim: int = 2, hidden_dim: int = 400, n_labels: int = 10,
                 image_shape: tuple[int, int, int] = (1, 28, 28)):
        super().__init__()
        self.latent_dim = check_count("latent_dim", latent_dim)
        self.n_labels = check_count("n_labels", n_labels, low=2, high=1000)
        check_count("hidden_dim", hidden_dim)
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (channels, height, width), got {image_shape}")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.pixels = math.prod(self.image_shape)
        self.spec: dict[str, Any] = {"kind": "cvae", "latent_dim": latent_dim,
                                     "hidden_dim": hidden_dim, "n_labels": n_labels,
                                     "image_shape": list(self.image_shape)}
        self.encoder = nn.Sequential(nn.Linear(self.pixels + n_labels, hidden_dim), nn.ReLU())
        self.to_mu = nn.Linear(hidden_dim, latent_dim)
        self.to_logvar = nn.Linear(hidden_dim, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim + n_labels, hidden_dim), nn.ReLU())
        self.to_pixels = nn.Linear(hidden_dim, self.pixels)

    # -- checks -------------------------------------------------------------------------
    def _flat_images(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.pixels:
            raise ValueError(f"LabelCVAE expects images of {self.pixels} pixels each,"
                             f" got shape {tuple(x.shape)}")
        return check_pixels(x, "LabelCVAE input").reshape(x.shape[0], self.pixels)

    def _one_hot(self, y: Tensor | int, n: int, device: torch.device) -> Tensor:
        if isinstance(y, int) and not isinstance(y, bool):
            y = torch.full((n,), y)
        y = check_labels(y, self.n_labels, n)
        return F.one_hot(y.to(device), self.n_labels).float()

    def _check_latent(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"LabelCVAE has a {self.latent_dim}-d latent space,"
                             f" got z of shape {tuple(z.shape)}")
        return z

    # -- the model ------------------------------------------------------------------------
    def split(self, batch: Tensor) -> tuple[Tensor, Tensor]:
        """(images, labels) from rows made by `with_labels` (book/20_conditional_vae.ipynb)."""
        if batch.dim() != 2 or batch.shape[1] != self.pixels + self.n_labels:
            raise ValueError(f"LabelCVAE.split expects rows of {self.pixels} pixels and"
                             f" {self.n_labels} one-hot numbers, got shape {tuple(batch.shape)}")
        x, hot = batch[:, : self.pixels], batch[:, self.pixels :]
        return x.reshape(-1, *self.image_shape), hot.argmax(dim=1)

    def encode(self, x: Tensor, y: Tensor | int) -> tuple[Tensor, Tensor]:
        """q(z | x, y) = N(mu, diag(exp(logvar))): the encoder reads [x, one_hot(y)].

        Explained in book/20_conditional_vae.ipynb.
        """
        flat = self._flat_images(x)
        h = self.encoder(torch.cat([flat, self._one_hot(y, len(flat), flat.device)], dim=1))
        return self.to_mu(h), self.to_logvar(h)

    def decode_logits(self, z: Tensor, y: Tensor | int) -> Tensor:
        """The decoder's logits for [z, one_hot(y)], shaped as images."""
        z = self._check_latent(z)
        h = self.decoder(torch.cat([z, self._one_hot(y, len(z), z.device)], dim=1))
        return self.to_pixels(h).view(-1, *self.image_shape)

    def decode(self, z: Tensor, y: Tensor | int) -> Tensor:
        """The mean image of p(x | z, y) for each code and label (an int: one for all).

        Explained in book/20_conditional_vae.ipynb.
        """
        return torch.sigmoid(self.decode_logits(z, y))

    def log_likelihood(self, x: Tensor, z: Tensor, y: Tensor | int) -> Tensor:
        """log p(x | z, y) per image, Bernoulli."""
        flat = self._flat_images(x)
        return bernoulli_log_likelihood(self.decode_logits(z, y).reshape(len(flat), -1), flat)

    def objective(self, batch: Tensor, beta: float = 1.0) -> ELBO:
        """The ELBO of log p(x | y) per row of `with_labels`: what `fit` maximises.

        E_q[log p(x | z, y)] with one reparameterized z, minus beta KL(q(z | x, y) || N(0, I)) in
        closed form. Explained in book/20_conditional_vae.ipynb.
        """
        x, y = self.split(batch)
        mu, logvar = self.encode(x, y)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        recon = self.log_likelihood(x, z, y)
        kl = gaussian_kl(mu, logvar)
        return ELBO(recon - beta * kl, recon, kl)

    @torch.no_grad()
    def log_weights(self, x: Tensor, y: Tensor, k: int) -> Tensor:
        """log p(x | z, y) + log p(z) - log q(z | x, y) for k draws z ~ q(z | x, y): (k, n).

        Their log-mean-exp is L_K, a lower bound on log p(x | y) that tends to it as K grows
        (chapter 13's importance sampling, given the label). Explained in
        book/20_conditional_vae.ipynb.
        """
        check_count("k", k, high=MAX_SAMPLES)
        x = self._flat_images(x)
        y = check_labels(y, self.n_labels, len(x))
        mu, logvar = self.encode(x, y)
        labels = y.repeat(k)  # the label of each of the k * n rows

        def log_px(rows: Tensor, z: Tensor) -> Tensor:
            return self.log_likelihood(rows, z, labels)

        with inputs_checked():  # x and y were checked above, not again for every draw
            return sampled_log_weights(log_px, x, mu, logvar, k)

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | int, generator: torch.Generator | None = None) -> Tensor:
        """Mean images of n codes z ~ N(0, I) decoded with label y: digits of a chosen class."""
        check_count("n", n)
        z = torch.randn(n, self.latent_dim, generator=generator).to(model_device(self))
        return self.decode(z, y)
