"""Dequantization and bits per dimension against independent computations.

The discrete probability of an 8-bit value k under a density p on [0, 1] is the integral of p
over k's bin [k / 256, (k + 1) / 256); here it comes from scipy's quadrature of densities
written in numpy, independent of vae_lib and of torch.
"""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from torch.distributions import Normal

from vae_lib.objectives import bits_per_dim, dequantize


def _grey(k) -> torch.Tensor:
    """8-bit integers as MNIST's grey values k / 255, computed as load_dataset does."""
    return torch.as_tensor(k, dtype=torch.uint8).float().div_(255)


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_each_level_lands_in_its_own_bin_uniformly():
    k = torch.arange(256).repeat(400)
    y = dequantize(_grey(k), _seeded()).double()
    assert float(y.min()) >= 0 and float(y.max()) < 1
    assert torch.equal(torch.floor(256 * y).long(), k)
    offset = (256 * y - k).numpy()  # u, which should be U[0, 1) and independent of k
    assert stats.kstest(offset, "uniform").pvalue > 1e-3
    low, high = offset[k.numpy() < 128], offset[k.numpy() >= 128]
    assert abs(low.mean() - high.mean()) < 4 * math.sqrt(2 / 12 / low.size)


def test_grey_values_a_rounding_error_off_still_find_their_level():
    k = torch.arange(1, 256, dtype=torch.float64)
    for nudge in (-1e-6, 1e-6):  # k / 255 computed another way, say
        y = dequantize((k / 255 + nudge).clamp(0, 1), _seeded())
        assert torch.equal(torch.floor(256 * y), k)


def test_the_top_level_stays_below_one_and_zero_moves_off_the_point_mass():
    y = dequantize(_grey([0, 255] * 5000), _seeded()).double()
    zeros, tops = y[0::2], y[1::2]
    assert float(zeros.min()) > 0 and float(zeros.max()) < 1 / 256
    assert float(tops.min()) >= 255 / 256 and float(tops.max()) < 1


def test_the_noise_is_seeded_and_keeps_shape_and_dtype():
    x = _grey(torch.randint(0, 256, (3, 1, 28, 28), generator=_seeded(5)))
    a, b = dequantize(x, _seeded(1)), dequantize(x, _seeded(1))
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == x.dtype
    assert not torch.equal(a, dequantize(x, _seeded(2)))


@pytest.mark.parametrize(
    "images",
    [torch.rand(4, 1, 28, 28), torch.tensor([0.5 / 256]), torch.arange(256) / 256,
     torch.tensor([0.0, 2.0])],
    ids=["uniform noise", "a bin centre", "k / 256", "above 1"],
)
def test_values_that_are_not_8bit_grey_values_are_refused(images):
    with pytest.raises(ValueError):
        dequantize(images, _seeded())


def test_a_histogram_density_gives_the_exact_discrete_log_probability():
    # p(y) = 256 P_i(k) on bin k of pixel i: its bin masses are P_i(k) exactly, and log p is
    # constant on each bin, so Jensen is an equality and bpd must equal -log2 P(k) / P
    rng = np.random.default_rng(0)
    pixels = 7
    pmf = rng.dirichlet(np.full(256, 0.3), size=pixels) + 1e-12
    pmf /= pmf.sum(axis=1, keepdims=True)
    k = np.stack([rng.choice(256, size=50, p=row) for row in pmf], axis=1)  # (50, pixels)
    y = dequantize(_grey(k).double(), _seeded()).numpy()
    bins = np.floor(256 * y).astype(int)
    log_density = np.log(256 * np.take_along_axis(pmf.T, bins, axis=0)).sum(axis=1)
    bpd = bits_per_dim(torch.from_numpy(log_density), pixels)
    exact = -np.log2(np.take_along_axis(pmf.T, k, axis=0)).sum(axis=1) / pixels
    np.testing.assert_allclose(bpd.numpy(), exact, rtol=0, atol=1e-9)


def test_the_uniform_density_on_the_unit_cube_is_8_bits():
    assert bits_per_dim(0.0, 784) == 8.0
    assert bits_per_dim(torch.zeros(3), 1).tolist() == [8.0] * 3
    with pytest.raises(ValueError):
        bits_per_dim(0.0, 0)


def _cb_log_density(logit: float):
    """log of C(lambda) lambda^y (1 - lambda)^(1 - y), in numpy, stable for large |logit|."""
    log_lam, log_1m_lam = -np.logaddexp(0, -logit), -np.logaddexp(0, logit)
    log_c = math.log(logit / math.tanh(logit / 2))  # C(lambda) = l / tanh(l / 2)
    return lambda y: log_c + y * log_lam + (1 - y) * log_1m_lam


# (name, log-density on [0, 1] in numpy, 8-bit levels to test, most Jensen gap in bits)
MODELS = [
    ("Gaussian", lambda y: stats.norm.logpdf(y, 0.3, 0.1), [0, 3, 60, 77, 128, 250], 1e-2),
    ("continuous Bernoulli", _cb_log_density(-8.0), [0, 1, 100, 255], 1e-4),
    # steep enough that the density falls by e^-7.8 across bin 0: Jensen's gap is large
    ("steep continuous Bernoulli", _cb_log_density(-2000.0), [0, 1], 3.0),
]


@pytest.mark.parametrize("name, log_p, levels, max_gap", MODELS, ids=[m[0] for m in MODELS])
def test_bpd_bounds_the_bits_of_each_bin_found_by_integration(name, log_p, levels, max_gap):
    for k in levels:
        lo, hi = k / 256, (k + 1) / 256
        density = lambda y: math.exp(log_p(y))  # noqa: B023 (used at once)
        mass = integrate.quad(density, lo, hi, epsabs=0, epsrel=1e-12)[0]
        discrete_bits = -math.log2(mass)
        # E_u[log p((k + u) / 256)], by integration over the bin (256 = 1 / its width)
        mean_log_p = 256 * integrate.quad(log_p, lo, hi, epsabs=0, epsrel=1e-12)[0]
        bound = bits_per_dim(mean_log_p, 1)
        assert discrete_bits - 1e-9 <= bound <= discrete_bits + max_gap, (name, k)
        # Monte Carlo over u with dequantize: the same expectation, up to its own error
        y = dequantize(_grey(torch.full((20_000,), k)).double(), _seeded(k)).numpy()
        per_draw = bits_per_dim(torch.from_numpy(log_p(y)), 1)
        se = float(per_draw.std()) / math.sqrt(per_draw.numel())
        assert abs(float(per_draw.mean()) - bound) < 4 * se + 1e-9, (name, k)
        if name == "steep continuous Bernoulli" and k == 0:
            assert bound - discrete_bits > 2  # the bound can be loose; it still holds


def test_an_image_of_independent_pixels_adds_its_pixels_bits():
    # P pixels, each the Gaussian above: the bound per dimension is the mean of the pixels'
    k = np.array([0, 3, 60, 77, 128, 250])
    masses = [stats.norm.cdf((j + 1) / 256, 0.3, 0.1) - stats.norm.cdf(j / 256, 0.3, 0.1)
              for j in k]
    exact = -np.log2(masses).sum() / k.size
    y = dequantize(_grey(np.tile(k, (20_000, 1))).double(), _seeded(3))
    bpd = bits_per_dim(Normal(0.3, 0.1).log_prob(y).sum(dim=1), k.size)
    se = float(bpd.std()) / math.sqrt(bpd.numel())
    assert float(bpd.mean()) >= exact - 4 * se
    assert float(bpd.mean()) - exact < 4 * se + 5e-3  # Jensen's gap, as above
