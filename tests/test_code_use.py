"""The information and wrong-code measures of chapter 15 against independent references."""

import math

import pytest
import torch
from torch import nn

from vae_lib.code_use import derangement, information_terms, unit_information, wrong_code_drop
from vae_lib.evaluation import monte_carlo_se
from vae_lib.losses import kl_per_unit, mean_kl_per_unit


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_a_unit_that_ignores_x_carries_nothing_though_its_kl_is_half_a_nat():
    # the free-bits blind spot: q(z_j | x) = N(1, 1) for every x sits at KL = 0.5
    mu, logvar = torch.ones(50, 3), torch.zeros(50, 3)
    assert torch.allclose(kl_per_unit(mu, logvar).mean(0), torch.full((3,), 0.5))
    terms = information_terms(mu, logvar, draws=3, generator=gen())
    assert terms.shape == (3, 50, 3)
    assert terms.abs().max() < 1e-9


def test_a_unit_that_copies_x_carries_log_n():
    n = 8
    mu = (10.0 * torch.arange(n, dtype=torch.float64))[:, None].repeat(1, 2)
    logvar = torch.full_like(mu, 2 * math.log(0.01))  # sigma = 0.01, means 10 apart
    info = information_terms(mu, logvar, draws=2, generator=gen()).mean(dim=(0, 1))
    assert torch.allclose(info, torch.full((2,), math.log(n), dtype=info.dtype), atol=1e-6)


def test_matches_numerical_integration_of_the_mixture():
    # I = H(q(z)) - mean_i H(q(z | x_i)), the first by quadrature on a fine grid
    torch.manual_seed(1)
    mu = torch.randn(5, 1, dtype=torch.float64)
    sigma = 0.3 + torch.rand(5, 1, dtype=torch.float64)
    grid = torch.linspace(-12, 12, 200_001, dtype=torch.float64)
    dens = torch.exp(-0.5 * ((grid[:, None] - mu[:, 0]) / sigma[:, 0]) ** 2) / (
        sigma[:, 0] * math.sqrt(2 * math.pi))
    mix = dens.mean(dim=1)
    entropy_mix = -torch.trapezoid(mix * torch.log(mix.clamp_min(1e-300)), grid)
    entropy_each = (0.5 * torch.log(2 * math.pi * math.e * sigma**2)).mean()
    exact = float(entropy_mix - entropy_each)
    terms = information_terms(mu, 2 * sigma.log(), draws=4000, generator=gen(2))[..., 0]
    est = monte_carlo_se(terms)
    assert 0.05 < exact < math.log(5)  # a case between the two ends
    assert abs(est.mean - exact) < 4 * est.se + 1e-3
    assert est.se < 0.01


def test_gaussian_channel_gives_half_log_one_plus_snr():
    # mu ~ N(0, 3), sigma = 1: I -> 0.5 log(1 + 3) for many images
    mu = torch.randn(3000, 1, generator=gen(3), dtype=torch.float64) * math.sqrt(3.0)
    terms = information_terms(mu, torch.zeros_like(mu), draws=4, generator=gen(4))
    assert terms.mean().item() == pytest.approx(0.5 * math.log(4.0), abs=0.03)


def test_information_never_exceeds_the_kl_by_more_than_noise():
    mu = torch.randn(400, 4, generator=gen(5)) * torch.tensor([0.0, 0.3, 1.0, 3.0])
    logvar = torch.randn(400, 4, generator=gen(6)) * 0.2 - 1.0
    info = information_terms(mu, logvar, draws=4, generator=gen(7)).mean(dim=(0, 1))
    kl = kl_per_unit(mu, logvar).mean(0).double()
    assert (info <= kl + 0.02).all()
    assert (info[1:] > info[:-1]).all()  # more spread between images, more information


@pytest.mark.parametrize("mu, logvar, message", [
    (torch.zeros(4, 2), torch.zeros(4, 3), "share an"),
    (torch.zeros(1, 2), torch.zeros(1, 2), "at least 2 images"),
    (torch.full((3, 2), math.nan), torch.zeros(3, 2), "finite"),
])
def test_information_terms_rejects_bad_codes(mu, logvar, message):
    with pytest.raises(ValueError, match=message):
        information_terms(mu, logvar)


def test_derangement_has_no_fixed_points():
    for seed in range(20):
        partner = derangement(7, gen(seed))
        assert sorted(partner.tolist()) == list(range(7))
        assert (partner != torch.arange(7)).all()
    with pytest.raises(ValueError, match="at least 2"):
        derangement(1)


class CopyModel(nn.Module):
    """Codes are the first J pixels; log p(x | z) = -|x[:J] - z|^2, possibly ignoring z."""

    def __init__(self, latent_dim=3, uses_z=True):
        super().__init__()
        self.latent_dim, self.uses_z = latent_dim, uses_z
        self.dummy = nn.Parameter(torch.zeros(()))

    def encode(self, x):
        head = x.flatten(1)[:, : self.latent_dim]
        return head, torch.full_like(head, -4.0)

    def log_likelihood(self, x, z):
        head = x.flatten(1)[:, : self.latent_dim]
        if not self.uses_z:
            z = torch.zeros_like(z)
        return -(head - z).pow(2).sum(dim=1)


def test_wrong_code_drop_against_the_partners_by_hand():
    x = torch.rand(6, 1, 2, 4, generator=gen(8))
    head = x.flatten(1)[:, :3].double()
    drop = wrong_code_drop(CopyModel(), x, draws=2, generator=gen(9))
    g = gen(9)
    for r in range(2):
        partner = derangement(6, g)
        assert torch.allclose(drop[r], (head - head[partner]).pow(2).sum(1).double(), atol=1e-6)
    # only unit 1 swapped
    one = wrong_code_drop(CopyModel(), x, draws=1, units=[1], generator=gen(9))[0]
    partner = derangement(6, gen(9))
    assert torch.allclose(one, (head[:, 1] - head[partner, 1]).pow(2), atol=1e-6)


def test_wrong_code_drop_is_zero_for_a_decoder_that_ignores_z():
    x = torch.rand(5, 1, 2, 4, generator=gen(10))
    assert wrong_code_drop(CopyModel(uses_z=False), x, draws=2, generator=gen()).abs().max() == 0


def test_unit_information_of_a_vae_matches_its_codes():
    from vae_lib.models.made import MADEVAE

    torch.manual_seed(0)
    model = MADEVAE(latent_dim=4, hidden_dim=8, decoder_hidden=8, image_shape=(1, 3, 3))
    x = torch.bernoulli(torch.rand(30, 1, 3, 3, generator=gen(11)))
    terms = unit_information(model, x, draws=2, generator=gen(12), batch_size=7)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    assert torch.allclose(terms, information_terms(mu, logvar, 2, gen(12)))
    assert (terms.mean(dim=(0, 1)) <= mean_kl_per_unit(model, x).double() + 0.05).all()
    assert model.training  # left as it was found
