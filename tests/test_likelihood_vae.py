"""LikelihoodVAE's four decoders against torch.distributions and closed forms."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, ContinuousBernoulli, Normal

import vae_lib
from vae_lib.models.likelihood import LikelihoodVAE, continuous_bernoulli_mean


def _setup(likelihood, sigma=None):
    torch.manual_seed(0)
    model = LikelihoodVAE(likelihood, sigma, latent_dim=3, hidden_dim=8).eval()
    x, z = torch.rand(4, 1, 28, 28), torch.randn(4, 3)
    logits = model._decode_output(z)
    return model, x, z, logits


@pytest.mark.parametrize(
    "likelihood, reference",
    [
        ("bernoulli", lambda logits, x: Bernoulli(logits=logits, validate_args=False).log_prob(x)),
        ("continuous_bernoulli", lambda logits, x: ContinuousBernoulli(logits=logits).log_prob(x)),
        ("gaussian", lambda logits, x: Normal(torch.sigmoid(logits), 0.3).log_prob(x)),
    ],
)
def test_log_likelihood_matches_torch_distributions(likelihood, reference):
    model, x, z, logits = _setup(likelihood, 0.3 if likelihood == "gaussian" else None)
    expected = reference(logits, x).flatten(1).sum(1)
    torch.testing.assert_close(model.log_likelihood(x, z), expected, rtol=1e-5, atol=1e-3)


def test_continuous_bernoulli_mean_matches_torch_and_the_integral():
    values = [-30.0, -3.0, -0.5, -1e-3, 0.0, 1e-4, 0.02, 2.0, 40.0]
    logits = torch.tensor(values, dtype=torch.float64)
    torch_mean = ContinuousBernoulli(logits=logits.clamp(-20, 20)).mean
    torch.testing.assert_close(continuous_bernoulli_mean(logits.clamp(-20, 20)), torch_mean)
    grid = torch.linspace(0, 1, 400_001, dtype=torch.float64)
    density = ContinuousBernoulli(logits=logits[1:-1, None]).log_prob(grid).exp()
    integral = torch.trapezoid(grid * density, grid)
    torch.testing.assert_close(continuous_bernoulli_mean(logits[1:-1]), integral, atol=1e-6, rtol=0)
    assert continuous_bernoulli_mean(torch.tensor(40.0)).item() == pytest.approx(1 - 1 / 40)
    assert continuous_bernoulli_mean(torch.tensor(0.0)).item() == 0.5
    with pytest.raises(ValueError, match="small must be > 0"):
        continuous_bernoulli_mean(logits, small=0)


def test_decode_is_the_distribution_mean_not_lambda_for_the_continuous_bernoulli():
    model, _, z, logits = _setup("continuous_bernoulli")
    lam = torch.sigmoid(logits.double())
    # closed form of the mean: lam / (2 lam - 1) + 1 / (2 artanh(1 - 2 lam)), lam != 1/2
    expected = lam / (2 * lam - 1) + 1 / (2 * torch.atanh(1 - 2 * lam))
    torch.testing.assert_close(model.decode(z).double(), expected, rtol=1e-4, atol=1e-4)


def test_learned_sigma_is_the_rms_error_of_the_first_batch_then_a_running_average():
    model, x, z, logits = _setup("gaussian")
    model.train()
    mean = torch.sigmoid(logits)
    rms = (x - mean).pow(2).mean().sqrt()
    got = model.log_likelihood(x, z)
    assert model.sigma == pytest.approx(rms.item(), rel=1e-5)
    expected = Normal(mean, rms).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-3)
    # with sigma^2 = MSE the per-pixel average is the closed form -1/2 (log 2 pi sigma^2 + 1)
    per_pixel = got.mean().item() / 784
    assert per_pixel == pytest.approx(-0.5 * (math.log(2 * math.pi * rms.item() ** 2) + 1), 1e-4)
    model.log_likelihood(torch.zeros_like(x), z)
    second = (mean.pow(2).mean().sqrt()).item()
    assert model.sigma == pytest.approx(rms.item() + 0.05 * (second - rms.item()), rel=1e-5)


def test_fixed_sigma_gaussian_is_mse_plus_a_constant():
    model, x, z, logits = _setup("gaussian", 0.5)
    sq = (x - torch.sigmoid(logits)).pow(2).flatten(1).sum(1)
    expected = -sq / (2 * 0.25) - 784 * math.log(0.5 * math.sqrt(2 * math.pi))
    torch.testing.assert_close(model.log_likelihood(x, z), expected, rtol=1e-5, atol=1e-3)


def test_samples_have_the_decoder_spread():
    model, _, z, _ = _setup("gaussian", 0.2)
    z = z[:1].repeat(2000, 1)
    spread = (model.sample_pixels(z) - model.decode(z)).std().item()
    assert spread == pytest.approx(0.2, rel=0.02)


@pytest.mark.parametrize(
    "args, message",
    [
        (("poisson",), "likelihood must be one of"),
        (("bernoulli", 0.1), "sigma is only for the gaussian"),
        (("gaussian", -1.0), "sigma must be > 0"),
    ],
)
def test_bad_arguments_raise(args, message):
    with pytest.raises(ValueError, match=message):
        LikelihoodVAE(*args)


def test_untrained_learned_sigma_and_non_gaussian_sigma_raise():
    with pytest.raises(ValueError, match="train the model first"):
        _ = LikelihoodVAE("gaussian").sigma
    with pytest.raises(ValueError, match="has no sigma"):
        _ = LikelihoodVAE("bernoulli").sigma


def test_it_trains_with_fit():
    torch.manual_seed(0)
    model = LikelihoodVAE("continuous_bernoulli", latent_dim=2, hidden_dim=8)
    x = torch.rand(16, 1, 28, 28)
    history = vae_lib.fit(model, x, x, epochs=2, batch_size=8, quiet=True)
    assert len(history) == 2
