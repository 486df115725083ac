"""The importance-weighted bound L_K (vae_lib.iwae_bound), checked against exact answers.

On a linear-Gaussian model, p(z) = N(0, I) and p(x|z) = N(Wz + b, s^2 I), the marginal
p(x) = N(b, W W^T + s^2 I) is known in closed form, so L_K can be compared with the true
log-likelihood rather than with another estimate.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from vae_lib import MLPVAE, elbo, iwae_bound

DATA_DIM, LATENT_DIM, SIGMA = 6, 2, 0.5


class LinearGaussian(nn.Module):
    """A linear-Gaussian latent variable model with a Gaussian q(z|x) we can spoil on purpose.

    W has orthogonal columns, so the exact posterior has a diagonal covariance and q(z|x) can
    equal it. `q_shift` moves q's mean by that many posterior standard deviations and
    `q_scale` multiplies its standard deviation: (0, 1) is the exact posterior.
    """

    def __init__(self, q_shift: float = 0.0, q_scale: float = 1.0, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(DATA_DIM, LATENT_DIM, generator=g, dtype=torch.float64))
        self.W = q * torch.tensor([2.0, 1.2], dtype=torch.float64)  # orthogonal columns
        self.b = torch.randn(DATA_DIM, generator=g, dtype=torch.float64)
        self.q_shift, self.q_scale = q_shift, q_scale
        precision = torch.eye(LATENT_DIM, dtype=torch.float64) + self.W.T @ self.W / SIGMA**2
        self.post_cov = torch.linalg.inv(precision)

    def exact_log_px(self, x: Tensor) -> Tensor:
        cov = self.W @ self.W.T + SIGMA**2 * torch.eye(DATA_DIM, dtype=torch.float64)
        return torch.distributions.MultivariateNormal(self.b, cov).log_prob(x)

    def sample_x(self, n: int, seed: int = 1) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, LATENT_DIM, generator=g, dtype=torch.float64)
        noise = torch.randn(n, DATA_DIM, generator=g, dtype=torch.float64)
        return z @ self.W.T + self.b + SIGMA * noise

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        post_mean = (x - self.b) @ self.W @ self.post_cov / SIGMA**2
        post_std = self.post_cov.diagonal().sqrt().expand_as(post_mean)
        mu = post_mean + self.q_shift * post_std
        logvar = 2 * torch.log(self.q_scale * post_std)
        return mu, logvar

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        mean = z @ self.W.T + self.b
        return torch.distributions.Normal(mean, SIGMA).log_prob(x).sum(dim=-1)


def test_the_fixture_posterior_is_the_gaussian_conditional():
    """Condition the joint Gaussian of (z, x) by the textbook formula, independently of encode."""
    model = LinearGaussian()
    x = model.sample_x(4)
    cov_xx = model.W @ model.W.T + SIGMA**2 * torch.eye(DATA_DIM, dtype=torch.float64)
    gain = model.W.T @ torch.linalg.inv(cov_xx)  # Cov(z, x) Cov(x, x)^-1
    cond_mean = (x - model.b) @ gain.T
    cond_cov = torch.eye(LATENT_DIM, dtype=torch.float64) - gain @ model.W
    mu, logvar = model.encode(x)
    torch.testing.assert_close(mu, cond_mean)
    torch.testing.assert_close(logvar.exp()[0], cond_cov.diagonal())
    assert (cond_cov - torch.diag(cond_cov.diagonal())).abs().max() < 1e-12


def test_with_the_exact_posterior_every_k_gives_log_px():
    """Every importance weight equals p(x) when q is the posterior, so L_K = log p(x) exactly."""
    torch.manual_seed(0)
    model = LinearGaussian()
    x = model.sample_x(20)
    exact = model.exact_log_px(x)
    for k in (1, 7, 100):
        assert torch.allclose(iwae_bound(model, x, k), exact, atol=1e-9, rtol=0)


def test_l_k_approaches_log_px_from_below_with_a_poor_posterior():
    torch.manual_seed(0)
    model = LinearGaussian(q_shift=1.5, q_scale=1.3)
    x = model.sample_x(500)
    exact = model.exact_log_px(x).mean().item()
    gaps = {k: exact - iwae_bound(model, x, k).mean().item() for k in (1, 5, 50, 500, 5000)}
    # Monte Carlo standard errors of these means are about 0.13, 0.06, 0.02, 0.005 and 0.002.
    assert gaps[1] > 1.0  # the spoiled q makes the ELBO clearly loose
    assert all(gap > -0.01 for gap in gaps.values())  # a lower bound, up to Monte Carlo error
    assert gaps[1] > gaps[5] > gaps[50] and gaps[500] < gaps[5]
    assert gaps[5000] < 0.01  # and nearly exact with 5000 samples


def test_l_k_grows_with_k_and_beats_the_elbo_on_a_vae():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=4, hidden_dim=32, image_shape=(1, 8, 8)).eval()
    with torch.no_grad():  # make the decoder depend strongly on z, so q is far from the posterior
        model.decoder[0].weight.mul_(8)
    x = torch.bernoulli(torch.full((64, 1, 8, 8), 0.3, dtype=torch.float32))
    with torch.no_grad():
        elbo_mean = torch.stack([elbo(model, x).total for _ in range(200)]).mean().item()
    l1 = torch.stack([iwae_bound(model, x, 1) for _ in range(200)]).mean().item()
    l5, l50, l500 = (iwae_bound(model, x, k).mean().item() for k in (5, 50, 500))
    # L_1 is the ELBO with a sampled instead of a closed-form KL: same mean.
    assert abs(l1 - elbo_mean) < 0.5
    assert elbo_mean < l5 < l50 < l500


def test_iwae_bound_rejects_k_below_one():
    model = LinearGaussian()
    with pytest.raises(ValueError, match="k must be between 1 and 1000000"):
        iwae_bound(model, model.sample_x(2), 0)


def test_chunking_covers_every_sample():
    """k not a multiple of chunk: the last, shorter chunk must still count (exact posterior)."""
    model = LinearGaussian()
    x = model.sample_x(3)
    out = iwae_bound(model, x, 7, chunk=3)
    assert torch.allclose(out, model.exact_log_px(x), atol=1e-9)
    assert math.isfinite(out.sum().item())
