"""No-latent baselines (vae_lib.baselines) against torch.distributions, and the Frey splits."""

from __future__ import annotations

import pytest
import torch

from vae_lib import baselines
from vae_lib.data import FREY_BLOCK, FREY_GUARD, frey_split_frames


def correlated_images(n: int = 300, d: int = 12, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(3, d, generator=g)
    x = torch.randn(n, 3, generator=g) @ mix + 0.2 * torch.randn(n, d, generator=g) + 0.5
    return x.reshape(n, 1, 3, d // 3).float()


def test_pixel_gaussian_matches_torch_normal():
    train, test = correlated_images(), correlated_images(seed=1)
    fit = baselines.fit_pixel_gaussian(train, floor=1e-6)
    x = test.reshape(len(test), -1).double()
    flat = train.reshape(len(train), -1).double()
    mean, std = flat.mean(0), flat.std(0, unbiased=False)
    reference = torch.distributions.Normal(mean, std).log_prob(x).sum(1)
    ours = baselines.pixel_gaussian_log_likelihood(fit, test)
    torch.testing.assert_close(ours, reference)


def test_variance_floor_applies():
    train = torch.zeros(10, 1, 2, 2)
    fit = baselines.fit_pixel_gaussian(train, floor=0.01)
    assert torch.all(fit.var == 0.01)


@pytest.mark.parametrize("q", [1, 3, 7])
def test_ppca_matches_multivariate_normal_with_its_covariance(q):
    train, test = correlated_images(), correlated_images(seed=1)
    fit = baselines.fit_ppca(train, q)
    cov = baselines.ppca_covariance(fit)
    reference = torch.distributions.MultivariateNormal(fit.mean, covariance_matrix=cov)
    for images in (train, test):
        ours = baselines.ppca_log_likelihood(fit, images)
        flat = images.reshape(len(images), -1).double()
        torch.testing.assert_close(ours, reference.log_prob(flat))


def test_ppca_is_the_maximum_likelihood_fit():
    """Tipping & Bishop's closed form beats nearby covariances on the training data."""
    train = correlated_images()
    fit = baselines.fit_ppca(train, 3)
    best = baselines.ppca_log_likelihood(fit, train).mean()
    x = train.reshape(len(train), -1).double()
    for other in (fit._replace(sigma2=fit.sigma2 * 1.1), fit._replace(sigma2=fit.sigma2 * 0.9),
                  fit._replace(eigenvalues=fit.eigenvalues * 1.1)):
        cov = baselines.ppca_covariance(other)
        worse = torch.distributions.MultivariateNormal(fit.mean, cov).log_prob(x).mean()
        assert worse < best
    with pytest.raises(ValueError, match="q must be"):
        baselines.fit_ppca(train, 12)


def test_baseline_table_rows():
    rows = baselines.baseline_table(correlated_images(), correlated_images(seed=1), qs=(1, 2))
    assert [r["model"] for r in rows] == ["per-pixel Gaussian", "PPCA q=1", "PPCA q=2"]
    assert all(abs(r["gap"] - (r["train"] - r["test"])) < 1e-9 for r in rows)


def test_frey_block_split_keeps_test_frames_and_their_neighbours_out_of_training():
    train, test = frey_split_frames(1965, "train"), frey_split_frames(1965, "test")
    assert len(test) == 200 and len(train) == 1965 - 200 - 2 * FREY_GUARD * 10
    gaps = torch.cdist(test[:, None].float(), train[:, None].float()).min(1).values
    assert gaps.min() == FREY_GUARD + 1  # the nearest training frame is past the guard
    starts = test[::FREY_BLOCK]
    assert torch.equal(test.view(10, FREY_BLOCK) - starts[:, None],
                       torch.arange(FREY_BLOCK).expand(10, -1))  # consecutive blocks
    assert starts[0] < 200 and starts[-1] > 1700  # spread over the whole video
    tail_train = frey_split_frames(1965, "train", "tail")
    tail_test = frey_split_frames(1965, "test", "tail")
    assert tail_test.tolist() == list(range(1765, 1965)) and len(tail_train) == 1765


def test_frey_loader_uses_the_split():
    import vae_lib

    test = vae_lib.load_dataset("frey", "test")
    assert torch.equal(test.labels, frey_split_frames(1965, "test"))
    tail = vae_lib.load_dataset("frey", "test", frey_split="tail")
    assert tail.labels[0] == 1765
    with pytest.raises(ValueError, match="frey_split"):
        vae_lib.load_dataset("frey", "test", frey_split="random")


def test_pixel_bernoulli_matches_torch_distributions():
    from torch.distributions import Bernoulli

    from vae_lib.baselines import fit_pixel_bernoulli, pixel_bernoulli_log_likelihood

    g = torch.Generator().manual_seed(0)
    train = torch.rand(50, 1, 4, 4, generator=g)
    train[:, :, 0, 0] = 0.0  # a pixel that is always black: its probability is floored
    test = torch.rand(7, 1, 4, 4, generator=g)
    p = fit_pixel_bernoulli(train)
    assert p[0] == 1e-4 and torch.allclose(p[1:], train.flatten(1).double().mean(0)[1:])
    reference = Bernoulli(probs=p, validate_args=False).log_prob(test.flatten(1).double()).sum(1)
    assert torch.allclose(pixel_bernoulli_log_likelihood(p, test), reference, atol=1e-10)
