"""Walking around a trained VAE's latent space: interpolation, grids, traversals, active units.

Chapter 10 (`book/10_latent_space.ipynb`) interpolates between digits, chapter 11
(`book/11_beta_vae.ipynb`) draws traversals and counts active units. They live here so the
chapters stay short and the tests in `tests/test_explore.py` can check them against hand-made
cases. This is the latent-space maths only; pictures are in `plots`, HTML in `display`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .device import model_device


def _as_times(t: float | Sequence[float] | Tensor) -> tuple[Tensor, bool]:
    """Times as a 1-D float tensor, and whether the caller gave a single number."""
    times = torch.as_tensor(t, dtype=torch.float32)
    if times.dim() > 1:
        raise ValueError(f"t must be a number or a 1-d sequence, got shape {tuple(times.shape)}")
    return times.reshape(-1), times.dim() == 0


def _check_pair(z0: Tensor, z1: Tensor) -> None:
    if not (z0.is_floating_point() and z1.is_floating_point()):
        raise ValueError("z0 and z1 must be floating-point codes (an integer code would round"
                         f" every point between them), got {z0.dtype} and {z1.dtype}")
    if z0.dim() != 1 or z0.shape != z1.shape:
        raise ValueError(
            "z0 and z1 must be two codes of the same length,"
            f" got {tuple(z0.shape)} and {tuple(z1.shape)}"
        )


def lerp(z0: Tensor, z1: Tensor, t: float | Sequence[float] | Tensor) -> Tensor:
    """Straight-line interpolation (1 - t) z0 + t z1: one row per t, or one code for a number t.

    Explained in `book/10_latent_space.ipynb`.
    """
    _check_pair(z0, z1)
    times, scalar = _as_times(t)
    times = times.to(z0.device, z0.dtype).unsqueeze(1)
    out = (1 - times) * z0 + times * z1
    return out[0] if scalar else out


def slerp(z0: Tensor, z1: Tensor, t: float | Sequence[float] | Tensor, eps: float = 1e-6) -> Tensor:
    """Spherical interpolation along the great circle from z0 to z1 (White, 2016).

    Why not a straight line: in d dimensions, draws from the prior N(0, I) sit near the sphere of
    radius sqrt(d), so the midpoint of a straight line between two typical codes has a norm of about
    sqrt(d / 2), a place the prior almost never visits and the decoder was rarely trained on.
    slerp(t) = sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1, with w the angle between the
    codes, turns at constant speed and keeps the norm when both ends share it. When the codes are
    (anti)parallel the angle gives no plane to turn in, and we fall back to the straight line.
    Explained in `book/10_latent_space.ipynb`.
    """
    _check_pair(z0, z1)
    times, scalar = _as_times(t)
    times = times.to(z0.device, torch.float64).unsqueeze(1)
    a, b = z0.double(), z1.double()
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(eps)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if torch.sin(omega).abs() < eps:
        return lerp(z0, z1, t)
    out = (torch.sin((1 - times) * omega) * a + torch.sin(times * omega) * b) / torch.sin(omega)
    out = out.to(z0.dtype)
    return out[0] if scalar else out


def interpolate(z0: Tensor, z1: Tensor, steps: int = 10, method: str = "linear") -> Tensor:
    """`steps` codes from z0 to z1 inclusive, along a straight line or a great circle ('slerp').

    Explained in `book/10_latent_space.ipynb`.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2 to include both ends, got {steps}")
    paths = {"linear": lerp, "slerp": slerp}
    if method not in paths:
        raise ValueError(f"method must be one of {sorted(paths)}, got {method!r}")
    return paths[method](z0, z1, torch.linspace(0, 1, steps))


