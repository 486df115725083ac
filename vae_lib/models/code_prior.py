"""A learned prior over a VQ-VAE's grid of codes: an autoregressive model with K-way outputs.

p(c) = prod_i p(c_i | c_<i) over the grid's positions in raster order, each factor a softmax
over the K codes. The network is a MADE (Germain et al. 2015; the masks of `made_masks`) whose
inputs are the one-hot codes, so position i's logits see the codes before i only, and one pass
gives every factor. Van den Oord et al. (2017) fit a PixelCNN over the codes after training the
VQ-VAE; this is a smaller model of the same kind. Explained in book/19_vq_vae.ipynb.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_count, check_pixels
from ..device import model_device
from ..objectives import ELBO
from .made import MaskedLinear, made_masks


def codes_as_image(codes: Tensor, k: int) -> Tensor:
    """A grid of codes (n, h, w) as an image (n, 1, h, w) with k grey levels, code c at
    c / (k - 1): the form `fit` takes data in (pixels in [0, 1]). Explained in
    book/19_vq_vae.ipynb."""
    check_count("k", k, low=2)
    return (codes.float() / (k - 1)).unsqueeze(1)


def image_as_codes(x: Tensor, k: int) -> Tensor:
    """The inverse of `codes_as_image`: grey levels back to code indices (n, h, w) long."""
    return (check_pixels(x, "code image")[:, 0] * (k - 1)).round().long()


class CodePrior(nn.Module):
    """p(c) = prod_i softmax(logits_i(c_<i))[c_i] over a grid of codes (book/19_vq_vae.ipynb).

    Two masked hidden layers of `hidden_dim` ReLU units: hidden unit j has a degree m_j in
    1..P-1 and sees positions <= m_j, output i sees units with m_j < i, so logits_i depends on
    c_1..c_{i-1} only, and position 1's logits are a learned constant (the biases).
    """

    def __init__(self, codebook_size: int = 64, grid: tuple[int, int] = (7, 7),
                 hidden_dim: int = 256):
        super().__init__()
        k = check_count("codebook_size", codebook_size, low=2)
        h, w = (check_count("grid", int(g)) for g in grid)
        positions = h * w
        if positions < 2:
            raise ValueError(f"grid must have at least 2 positions, got {h} x {w}")
        hidden = check_count("hidden_dim", hidden_dim)
        self.spec: dict[str, Any] = {"kind": "code_prior", "codebook_size": k,
                                     "grid": [h, w], "hidden_dim": hidden}
        self.codebook_size, self.grid, self.positions = k, (h, w), positions
        self.image_shape = (1, h, w)
        to_hidden, to_output, _ = made_masks(positions, hidden)  # (H, P), (P, H)
        degrees = torch.arange(hidden) % (positions - 1) + 1
        self.first = MaskedLinear(to_hidden.repeat_interleave(k, dim=1))  # one-hot in
        self.second = MaskedLinear((degrees[:, None] >= degrees[None, :]).float())
        self.out = MaskedLinear(to_output.repeat_interleave(k, dim=0))

    def _check_codes(self, codes: Tensor) -> Tensor:
        if codes.dim() == 3:
            codes = codes.flatten(1)
        if codes.dim() != 2 or codes.shape[1] != self.positions:
            raise ValueError(f"CodePrior is over grids of {self.grid[0]} x {self.grid[1]} codes,"
                             f" got shape {tuple(codes.shape)}")
        if codes.numel() and not 0 <= int(codes.min()) <= int(codes.max()) < self.codebook_size:
            raise ValueError(f"codes must lie in 0..{self.codebook_size - 1}")
        return codes.long()

    def logits_of_onehot(self, onehot: Tensor) -> Tensor:
        """Logits (n, P, K) from one-hot codes (n, P, K): the network itself, a function of
        real inputs so that autograd can show what each output depends on (chapter 19)."""
        h = F.relu(self.first(onehot.flatten(1)))
        h = F.relu(self.second(h))
        return self.out(h).view(-1, self.positions, self.codebook_size)

    def logits(self, codes: Tensor) -> Tensor:
        """Logits of p(c_i | c_<i) for every position of grids of codes (n, h, w) or (n, P)."""
        codes = self._check_codes(codes)
        onehot = F.one_hot(codes, self.codebook_size).float()
        return self.logits_of_onehot(onehot.to(model_device(self)))

    def log_prob(self, codes: Tensor) -> Tensor:
        """log p(c) = sum_i log p(c_i | c_<i) in nats, per grid, in one pass (chapter 19)."""
        codes = self._check_codes(codes).to(model_device(self))
        log_p = self.logits(codes).log_softmax(-1)
        return log_p.gather(-1, codes.unsqueeze(-1)).squeeze(-1).sum(-1)

    def objective(self, x: Tensor, beta: float = 1.0) -> ELBO:
        """log p(c) of code grids stored as images (`codes_as_image`), as an `ELBO` with no KL
        term, so that `fit` trains the prior by maximum likelihood (chapter 19)."""
        log_p = self.log_prob(image_as_codes(x, self.codebook_size))
        return ELBO(log_p, log_p, torch.zeros_like(log_p))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n grids of codes (n, h, w) drawn position by position: P passes (chapter 19)."""
        codes = torch.zeros(check_count("n", n), self.positions, dtype=torch.long)
        for i in range(self.positions):
            probs = self.logits(codes)[:, i].softmax(-1).cpu()
            codes[:, i] = torch.multinomial(probs, 1, generator=generator)[:, 0]
        return codes.view(n, *self.grid).to(model_device(self))

    @torch.no_grad()
    def bits(self, codes: Tensor) -> Tensor:
        """-log2 p(c) per grid: the code's length in bits under this prior (chapter 19)."""
        return -self.log_prob(codes) / math.log(2)
