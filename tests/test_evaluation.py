"""The evaluation protocol (`vae_lib.evaluation`) against numpy and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from vae_lib.evaluation import (
    describe_subset,
    mean_se,
    monte_carlo_se,
    outside,
    paired_difference,
    random_subset,
    subset_indices,
)


def test_subsets_are_seeded_random_and_not_the_first_n():
    idx = subset_indices(10_000, 1000)
    assert idx.shape == (1000,) and len(set(idx.tolist())) == 1000
    assert torch.equal(idx, idx.sort().values) and torch.equal(idx, subset_indices(10_000, 1000))
    assert not torch.equal(idx, torch.arange(1000))
    # both halves of MNIST's test set are represented, about equally
    assert 400 < int((idx < 5000).sum()) < 600
    assert not torch.equal(idx, subset_indices(10_000, 1000, seed=1))
    # a subset "drawn alike" from a split of another size is the same draw rule, not the same rows
    assert torch.equal(subset_indices(60_000, 1000), subset_indices(60_000, 1000))
    assert torch.equal(subset_indices(50, None), torch.arange(50))
    assert torch.equal(subset_indices(50, 80), torch.arange(50))
    images = torch.arange(20.0).view(20, 1)
    assert torch.equal(random_subset(images, 5).flatten(), subset_indices(20, 5).double().float())
    assert describe_subset(10_000, None) == "all 10000"
    assert describe_subset(10_000, 1000) == "random 1000 of 10000 (seed 0)"
    with pytest.raises(ValueError, match="n must be"):
        subset_indices(10, 0)


def test_mean_se_matches_scipy():
    values = np.random.default_rng(0).normal(3.0, 2.0, size=57)
    est = mean_se(torch.tensor(values))
    assert math.isclose(est.mean, values.mean(), rel_tol=1e-12)
    assert math.isclose(est.se, stats.sem(values), rel_tol=1e-12)
    assert est.n == 57 and str(est) == f"{values.mean():.2f} ± {stats.sem(values):.2f}"
    with pytest.raises(ValueError, match="at least 2"):
        mean_se([1.0])
    with pytest.raises(ValueError, match="finite"):
        mean_se([1.0, float("nan")])


def test_paired_difference_is_the_paired_t_statistic():
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 10, size=200)  # how hard each image is, for both models
    a = shared + rng.normal(0.3, 0.5, size=200)
    b = shared + rng.normal(0.0, 0.5, size=200)
    est = paired_difference(a.tolist(), b.tolist())
    t = stats.ttest_rel(a, b)
    assert math.isclose(est.mean / est.se, t.statistic, rel_tol=1e-10)
    # pairing removes what the images share: unpaired, the difference would be lost in it
    unpaired = math.hypot(stats.sem(a), stats.sem(b))
    assert est.se < unpaired / 5 and outside(est) and not abs(est.mean) > 2 * unpaired
    with pytest.raises(ValueError, match="same images"):
        paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])


def test_monte_carlo_error_is_the_noise_not_the_spread_between_images():
    rng = np.random.default_rng(2)
    per_image = rng.normal(-100, 20, size=300)  # a wide spread between images
    redraws = per_image + rng.normal(0, 1.0, size=(40, 300))  # small noise per redraw
    est = monte_carlo_se(torch.tensor(redraws))
    # the error of the mean over 40 * 300 draws from noise of sd 1: 1 / sqrt(12000)
    assert math.isclose(est.se, 1 / math.sqrt(40 * 300), rel_tol=0.3)
    assert est.se < mean_se(per_image).se / 50
    assert math.isclose(est.mean, redraws.mean(), rel_tol=1e-12) and est.n == 300
    with pytest.raises(ValueError, match="R >= 2"):
        monte_carlo_se(torch.zeros(1, 5))


def test_outside_is_two_standard_errors():
    from vae_lib.evaluation import Estimate

    assert outside(Estimate(2.1, 1.0, 10)) and not outside(Estimate(-1.9, 1.0, 10))
    assert outside(Estimate(-3.1, 1.0, 10), z=3) and not outside(Estimate(0.0, 0.0, 10))


def test_per_image_elbo_is_elbo_per_draw_and_pairs_the_noise():
    from vae_lib import elbo
    from vae_lib.evaluation import per_image_elbo
    from vae_lib.models import MLPVAE

    torch.manual_seed(0)
    a, b = MLPVAE(latent_dim=3, hidden_dim=16), MLPVAE(latent_dim=3, hidden_dim=16)
    x = torch.rand(30, 1, 28, 28)
    terms = per_image_elbo(a, x, redraws=3)
    assert terms["loss"].shape == (3, 30)
    batched = per_image_elbo(a, x, redraws=3, batch_size=7)  # other noise, the same shape
    assert torch.equal(batched["loss"], per_image_elbo(a, x, redraws=3, batch_size=7)["loss"])
    for r in range(3):
        reference = elbo(a, x, generator=torch.Generator().manual_seed(r))
        assert torch.allclose(terms["loss"][r], -reference.total, atol=1e-4)
        assert torch.allclose(terms["kl"][r], reference.kl, atol=1e-5)
        assert torch.allclose(terms["recon"][r], -reference.recon, atol=1e-4)
    assert not torch.equal(terms["loss"][0], terms["loss"][1])
    # the KL is closed form: the same in every draw; the models share eps in draw r
    assert torch.equal(terms["kl"][0], terms["kl"][2])
    other = per_image_elbo(b, x, redraws=3)
    mu, logvar = b.encode(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))
    z = mu + (0.5 * logvar).exp() * eps
    assert torch.allclose(-other["recon"][1], b.log_likelihood(x, z).detach(), atol=1e-4)
