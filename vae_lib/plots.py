"""The figures chapters share: each draws on a new (or given) Axes and returns the Figure.

Importing this module loads matplotlib, so `import vae_lib` defers it until a plot is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from .device import model_device
from .explore import latent_grid, posterior_means


def _to_grid(images: Tensor, ncols: int, pad: int = 1) -> Tensor:
    """Tile (n, 1, H, W) images into one (rows*(H+pad), ncols*(W+pad)) array for imshow."""
    images = images.detach().cpu().float()
    if images.dim() == 3:
        images = images.unsqueeze(1)
    n, _, h, w = images.shape
    rows = math.ceil(n / ncols)
    grid = torch.ones(rows * (h + pad) + pad, ncols * (w + pad) + pad)
    for i in range(n):
        r, c = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top : top + h, left : left + w] = images[i, 0]
    return grid


def image_grid(
    images: Tensor, ncols: int = 10, title: str | None = None, ax: plt.Axes | None = None
) -> Figure:
    """Show a batch of images as one grid (used from `book/02_autoencoders.ipynb` on)."""
    grid = _to_grid(images, ncols)
    if ax is None:
        aspect = grid.shape[0] / grid.shape[1]
        _, ax = plt.subplots(figsize=(ncols * 0.6, max(ncols * 0.6 * aspect, 0.8)))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.figure


def plot_losses(
    history: Sequence, keys: Sequence[str] = ("train_loss", "test_loss"), ax: plt.Axes | None = None
) -> Figure:
    """Loss curves (nats per image) against epochs from a `fit` history (`book/09_conv_vae`)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    epochs = [r.epoch for r in history]
    for key in keys:
        ax.plot(epochs, [getattr(r, key) for r in history], marker="o", label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per image")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax.figure


@torch.no_grad()
def plot_reconstructions(model: torch.nn.Module, images: Tensor, n: int = 10) -> Figure:
    """Originals (top row) above their reconstructions through the posterior mean (bottom row).

    Explained in `book/08_training.ipynb`.
    """
    x = images[:n].to(model_device(model))
    model.eval()
    mu, _ = model.encode(x)
    recon = model.decode(mu)
    fig, axes = plt.subplots(2, 1, figsize=(n * 0.6, 1.6))
    image_grid(x, ncols=n, ax=axes[0])
    image_grid(recon, ncols=n, ax=axes[1])
    axes[0].set_title("originals", fontsize=9)
    axes[1].set_title("reconstructions", fontsize=9)
    fig.tight_layout()
    return fig


@torch.no_grad()
def plot_manifold(model: torch.nn.Module, n: int = 20, span: float = 0.95) -> Figure:
    """Decode a grid of 2-D codes: the learned data manifold of a 2-D latent VAE.

    The grid is `latent_grid(n, span)`; explained in `book/10_latent_space.ipynb`.
    """
    if model.latent_dim != 2:
        raise ValueError(
            f"plot_manifold needs a 2-d latent space, the model has {model.latent_dim}"
        )
    model.eval()
    images = model.decode(latent_grid(n, span).to(model_device(model)))
    h, w = images.shape[-2:]
    fig, ax = plt.subplots(figsize=(6, 6 * h / w))
    image_grid(images, ncols=n, ax=ax)
    return fig


def plot_latent_means(
    model: torch.nn.Module,
    images: Tensor,
    labels: Tensor,
    dims: tuple[int, int] = (0, 1),
    ax: plt.Axes | None = None,
    cmap: str = "tab10",
) -> Figure:
    """Posterior means of a data set in two latent dimensions, coloured by label.

    Explained in `book/10_latent_space.ipynb`; works for the plain autoencoder's codes too.
    """
    mu = posterior_means(model, images)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    points = ax.scatter(mu[:, dims[0]], mu[:, dims[1]], c=labels.cpu(), cmap=cmap, s=3, alpha=0.7)
    ax.figure.colorbar(points, ax=ax, label="label")
    ax.set_xlabel(f"$z_{dims[0] + 1}$")
    ax.set_ylabel(f"$z_{dims[1] + 1}$")
    return ax.figure


def grid_to_pil(images: Tensor, ncols: int = 10, scale: int = 2):
    """Tile images into one greyscale PIL image (what the GIF frames and PNG files hold).

    Used for the animation of `book/09_conv_vae.ipynb`.
    """
    from PIL import Image

    grid = _to_grid(images, ncols).clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    picture = Image.fromarray(grid, mode="L")
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)


def save_gif(frames: Sequence, path, seconds_per_frame: float = 0.5) -> None:
    """Write PIL frames as a looping GIF, atomically: the file `python -m vae_lib train` leaves,
    where a chapter shows the same bytes inline (`gif_html`)."""
    from .display.html import gif_bytes
    from .files import atomic_write_bytes

    atomic_write_bytes(path, gif_bytes(frames, seconds_per_frame))


def save_figure(fig: Figure, path, dpi: int = 100) -> None:
    """Save a matplotlib figure as PNG, atomically (`python -m vae_lib train`'s loss.png): a
    stopped command leaves no half-written picture."""
    import io

    from .files import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
