"""ELBO surgery: the aggregate posterior's density against torch.distributions, and the terms
of elbo_surgery against cases whose answer is known (closed-form KL, identical posteriors,
posteriors far apart)."""

import math

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from vae_lib.aggregate import aggregate_log_prob, elbo_surgery, gaussian_posteriors
from vae_lib.evaluation import paired_difference
from vae_lib.models.flows import FlowVAE
from vae_lib.objectives import gaussian_kl

SMALL = {"latent_dim": 3, "hidden_dim": 12, "image_shape": (1, 3, 3), "n_flows": 0}


def images(n=40, seed=0):
    grey = torch.rand(n, 1, 3, 3, generator=torch.Generator().manual_seed(seed))
    return torch.bernoulli(grey, generator=torch.Generator().manual_seed(seed + 1))


def hand_made_posteriors(n=30, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = 2 * torch.randn(n, d, generator=g, dtype=torch.float64)
    logvar = torch.empty(n, d, dtype=torch.float64).uniform_(-2, 1, generator=g)
    return mu, logvar


@pytest.mark.parametrize("chunk", [7, 512])
def test_aggregate_log_prob_matches_an_equal_weight_mixture_same_family(chunk):
    mu, logvar = hand_made_posteriors()
    z = 3 * torch.randn(50, 3, dtype=torch.float64)
    mixture = MixtureSameFamily(Categorical(logits=torch.zeros(30, dtype=torch.float64)),
                                Independent(Normal(mu, (0.5 * logvar).exp()), 1))
    torch.testing.assert_close(aggregate_log_prob(z, mu, logvar, chunk=chunk),
                               mixture.log_prob(z))


def test_aggregate_log_prob_of_far_apart_posteriors_is_the_own_one_less_log_n():
    mu = torch.arange(20, dtype=torch.float64).reshape(10, 2) * 100
    logvar = torch.full((10, 2), -4.0, dtype=torch.float64)
    z = mu + 0.1
    own = Independent(Normal(mu, (0.5 * logvar).exp()), 1).log_prob(z)
    torch.testing.assert_close(aggregate_log_prob(z, mu, logvar), own - math.log(10))


def test_aggregate_log_prob_refuses_mismatched_shapes():
    mu, logvar = hand_made_posteriors()
    with pytest.raises(ValueError, match="z must be"):
        aggregate_log_prob(torch.zeros(4, 2), mu, logvar)
    with pytest.raises(ValueError, match="share"):
        aggregate_log_prob(torch.zeros(4, 3), mu, logvar[:-1])


def test_the_terms_add_up_draw_by_draw_and_the_rate_is_the_closed_form_kl():
    torch.manual_seed(0)
    model = FlowVAE(**SMALL, prior="standard")
    x = images(400)
    terms = elbo_surgery(model, x, n_draws=300, seed=3)
    assert terms.n_data == 400 and terms.index.shape == (300,)
    torch.testing.assert_close(terms.information + terms.marginal_kl, terms.rate)
    mu, logvar = gaussian_posteriors(model, x)
    closed = gaussian_kl(mu[terms.index], logvar[terms.index])
    gap = paired_difference(terms.rate, closed)  # Monte Carlo noise only
    assert abs(gap.mean) < 4 * gap.se
    assert 0 <= terms.information.mean() <= math.log(400) + 4 * terms.information.std() / 17


def test_an_encoder_that_ignores_x_carries_no_information():
    torch.manual_seed(0)
    model = FlowVAE(**SMALL, prior="mixture", n_components=4)
    with torch.no_grad():
        model.encoder[1].weight.zero_()  # every image gets the same q(z | x)
    terms = elbo_surgery(model, images(50), n_draws=50)
    torch.testing.assert_close(terms.information, torch.zeros(50, dtype=torch.float64))
    torch.testing.assert_close(terms.marginal_kl, terms.rate)


def test_the_mixture_of_the_draws_is_the_exact_one_when_every_image_is_drawn():
    torch.manual_seed(0)
    model = FlowVAE(**SMALL, prior="vamp", n_components=5)
    x = images(60)
    exact = elbo_surgery(model, x, n_draws=60, seed=1)
    cheap = elbo_surgery(model, x, n_draws=60, seed=1, mixture_of_draws=True)
    torch.testing.assert_close(exact.information, cheap.information)
    subset = elbo_surgery(model, x, n_draws=10, seed=1, mixture_of_draws=True)
    assert subset.n_data == 10
    assert bool((subset.information <= math.log(10) + 1e-9).all())


def test_a_flow_posterior_is_refused():
    model = FlowVAE(**{**SMALL, "n_flows": 2})
    with pytest.raises(ValueError, match="flow steps"):
        elbo_surgery(model, images(10), n_draws=5)