@torch.no_grad()
def posterior_means(model: nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """E_q[z | x] = mu(x) for every image, in batches; shape (n, latent_dim), on the CPU.

    For a plain `Autoencoder`, whose encoder returns one code, that code. Explained in
    `book/10_latent_space.ipynb`.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    device = model_device(model)
    means = []
    for i in range(0, images.shape[0], batch_size):
        code = model.encode(images[i : i + batch_size].to(device))
        means.append((code[0] if isinstance(code, tuple) else code).cpu())
    model.train(was_training)
    return torch.cat(means)


def axis_values(n: int = 21, span: float = 3.0, grid: str = "uniform") -> Tensor:
    """The n values a latent axis takes in a grid of codes, ascending.

    'uniform': evenly spaced over [-span, span]. 'icdf': the prior's quantiles at evenly spaced
    probabilities (Kingma & Welling's Figure 4 grid), denser where the prior puts its mass;
    `span` is then the probability mass covered (e.g. 0.95). It gives `latent_grid` its axes.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if grid == "uniform":
        return torch.linspace(-span, span, n)
    if grid == "icdf":
        if not 0 < span < 1:
            raise ValueError(f"with grid='icdf', span is a probability mass in (0, 1), got {span}")
        probs = torch.linspace((1 - span) / 2, (1 + span) / 2, n, dtype=torch.float64)
        return torch.distributions.Normal(0.0, 1.0).icdf(probs).float()
    raise ValueError(f"grid must be 'uniform' or 'icdf', got {grid!r}")


def latent_grid(n: int = 20, span: float = 0.95) -> Tensor:
    """An n x n grid of 2-D codes through the prior's inverse CDF (Kingma & Welling, Fig. 4).

    The axes are `axis_values(n, span, 'icdf')`, so the grid covers the prior's mass evenly.
    Rows run from high z2 (top) to low, columns from low z1 (left) to high, as in an ordinary
    plot. Explained in `book/10_latent_space.ipynb`.
    """
    values = axis_values(n, span, "icdf")
    z1, z2 = torch.meshgrid(values, values.flip(0), indexing="xy")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def latent_activity(model: nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Burda et al.'s activity of each latent unit: A_j = Var_x( E_q[z_j | x] ).

    A unit whose posterior mean hardly moves from image to image carries no information about
    the image: the KL term has pushed q(z_j | x) onto the prior for every x. The variance is the
    population one (divided by n), over the images given. Explained in
    `book/11_beta_vae.ipynb`.
    """
    means = posterior_means(model, images, batch_size).double()
    return means.var(dim=0, unbiased=False).float()


def active_units(
    model: nn.Module, images: Tensor, threshold: float = 0.01, batch_size: int = 1000
) -> int:
    """How many latent units are active, A_j > threshold (Burda et al. use 0.01).

    Explained in `book/11_beta_vae.ipynb`.
    """
    return int((latent_activity(model, images, batch_size) > threshold).sum())


@torch.no_grad()
def latent_traversal(
    model: nn.Module,
    dims: Sequence[int] | None = None,
    values: Sequence[float] | Tensor | None = None,
    base: Tensor | None = None,
) -> Tensor:
    """Decode codes that move one latent unit at a time: shape (len(dims), len(values), C, H, W).

    Row r starts from `base` (the prior mean 0 unless given: a posterior mean shows the changes
    around a real image) and sets unit dims[r] to each of `values` in turn, the others held
    fixed. If a unit is disentangled, its row changes one property of the image; if it is
    inactive, the row does not change at all. Explained in `book/11_beta_vae.ipynb`.
    """
    latent = model.latent_dim
    dims = list(range(latent)) if dims is None else [int(d) for d in dims]
    for d in dims:
        if not 0 <= d < latent:
            raise ValueError(f"dimension {d} is outside the {latent}-d latent space")
    values = torch.linspace(-3, 3, 9) if values is None else torch.as_tensor(values).float()
    base = torch.zeros(latent) if base is None else base.detach().reshape(-1).float().cpu()
    if base.shape[0] != latent:
        raise ValueError(f"base must have {latent} entries, got {base.shape[0]}")
    codes = base.repeat(len(dims), len(values), 1)  # (rows, steps, latent)
    for row, d in enumerate(dims):
        codes[row, :, d] = values
    was_training = model.training
    model.eval()
    images = model.decode(codes.reshape(-1, latent).to(model_device(model))).cpu()
    model.train(was_training)
    return images.reshape(len(dims), len(values), *images.shape[1:])
