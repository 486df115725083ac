"""Priors: log-densities against torch.distributions, sampling, and their use in FlowVAE."""

import math

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from vae_lib.models import MLPVAE
from vae_lib.models.flows import FlowVAE
from vae_lib.models.priors import (
    MixturePrior,
    StandardNormalPrior,
    VampPrior,
    build_prior,
)

SMALL = {"latent_dim": 3, "hidden_dim": 12, "image_shape": (1, 3, 3)}


def images(n=4, seed=0):
    return torch.rand(n, 1, 3, 3, generator=torch.Generator().manual_seed(seed))


def torch_mixture(logits, means, logvars):
    components = Independent(Normal(means, (0.5 * logvars).exp()), 1)
    return MixtureSameFamily(Categorical(logits=logits), components)


def spread_mixture(prior):
    with torch.no_grad():
        prior.means.normal_(0, 2)
        prior.logvars.uniform_(-1.5, 1.0)
        prior.logits.normal_(0, 1)
    return prior


@pytest.mark.parametrize("batch", [(7,), (2, 5)])
def test_mixture_log_prob_matches_torch_mixture_same_family(batch):
    prior = spread_mixture(MixturePrior(3, 4))
    z = 3 * torch.randn(*batch, 3)
    reference = torch_mixture(prior.logits, prior.means, prior.logvars).log_prob(z)
    torch.testing.assert_close(prior.log_prob(z), reference)


def test_mixture_log_prob_stays_finite_far_from_every_component():
    prior = spread_mixture(MixturePrior(3, 4)).double()
    z = torch.full((1, 3), 200.0, dtype=torch.float64)
    reference = torch_mixture(prior.logits, prior.means, prior.logvars).log_prob(z)
    assert torch.isfinite(prior.log_prob(z)).all()
    torch.testing.assert_close(prior.log_prob(z), reference)


def test_vamp_log_prob_matches_the_mixture_of_encoder_posteriors():
    model = FlowVAE(**SMALL, n_flows=0, prior="vamp", n_components=5)
    prior = model.prior
    u = prior.pseudo_inputs()
    assert u.shape == (5, 1, 3, 3) and ((u > 0) & (u < 1)).all()
    mu, logvar = model.encode(u)
    reference = torch_mixture(torch.zeros(5), mu, logvar)
    z = 2 * torch.randn(6, 4, 3)
    torch.testing.assert_close(prior.log_prob(z), reference.log_prob(z))


def test_standard_prior_is_the_standard_normal():
    z = torch.randn(5, 3)
    expected = Normal(0.0, 1.0).log_prob(z).sum(-1)
    torch.testing.assert_close(StandardNormalPrior(3).log_prob(z), expected)


def _moments_agree(samples, distribution, tolerance=4.0):
    se = samples.std(dim=0) / math.sqrt(samples.shape[0])
    return bool(((samples.mean(dim=0) - distribution.mean).abs() < tolerance * se).all())


def test_mixture_samples_have_the_mixtures_mean_and_repeat_with_a_seed():
    prior = spread_mixture(MixturePrior(3, 4))
    samples = prior.sample(40000, torch.Generator().manual_seed(1))
    assert samples.shape == (40000, 3)
    assert _moments_agree(samples, torch_mixture(prior.logits, prior.means, prior.logvars))
    torch.testing.assert_close(
        samples.var(dim=0),
        torch_mixture(prior.logits, prior.means, prior.logvars).variance,
        rtol=0.05,
        atol=0,
    )
    again = prior.sample(40000, torch.Generator().manual_seed(1))
    assert torch.equal(samples, again)


def test_vamp_samples_have_the_mixtures_mean():
    model = FlowVAE(**SMALL, n_flows=0, prior="vamp", n_components=3)
    with torch.no_grad():
        model.to_mu.bias.copy_(torch.tensor([2.0, -1.0, 0.5]))
        samples = model.prior.sample(40000, torch.Generator().manual_seed(2))
        mu, logvar = model.encode(model.prior.pseudo_inputs())
    assert _moments_agree(samples, torch_mixture(torch.zeros(3), mu, logvar))


def test_standard_prior_samples_decode_as_the_plain_vae_does():
    plain = MLPVAE(**SMALL)
    model = FlowVAE(**SMALL, n_flows=0)
    model.load_state_dict(plain.state_dict())
    ours = model.sample(4, torch.Generator().manual_seed(3))
    assert torch.equal(ours, plain.sample(4, torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("prior", ["standard", "mixture", "vamp"])
def test_the_kl_term_is_log_q_minus_log_prior_at_the_sampled_code(prior):
    model = FlowVAE(**SMALL, n_flows=0, prior=prior, n_components=3)
    if prior == "mixture":
        spread_mixture(model.prior)
    x = images()
    torch.manual_seed(4)
    kl = model.objective(x).kl
    mu, logvar = model.encode(x)
    torch.manual_seed(4)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)  # the draw `reparameterize` makes
    if prior == "standard":
        p = Independent(Normal(torch.zeros(3), torch.ones(3)), 1)
    elif prior == "mixture":
        p = torch_mixture(model.prior.logits, model.prior.means, model.prior.logvars)
    else:
        p = torch_mixture(torch.zeros(3), *model.encode(model.prior.pseudo_inputs()))
    q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    torch.testing.assert_close(kl, q.log_prob(z) - p.log_prob(z))


@pytest.mark.parametrize("kind", ["mixture", "vamp"])
def test_log_prob_passes_gradients_to_the_prior_and_for_vamp_the_encoder(kind):
    model = FlowVAE(**SMALL, n_flows=0, prior=kind, n_components=3)
    model.prior.log_prob(torch.randn(5, 3)).sum().backward()
    for name, p in model.prior.named_parameters():
        assert p.grad is not None and p.grad.any(), name
    assert (model.to_mu.weight.grad is not None) == (kind == "vamp")


def test_set_pseudo_inputs_starts_them_at_real_images():
    prior = VampPrior(3, 4, (1, 3, 3), MLPVAE(**SMALL).encode)
    x = images(4)
    prior.set_pseudo_inputs(x)
    torch.testing.assert_close(prior.pseudo_inputs(), x.clamp(1e-3, 1 - 1e-3))
    with pytest.raises(ValueError, match="need images of shape"):
        prior.set_pseudo_inputs(images(3))


def test_bad_input_is_a_one_line_error():
    with pytest.raises(ValueError, match="3-d latent space, got z of shape"):
        MixturePrior(3, 2).log_prob(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="needs the model's encoder"):
        build_prior("vamp", 3, 2)
    with pytest.raises(ValueError, match="prior must be one of"):
        build_prior("student", 3)
    with pytest.raises(ValueError, match="n must be"):
        MixturePrior(3, 2).sample(0)
    with pytest.raises(ValueError, match="encode must be callable"):
        VampPrior(3, 2, (1, 3, 3), encode=None)
