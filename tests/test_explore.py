"""Interpolation, activity and traversal helpers (vae_lib.explore), on hand-made cases."""

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import vae_lib
from vae_lib.display import gif_bytes, gif_html
from vae_lib.explore import lerp, slerp


def _angle(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().numpy(), b.double().numpy()
    return math.acos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))


def test_slerp_hits_both_ends_and_keeps_the_norm():
    z0 = torch.randn(16)
    z1 = torch.randn(16)
    z1 = z1 * z0.norm() / z1.norm()  # same radius
    path = slerp(z0, z1, torch.linspace(0, 1, 11))
    assert path.shape == (11, 16)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    torch.testing.assert_close(path.norm(dim=1), z0.norm().expand(11), rtol=1e-5, atol=1e-5)
    # constant angular speed: the angle from z0 grows linearly in t
    omega = _angle(z0, z1)
    for k, t in enumerate(torch.linspace(0, 1, 11).tolist()):
        assert _angle(z0, path[k]) == pytest.approx(t * omega, abs=1e-4)


def test_slerp_matches_the_formula_for_unequal_norms():
    z0 = torch.tensor([2.0, 0.0, 0.0])
    z1 = torch.tensor([0.0, 1.0, 0.0])  # a right angle
    mid = slerp(z0, z1, 0.5)
    s = math.sin(math.pi / 4)
    torch.testing.assert_close(mid, torch.tensor([2 * s, s, 0.0]))
    assert slerp(z0, z1, 0.25).shape == (3,)


def test_slerp_falls_back_to_a_line_for_parallel_codes():
    z0 = torch.tensor([1.0, 1.0])
    z1 = 3 * z0
    torch.testing.assert_close(slerp(z0, z1, 0.5), torch.tensor([2.0, 2.0]))
    assert torch.isfinite(slerp(z0, -z0, torch.tensor([0.0, 0.3, 1.0]))).all()


def test_linear_midpoint_is_shorter_than_slerp_midpoint():
    z0, z1 = torch.randn(32), torch.randn(32)
    torch.testing.assert_close(lerp(z0, z1, 0.5), (z0 + z1) / 2)
    assert lerp(z0, z1, 0.5).norm() < slerp(z0, z1, 0.5).norm()


def test_interpolate_shapes_and_errors():
    z0, z1 = torch.zeros(4), torch.ones(4)
    assert vae_lib.interpolate(z0, z1, 7).shape == (7, 4)
    path = vae_lib.interpolate(z0, z1 * 2, 5, method="slerp")
    torch.testing.assert_close(path[-1], z1 * 2)
    with pytest.raises(ValueError, match="method"):
        vae_lib.interpolate(z0, z1, 5, method="cubic")
    with pytest.raises(ValueError, match="steps"):
        vae_lib.interpolate(z0, z1, 1)
    with pytest.raises(ValueError, match="same length"):
        slerp(torch.zeros(3), torch.zeros(4), 0.5)


class _FixedEncoder(nn.Module):
    """An 'encoder' whose posterior mean for image k is row k of a table we choose."""

    def __init__(self, means: torch.Tensor):
        super().__init__()
        self.means = means
        self.latent_dim = means.shape[1]
        self.dummy = nn.Parameter(torch.zeros(1))

    def encode(self, x):
        idx = x.reshape(x.shape[0], -1)[:, 0].long()
        mu = self.means[idx]
        return mu, torch.zeros_like(mu)


def test_active_units_on_a_constructed_case():
    n = 100
    sign = torch.tensor([1.0, -1.0]).repeat(n // 2)  # mean 0, variance exactly 1
    means = torch.stack([sign, 0.2 * sign, 0.05 * sign, torch.full((n,), 5.0)], dim=1)
    images = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1)
    model = _FixedEncoder(means)
    activity = vae_lib.latent_activity(model, images, batch_size=7)  # batches of 7: concatenation
    torch.testing.assert_close(activity, torch.tensor([1.0, 0.04, 0.0025, 0.0]))
    assert vae_lib.active_units(model, images) == 2  # Burda et al.'s threshold 0.01
    assert vae_lib.active_units(model, images, threshold=0.001) == 3
    assert vae_lib.active_units(model, images, threshold=2.0) == 0


def test_traversal_shapes_and_content():
    model = vae_lib.MLPVAE(latent_dim=4)
    with torch.no_grad():
        model.decoder[0].weight[:, 2] = 0.0  # unit 3 (index 2) cannot change the image
    values = torch.linspace(-2, 2, 5)
    base = torch.tensor([0.3, -0.1, 0.0, 0.5])
    images = vae_lib.latent_traversal(model, dims=[0, 2], values=values, base=base)
    assert images.shape == (2, 5, 1, 28, 28)
    code = base.clone()
    code[0] = values[3]
    torch.testing.assert_close(images[0, 3], model.decode(code[None])[0].detach())
    assert not torch.allclose(images[0, 0], images[0, -1])
    torch.testing.assert_close(images[1, 0], images[1, -1])  # the dead unit's row is constant
    assert vae_lib.latent_traversal(model).shape == (4, 9, 1, 28, 28)
    with pytest.raises(ValueError, match="outside"):
        vae_lib.latent_traversal(model, dims=[4])


def test_gif_round_trip():
    frames = [Image.fromarray(np.full((10, 12), v, dtype=np.uint8), mode="L") for v in (0, 99, 255)]
    data = gif_bytes(frames, seconds_per_frame=0.2)
    assert data[:6] in (b"GIF87a", b"GIF89a")
    gif = Image.open(io.BytesIO(data))
    assert gif.n_frames == 3 and gif.size == (12, 10)
    html = gif_html(frames, alt="three frames")
    assert html.startswith('<img src="data:image/gif;base64,') and 'alt="three frames"' in html
    with pytest.raises(ValueError):
        gif_bytes([])


def test_latent_grid_reads_like_a_plot_and_uses_the_priors_quantiles():
    from scipy.stats import norm

    grid = vae_lib.latent_grid(3, span=0.9)
    low, high = norm.ppf(0.05), norm.ppf(0.95)
    assert grid.shape == (9, 2)
    np.testing.assert_allclose(grid[0], [low, high], rtol=1e-5)  # top left: low z1, high z2
    np.testing.assert_allclose(grid[2], [high, high], rtol=1e-5)  # top right
    np.testing.assert_allclose(grid[6], [low, low], rtol=1e-5)  # bottom left
    np.testing.assert_allclose(grid[4], [0.0, 0.0], atol=1e-6)


def test_posterior_means_of_an_autoencoder_are_its_codes():
    model = vae_lib.Autoencoder(latent_dim=2, hidden_dim=8, image_shape=(1, 4, 4))
    x = torch.rand(5, 1, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(vae_lib.posterior_means(model, x, batch_size=2), model.encode(x))
