"""The objectives against independent references: torch.distributions, Monte Carlo, autograd."""

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

import vae_lib


def test_gaussian_kl_matches_torch_distributions():
    mu, logvar = torch.randn(6, 5), torch.randn(6, 5)
    q = Normal(mu, (0.5 * logvar).exp())
    expected = kl_divergence(q, Normal(torch.zeros(5), torch.ones(5))).sum(dim=1)
    torch.testing.assert_close(vae_lib.gaussian_kl(mu, logvar), expected)


def test_gaussian_kl_matches_monte_carlo():
    mu, logvar = torch.tensor([[0.7, -1.2, 0.1]]), torch.tensor([[-0.5, 0.4, 0.0]])
    q = Normal(mu, (0.5 * logvar).exp())
    z = q.sample((200_000,))
    estimate = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1).mean()
    assert vae_lib.gaussian_kl(mu, logvar).item() == pytest.approx(estimate.item(), abs=0.02)


def test_gaussian_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zero = torch.zeros(3, 4)
    assert torch.equal(vae_lib.gaussian_kl(zero, zero), torch.zeros(3))
    assert (vae_lib.gaussian_kl(torch.randn(3, 4), torch.randn(3, 4)) > 0).all()


def test_gaussian_kl_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        vae_lib.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_bernoulli_log_likelihood_matches_torch_including_extreme_logits(scale):
    logits = torch.randn(4, 1, 28, 28) * scale
    logits[0, 0, 0, :4] = torch.tensor([100.0, -100.0, 100.0, -100.0])
    x = torch.rand(4, 1, 28, 28).round()
    expected = Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    got = vae_lib.bernoulli_log_likelihood(logits, x)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, expected)


def test_bernoulli_log_likelihood_at_saturated_logits_is_exact():
    logits = torch.tensor([[100.0, -100.0]])
    # Right pixel values cost ~e^-100 nats; wrong ones cost 100 nats each, not infinity.
    assert vae_lib.bernoulli_log_likelihood(
        logits, torch.tensor([[1.0, 0.0]])
    ).item() == pytest.approx(0, abs=1e-30)
    assert vae_lib.bernoulli_log_likelihood(
        logits, torch.tensor([[0.0, 1.0]])
    ).item() == pytest.approx(-200.0)


def test_gaussian_log_likelihood_matches_torch():
    mean, x, logvar = torch.rand(3, 1, 28, 20), torch.rand(3, 1, 28, 20), torch.randn(3, 1, 28, 20)
    expected = Normal(mean, (0.5 * logvar).exp()).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(vae_lib.gaussian_log_likelihood(mean, x, logvar), expected)
    fixed = Normal(mean, 0.3).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(vae_lib.gaussian_log_likelihood(mean, x, 0.3), fixed)


def test_elbo_matches_torch_distributions_with_the_same_noise():
    model = vae_lib.MLPVAE(latent_dim=3, hidden_dim=16)
    x = torch.bernoulli(torch.rand(5, 1, 28, 28))
    terms = vae_lib.elbo(model, x, beta=4.0, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        h = model.encoder(x)
        mu, std = model.to_mu(h), (0.5 * model.to_logvar(h)).exp()
        q = Normal(mu, std)
        z = mu + std * torch.randn(mu.shape, generator=torch.Generator().manual_seed(7))
        logits = model.to_pixels(model.decoder(z)).view_as(x)
        recon = Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
        kl = kl_divergence(q, Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(terms.recon.detach(), recon)
    torch.testing.assert_close(terms.kl.detach(), kl)
    torch.testing.assert_close(terms.total.detach(), recon - 4.0 * kl)


def test_gradients_reach_mu_and_logvar_through_the_sample():
    model = vae_lib.MLPVAE(latent_dim=2, hidden_dim=8)
    mu = torch.zeros(1, 2, requires_grad=True)
    logvar = torch.zeros(1, 2, requires_grad=True)
    z = model.reparameterize(mu, logvar)
    (z**2).sum().backward()
    assert mu.grad is not None and logvar.grad is not None
    assert mu.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0


def test_iwae_bound_is_at_least_the_elbo_and_grows_with_k():
    model = vae_lib.MLPVAE(latent_dim=4, hidden_dim=32)
    x = torch.rand(16, 1, 28, 28).round()
    with torch.no_grad():
        elbo = torch.stack([vae_lib.elbo(model, x).total for _ in range(200)]).mean(0)
    bounds = {
        k: vae_lib.iwae_bound(model, x, k, chunk=64).mean().item() for k in (1, 10, 100, 1000)
    }
    assert bounds[1] == pytest.approx(elbo.mean().item(), abs=0.5)
    assert bounds[1] < bounds[10] < bounds[100] < bounds[1000]


def test_iwae_bound_rejects_k_below_one():
    with pytest.raises(ValueError, match="k must be between 1 and 1000000"):
        vae_lib.iwae_bound(vae_lib.MLPVAE(latent_dim=2, hidden_dim=8), torch.rand(1, 1, 28, 28), 0)


def test_log_weights_of_a_flow_model_without_steps_are_the_gaussian_ones():
    """Two code paths, one answer: a FlowVAE with no flow steps and the standard prior draws
    its own posterior samples (`posterior_sample`), an MLPVAE with the same weights goes
    through the encoder's mu and log-variance; the same seed must give the same weights."""
    from vae_lib.models import MLPVAE
    from vae_lib.models.flows import FlowVAE
    from vae_lib.objectives import log_weights

    torch.manual_seed(0)
    flow = FlowVAE(latent_dim=3, hidden_dim=16, image_shape=(1, 4, 4), n_flows=0)
    plain = MLPVAE(latent_dim=3, hidden_dim=16, image_shape=(1, 4, 4))
    missing = plain.load_state_dict(flow.state_dict(), strict=False)
    assert not missing.missing_keys
    x = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(7)
    from_flow = log_weights(flow, x, k=9, chunk=4)
    torch.manual_seed(7)
    from_gaussian = log_weights(plain, x, k=9, chunk=4)
    torch.testing.assert_close(from_flow, from_gaussian)
    planar = FlowVAE(latent_dim=3, hidden_dim=16, image_shape=(1, 4, 4), n_flows=2)
    assert log_weights(planar, x, k=9).shape == (9, 5)
