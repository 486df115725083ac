"""Per-image posteriors (vae_lib.gaps): the sampled ELBO against the models' own objectives and
the closed-form KL, and the optimisation against a posterior known in closed form."""

import math

import torch
from torch import nn

from vae_lib import gaps
from vae_lib.models import MLPVAE, build_model
from vae_lib.objectives import elbo

SMALL = {"kind": "flow", "latent_dim": 3, "hidden_dim": 12, "image_shape": (1, 3, 3),
         "flow_hidden_dim": 10}


def images(n=4, seed=0):
    return torch.bernoulli(torch.rand(n, 1, 3, 3, generator=torch.Generator().manual_seed(seed)))


def test_one_draw_is_the_models_own_one_sample_elbo():
    """k = 1 with the generator FlowVAE.objective uses: the same base noise, the same number,
    through the model's own path (encoder context and flow inside `objective`)."""
    torch.manual_seed(0)
    for extra in ({"flow": "iaf", "n_flows": 2}, {"flow": "planar", "n_flows": 3},
                  {"flow": "iaf", "n_flows": 0}):
        model = build_model({**SMALL, **extra}).double()
        x = images().double()
        params = gaps.variational_parameters(model, x)
        assert ("context" in params) == (extra["flow"] == "iaf" and extra["n_flows"] > 0)
        ours = gaps.elbo_of(model, x, params, 1, torch.Generator().manual_seed(5))
        theirs = model.objective(x, generator=torch.Generator().manual_seed(5)).total
        torch.testing.assert_close(ours, theirs)


def test_many_draws_agree_with_the_closed_form_kl_elbo():
    torch.manual_seed(1)
    model = MLPVAE(latent_dim=3, hidden_dim=12, image_shape=(1, 3, 3)).double()
    x = images(3).double()
    params = gaps.variational_parameters(model, x)
    sampled = gaps.elbo_of(model, x, params, 20_000, torch.Generator().manual_seed(0),
                           chunk=5000)
    torch.manual_seed(2)
    with torch.no_grad():
        closed = torch.stack([elbo(model, x).total for _ in range(4000)]).mean(0)
    torch.testing.assert_close(sampled, closed, atol=0.05, rtol=0)


class LinearGaussian(nn.Module):
    """p(z) = N(0, 1), p(x | z) = N(z, 1) in one dimension: the posterior is N(x / 2, 1 / 2)."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.ones(()))

    def encode(self, x):
        return torch.zeros(x.shape[0], 1, dtype=x.dtype), torch.zeros(x.shape[0], 1,
                                                                      dtype=x.dtype)

    def log_likelihood(self, x, z):
        return -0.5 * ((x.view(-1, 1) - z) ** 2).sum(-1) - 0.5 * math.log(2 * math.pi)


def test_the_per_image_optimum_is_the_exact_posterior():
    model = LinearGaussian().double()
    x = torch.tensor([[-2.0], [0.5], [3.0]], dtype=torch.float64)
    kept = gaps.optimise_posterior(model, x, steps=(1500, 1500), lrs=(3e-2, 3e-3), k=32,
                                   kept_at=(0, 1500))
    final = kept[3000]
    torch.testing.assert_close(final["mu"], x / 2, atol=0.05, rtol=0)
    torch.testing.assert_close(final["logvar"].exp(), torch.full_like(x, 0.5), atol=0.05,
                               rtol=0)
    assert torch.equal(kept[0]["mu"], torch.zeros_like(x))  # the encoder's start
    # with the exact posterior every log-weight is log p(x) = log N(x; 0, 2): the ELBO too
    log_px = -0.5 * x.view(-1) ** 2 / 2 - 0.5 * math.log(2 * math.pi * 2)
    best = gaps.elbo_of(model, x, final, 4000, torch.Generator().manual_seed(0))
    torch.testing.assert_close(best, log_px, atol=0.01, rtol=0)
    assert model.unused.requires_grad and model.unused.grad is None


def test_the_optimisation_raises_the_elbo_and_leaves_the_model_alone():
    torch.manual_seed(3)
    model = build_model({**SMALL, "flow": "iaf", "n_flows": 2}).double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = images(5).double()
    kept = gaps.optimise_posterior(model, x, steps=(60, 60), k=4)
    assert set(kept[120]) == {"mu", "logvar", "context"}

    def score(params):
        return gaps.elbo_of(model, x, params, 500, torch.Generator().manual_seed(9))

    with torch.no_grad():
        assert score(kept[120]).mean() > score(gaps.variational_parameters(model, x)).mean()
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.requires_grad for p in model.parameters())
