"""The two-stochastic-layer VAE against independent references: torch.distributions for every
density, quadrature for log p(x), and the properties the chapter relies on."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Independent, Normal

from vae_lib import build_model, log_weights
from vae_lib.models import TwoLayerVAE


def tiny(latent=(1, 1), hidden=(3, 3), seed=0, shape=(1, 2, 2), scale=2.0) -> TwoLayerVAE:
    torch.manual_seed(seed)
    model = TwoLayerVAE(latent, hidden, shape).double()
    with torch.no_grad():  # weights large enough that the layers really depend on each other
        for p in model.parameters():
            p.mul_(scale)
    return model


def diag(mu, logvar):
    return Independent(Normal(mu, (0.5 * logvar).exp()), 1)


def test_the_prior_is_p_z2_times_p_z1_given_z2():
    model = tiny((3, 2), (5, 4))
    z = torch.randn(7, 5, dtype=torch.float64)
    z1, z2 = z[:, :3], z[:, 3:]
    mu, logvar = model.prior.top_down(z2).chunk(2, -1)
    expected = (Independent(Normal(torch.zeros(2, dtype=torch.float64), 1.0), 1).log_prob(z2)
                + diag(mu, logvar).log_prob(z1))
    torch.testing.assert_close(model.prior.log_prob(z), expected)


def test_posterior_log_q_is_the_density_of_the_draws():
    model = tiny((3, 2), (5, 4))
    x = torch.bernoulli(torch.full((4, 1, 2, 2), 0.5, dtype=torch.float64))
    z, log_q = model.posterior_sample(x, 6)
    assert z.shape == (6, 4, 5) and log_q.shape == (6, 4)
    mu1, logvar1 = model.bottom_up1(x).chunk(2, -1)
    mu2, logvar2 = model.bottom_up2(z[..., :3]).chunk(2, -1)
    expected = diag(mu1, logvar1).log_prob(z[..., :3]) + diag(mu2, logvar2).log_prob(z[..., 3:])
    torch.testing.assert_close(log_q, expected)


def log_px_by_quadrature(model: TwoLayerVAE, x: torch.Tensor, half_width=8.0, n=801):
    """log p(x) = log of the double integral of p(z2) p(z1 | z2) p(x | z1), on a grid."""
    grid = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    step = (grid[1] - grid[0]).item()
    z1, z2 = torch.meshgrid(grid, grid, indexing="ij")
    z = torch.stack([z1.reshape(-1), z2.reshape(-1)], -1)
    with torch.no_grad():
        log_joint = model.prior.log_prob(z) + model.log_likelihood(x.expand(len(z), -1, -1, -1), z)
    return torch.logsumexp(log_joint, 0) + 2 * math.log(step)


def test_importance_weights_are_unbiased_for_p_x_by_quadrature():
    """E_q[p(x, z) / q(z | x)] = p(x): the mean weight, over p(x) from a grid, is 1 within 4
    standard errors; and the ELBO sits below log p(x) (Jensen). At Glorot's scale the weights'
    variance is finite and the test is sharp: a 2% error in log q moves the mean by 27 SE."""
    model = tiny(scale=1.0)
    x = torch.tensor([[[[1.0, 0.0], [1.0, 1.0]]]], dtype=torch.float64)
    exact = log_px_by_quadrature(model, x).item()
    torch.manual_seed(1)
    ratio = (log_weights(model, x, 200_000, chunk=20_000)[:, 0] - exact).exp()
    se = ratio.std().item() / math.sqrt(ratio.numel())
    assert abs(ratio.mean().item() - 1.0) < 4 * se and se < 0.01
    torch.manual_seed(2)
    elbo = model.objective(x.expand(4000, -1, -1, -1)).total.mean().item()
    assert elbo < exact


def test_the_objective_is_recon_minus_a_sampled_kl_and_trains_every_weight():
    model = tiny((3, 2), (5, 4))
    x = torch.bernoulli(torch.full((8, 1, 2, 2), 0.3, dtype=torch.float64))
    terms = model.objective(x, beta=0.5)
    torch.testing.assert_close(terms.total, terms.recon - 0.5 * terms.kl)
    (-terms.total.mean()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_samples_are_seeded_and_the_spec_rebuilds_the_model():
    model = TwoLayerVAE()
    a = model.sample(5, torch.Generator().manual_seed(3))
    b = model.sample(5, torch.Generator().manual_seed(3))
    assert a.shape == (5, 1, 28, 28) and torch.equal(a, b)
    clone = build_model(model.spec)
    clone.load_state_dict(model.state_dict())
    x = torch.rand(3, 1, 28, 28)
    torch.manual_seed(4)
    first = model.objective(x).total
    torch.manual_seed(4)
    torch.testing.assert_close(clone.objective(x).total, first)


def test_a_top_layer_that_ignores_z1_has_no_active_units():
    model = TwoLayerVAE((4, 3), (8, 6), (1, 4, 4))
    with torch.no_grad():
        model.bottom_up2[0].weight.zero_()
    x = torch.rand(50, 1, 4, 4)
    act1, act2 = model.layer_activity(x)
    assert act1.shape == (4,) and act2.shape == (3,)
    assert torch.all(act2 == 0) and torch.all(act1 > 0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"latent_dims": (0, 5)}, "latent_dims must be >= 1"),
    ({"hidden_dims": (5, -1)}, "hidden_dims must be >= 1"),
    ({"activation": "gelu"}, "activation must be one of"),
])
def test_bad_settings_are_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TwoLayerVAE(**kwargs)


def test_the_layer_decoders_are_the_decoder_at_the_codes_they_stand_for():
    """Each one MLP gives what the model's own pieces give. Top layer: z2 with the other units at
    0, the mean of p(z1 | z2), the model's decode. Lower layer: z1 = the mean of p(z1 | z2 = 0)
    plus the sliders times its standard deviations, at the chosen units."""
    model = tiny((3, 4), (5, 6), shape=(1, 3, 3), scale=1.5).float()
    units = [3, 1]
    page = model.top_down_decoder(units)
    assert page.latent_dim == 2 and [type(m) for m in page.decoder].count(torch.nn.Linear) == 6
    codes = torch.randn(7, 2)
    z2 = torch.zeros(7, 4)
    z2[:, units] = codes  # column 0 drives unit 3, column 1 unit 1
    mu, _ = model.prior.conditional(z2)
    torch.testing.assert_close(page.decode(codes), model.decode(torch.cat([mu, z2], -1)))
    lower = model.lower_decoder([2, 0])
    mean, logvar = model.prior.conditional(torch.zeros(1, 4))
    z1 = mean.expand(7, -1).clone()
    z1[:, [2, 0]] += codes * (0.5 * logvar[0, [2, 0]]).exp()
    expected = model.decode(torch.cat([z1, torch.zeros(7, 4)], -1))
    torch.testing.assert_close(lower.decode(codes), expected)
    with pytest.raises(ValueError, match="units must be"):
        model.top_down_decoder([4])
    with pytest.raises(ValueError, match="distinct z1"):
        model.lower_decoder([1, 1])
