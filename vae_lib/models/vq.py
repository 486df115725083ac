"""The VQ-VAE of van den Oord, Vinyals & Kavukcuoglu (2017): a grid of discrete codes.

The encoder turns an image into a grid of D-dimensional vectors (7 x 7 for MNIST); each vector
is replaced by its nearest entry of a codebook of K vectors, and the decoder sees only those
entries. The gradient skips the non-differentiable nearest-neighbour step (straight-through),
a codebook loss pulls the entries towards the encoder's outputs and a commitment loss keeps the
outputs near their entries. With a uniform prior over the K codes the ELBO's KL term is the
constant grid size x log K. Explained in book/19_vq_vae.ipynb.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from ..checks import check_count, check_pixels
from ..device import model_device
from ..objectives import ELBO, bernoulli_log_likelihood

UPDATES = ("loss", "ema")  # how the codebook learns: its own loss term, or moving averages


def nearest_code(vectors: Tensor, codebook: Tensor) -> Tensor:
    """The index of the nearest codebook row (squared Euclidean distance) for each vector.

    vectors (N, D), codebook (K, D) -> (N,) long. ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2 in
    one matrix product, not N x K differences. Explained in book/19_vq_vae.ipynb.
    """
    if vectors.dim() != 2 or codebook.dim() != 2 or vectors.shape[1] != codebook.shape[1]:
        raise ValueError(f"nearest_code: need vectors (N, D) and a codebook (K, D), got"
                         f" {tuple(vectors.shape)} and {tuple(codebook.shape)}")
    distances = (vectors.pow(2).sum(1, keepdim=True) - 2 * vectors @ codebook.T
                 + codebook.pow(2).sum(1))
    return distances.argmin(dim=1)


def straight_through(z_e: Tensor, z_q: Tensor) -> Tensor:
    """z_q in the forward pass, the identity in the backward one: z_e + sg[z_q - z_e].

    The decoder sees the codebook vector, and the gradient it sends back is handed to the
    encoder's output unchanged, as if quantising were the identity. Explained in
    book/19_vq_vae.ipynb.
    """
    return z_e + (z_q - z_e).detach()


def ema_update(count: Tensor, total: Tensor, assigned: Tensor, vectors: Tensor,
               decay: float) -> tuple[Tensor, Tensor, Tensor]:
    """One step of the moving-average codebook (the paper's appendix A.1).

    With n_i the number of `vectors` assigned to code i in this minibatch and s_i their sum:
    N_i <- decay N_i + (1 - decay) n_i, m_i <- decay m_i + (1 - decay) s_i, e_i = m_i / N_i.
    Returns (N, m, e). Explained in book/19_vq_vae.ipynb.
    """
    onehot = nn.functional.one_hot(assigned, count.shape[0]).to(vectors.dtype)  # (N, K)
    count = decay * count + (1 - decay) * onehot.sum(0)
    total = decay * total + (1 - decay) * onehot.T @ vectors
    return count, total, total / count.clamp_min(1e-30).unsqueeze(1)


def kmeans(vectors: Tensor, k: int, iterations: int = 10,
           generator: torch.Generator | None = None) -> Tensor:
    """k centres of `vectors` (N, D) by Lloyd's algorithm, started at k distinct random vectors.

    A centre that loses all its vectors keeps its place. The data-dependent start of the
    codebook that book/19_vq_vae.ipynb measures against a random one.
    """
    check_count("k", k)
    if vectors.shape[0] < k:
        raise ValueError(f"kmeans: {vectors.shape[0]} vectors cannot give {k} centres")
    start = torch.randperm(vectors.shape[0], generator=generator)[:k].to(vectors.device)
    centres = vectors[start].clone()
    for _ in range(check_count("iterations", iterations, low=0)):
        assigned = nearest_code(vectors, centres)
        onehot = nn.functional.one_hot(assigned, k).to(vectors.dtype)
        size = onehot.sum(0)
        moved = (onehot.T @ vectors) / size.clamp_min(1).unsqueeze(1)
        centres = torch.where(size.unsqueeze(1) > 0, moved, centres)
    return centres


def perplexity(codes: Tensor, k: int) -> float:
    """exp(entropy) of how often each of the k codes occurs in `codes` (any shape).

    k when every code is used equally often, 1 when one code takes all. Explained in
    book/19_vq_vae.ipynb.
    """
    p = torch.bincount(codes.flatten(), minlength=k).double() / codes.numel()
    return math.exp(-(p[p > 0] * p[p > 0].log()).sum().item())


class VQTerms(NamedTuple):
    """Per-image terms of the VQ-VAE, what `VQVAE.terms` returns: log p(x | z_q) (nats), the
    codebook and commitment losses (squared distances summed over the grid), the code grid."""

    recon: Tensor
    codebook: Tensor
    commitment: Tensor
    codes: Tensor


class VQVAE(nn.Module):
    """Conv encoder -> grid of D-dim vectors -> nearest of K codes -> conv decoder (chapter 19).

    Two stride-2 convolutions take a 28 x 28 image to a 7 x 7 grid; the decoder mirrors them
    with transposed convolutions to Bernoulli logits. `update="ema"` learns the codebook by
    moving averages (`ema_update`) instead of the codebook loss. The codebook starts uniform
    in (-1/K, 1/K), a common choice the paper does not fix; `init_codebook` restarts it at
    k-means centres of the encoder's outputs. Explained in book/19_vq_vae.ipynb.
    """

    def __init__(self, codebook_size: int = 64, code_dim: int = 8,
                 channels: tuple[int, int] = (16, 32), commitment: float = 0.25,
                 update: str = "loss", decay: float = 0.99,
                 image_shape: tuple[int, int, int] = (1, 28, 28)):
        super().__init__()
        k, d = check_count("codebook_size", codebook_size), check_count("code_dim", code_dim)
        c1, c2 = (check_count("channels", int(c)) for c in channels)
        if update not in UPDATES:
            raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
        if not (commitment >= 0 and math.isfinite(commitment)):
            raise ValueError(f"commitment must be a finite number >= 0, got {commitment}")
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 3 or shape[1] % 4 or shape[2] % 4:
            raise ValueError(f"image_shape must be (C, H, W) with H and W divisible by 4,"
                             f" got {image_shape}")
        self.spec: dict[str, Any] = {
            "kind": "vq", "codebook_size": k, "code_dim": d, "channels": [c1, c2],
            "commitment": float(commitment), "update": update, "decay": float(decay),
            "image_shape": list(shape)}
        self.image_shape, self.grid = shape, (shape[1] // 4, shape[2] // 4)
        self.codebook_size, self.commitment, self.update, self.decay = k, commitment, update, decay
        self.encoder = nn.Sequential(
            nn.Conv2d(shape[0], c1, 4, 2, 1), nn.ReLU(), nn.Conv2d(c1, c2, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(c2, d, 1))
        self.decoder = nn.Sequential(
            nn.Conv2d(d, c2, 3, 1, 1), nn.ReLU(), nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(c1, shape[0], 4, 2, 1))
        self.codebook = nn.Parameter(torch.empty(k, d).uniform_(-1 / k, 1 / k),
                                     requires_grad=update == "loss")
        self.register_buffer("ema_count", torch.ones(k))  # N_i = 1, m_i = e_i: m / N = e
        self.register_buffer("ema_total", self.codebook.detach().clone())

    @property
    def grid_size(self) -> int:
        """Codes per image (49 for 7 x 7)."""
        return self.grid[0] * self.grid[1]

    def _check_images(self, x: Tensor) -> Tensor:
        if x.dim() == 3 and self.image_shape[0] == 1:
            x = x.unsqueeze(1)
        if tuple(x.shape[1:]) != self.image_shape:
            shape = ", ".join(map(str, self.image_shape))
            raise ValueError(f"VQVAE expects images of shape (n, {shape}), got {tuple(x.shape)}")
        return check_pixels(x, "VQVAE input")

    def encode(self, x: Tensor) -> Tensor:
        """z_e(x), the encoder's grid of vectors, shape (n, D, h, w) (chapter 19)."""
        return self.encoder(self._check_images(x))

    def quantize(self, z_e: Tensor) -> tuple[Tensor, Tensor]:
        """(z_q, codes): each vector of the grid replaced by its nearest codebook entry, and the
        grid of their indices (n, h, w) (chapter 19)."""
        n, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        codes = nearest_code(flat.detach(), self.codebook.detach())
        z_q = self.codebook[codes].view(n, h, w, d).permute(0, 3, 1, 2)
        return z_q, codes.view(n, h, w)

    def embed(self, codes: Tensor) -> Tensor:
        """The codebook vectors of a grid of indices (n, h, w) -> (n, D, h, w)."""
        if codes.dim() != 3 or tuple(codes.shape[1:]) != self.grid:
            raise ValueError(f"codes must have shape (n, {self.grid[0]}, {self.grid[1]}),"
                             f" got {tuple(codes.shape)}")
        if codes.numel() and not 0 <= int(codes.min()) <= int(codes.max()) < self.codebook_size:
            raise ValueError(f"codes must lie in 0..{self.codebook_size - 1}")
        return self.codebook[codes].permute(0, 3, 1, 2)

    @torch.no_grad()
    def codes(self, x: Tensor) -> Tensor:
        """The code grid of each image, (n, h, w) long (chapter 19)."""
        return self.quantize(self.encode(x))[1]

    @torch.no_grad()
    def decode_codes(self, codes: Tensor) -> Tensor:
        """The decoder's mean image for each code grid (chapter 19)."""
        return torch.sigmoid(self.decoder(self.embed(codes)))

    def terms(self, x: Tensor) -> VQTerms:
        """The forward pass of training: encode, quantise, decode through the straight-through
        estimator; in EMA mode (and in training) the codebook moves here too (chapter 19)."""
        x = self._check_images(x)
        z_e = self.encoder(x)
        z_q, codes = self.quantize(z_e)
        if self.update == "ema" and self.training:
            flat = z_e.detach().permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
            with torch.no_grad():
                count, total, vectors = ema_update(self.ema_count, self.ema_total,
                                                   codes.flatten(), flat, self.decay)
                self.ema_count.copy_(count)
                self.ema_total.copy_(total)
                self.codebook.copy_(vectors)
        recon = bernoulli_log_likelihood(self.decoder(straight_through(z_e, z_q)), x)
        codebook = (z_e.detach() - z_q).pow(2).flatten(1).sum(1)
        commitment = (z_e - z_q.detach()).pow(2).flatten(1).sum(1)
        return VQTerms(recon, codebook, commitment, codes)

    def loss(self, x: Tensor) -> Tensor:
        """The paper's training loss, mean over the batch: -log p(x | z_q) + ||sg[z_e] - e||^2
        + beta ||z_e - sg[e]||^2 (no codebook term with EMA updates) (chapter 19)."""
        t = self.terms(x)
        codebook = t.codebook if self.update == "loss" else 0.0
        return (-t.recon + codebook + self.commitment * t.commitment).mean()

    def kl_uniform(self) -> float:
        """KL(q(z | x) || uniform) = grid size x log K nats: q is one-hot (chapter 19)."""
        return self.grid_size * math.log(self.codebook_size)

    def objective(self, x: Tensor, beta: float = 1.0) -> ELBO:
        """The ELBO under the uniform prior, log p(x | z_q) - grid size x log K, per image: what
        `fit` and `evaluate` report (train with `vq_loss`) (chapter 19)."""
        recon = self.terms(x).recon
        kl = torch.full_like(recon, self.kl_uniform())
        return ELBO(recon - beta * kl, recon, kl)

    @torch.no_grad()
    def init_codebook(self, images: Tensor, iterations: int = 10, seed: int = 0) -> None:
        """Restart the codebook at k-means centres of the encoder's outputs on `images`
        (chapter 19)."""
        z_e = self.encode(images.to(model_device(self)))
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
        centres = kmeans(flat, self.codebook_size, iterations, torch.Generator().manual_seed(seed))
        self.codebook.copy_(centres)
        self.ema_total.copy_(centres * self.ema_count.unsqueeze(1))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Decode n grids of codes drawn from the uniform prior (chapter 19)."""
        codes = torch.randint(self.codebook_size, (check_count("n", n), *self.grid),
                              generator=generator)
        return self.decode_codes(codes.to(model_device(self)))


def vq_loss(model: VQVAE, x: Tensor, step: int) -> Tensor:
    """`fit`'s loss_fn for a VQ-VAE: its training loss, which is not minus its ELBO
    (chapter 19)."""
    return model.loss(x)
