"""The conditional models of chapter 20, each against a computation it did not make itself.

The ELBOs against torch.distributions, the importance-sampled conditional log-likelihoods
against a brute-force integral over a 1-d code, the quadrant masks against a count of pixels.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal, kl_divergence

import vae_lib
from vae_lib.models import LabelCVAE, QuadrantBaseline, QuadrantCVAE
from vae_lib.models.conditional import with_labels
from vae_lib.models.quadrants import QUADRANTS, quadrant_masks


def _scaled(model, factor=3.0, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(factor)
    return model.eval()


def _binary(n, pixels=784, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, 1, 28, 28) if pixels == 784 else (n, pixels), 0.3),
                           generator=g)


# -- the label-conditioned VAE ---------------------------------------------------------------


def test_label_cvae_elbo_matches_torch_distributions():
    torch.manual_seed(0)
    model = LabelCVAE(latent_dim=3, hidden_dim=16).eval()
    x, y = _binary(5), torch.tensor([0, 3, 9, 3, 1])
    torch.manual_seed(7)
    terms = model.objective(with_labels(x, y))
    # the same computation written out: one-hot, networks, one draw, distributions
    hot = F.one_hot(y, 10).float()
    h = model.encoder(torch.cat([x.flatten(1), hot], 1))
    mu, logvar = model.to_mu(h), model.to_logvar(h)
    torch.manual_seed(7)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    logits = model.to_pixels(model.decoder(torch.cat([z, hot], 1)))
    recon = Bernoulli(logits=logits).log_prob(x.flatten(1)).sum(1)
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros(3), torch.ones(3))
    kl = kl_divergence(q, p).sum(1)
    torch.testing.assert_close(terms.recon, recon)
    torch.testing.assert_close(terms.kl, kl)
    torch.testing.assert_close(terms.total, recon - kl)


def test_the_label_conditions_the_decoder_and_the_encoder():
    model = _scaled(LabelCVAE(latent_dim=2, hidden_dim=16))
    z = torch.randn(4, 2)
    with torch.no_grad():
        images = torch.stack([model.decode(z, c) for c in range(10)])
        assert all((images[a] - images[b]).abs().max() > 1e-3
                   for a in range(10) for b in range(a))
        x = _binary(4)
        mu3, _ = model.encode(x, 3)
        mu5, _ = model.encode(x, torch.full((4,), 5))
        assert (mu3 - mu5).abs().max() > 1e-3
        # an int label is the same as a tensor of it
        torch.testing.assert_close(model.decode(z, 7), model.decode(z, torch.full((4,), 7)))


def test_with_labels_survives_binarization_and_splits_back():
    images = torch.rand(6, 1, 28, 28)
    labels = torch.tensor([4, 0, 9, 2, 2, 7])
    rows = with_labels(images, labels)
    assert rows.shape == (6, 794)
    x, y = LabelCVAE().split(torch.bernoulli(rows))
    assert torch.equal(y, labels) and x.shape == (6, 1, 28, 28)


def test_label_log_weights_estimate_the_integral():
    """L_K over many draws against log p(x | y) by quadrature over a 1-d code."""
    model = _scaled(LabelCVAE(latent_dim=1, hidden_dim=8, image_shape=(1, 3, 3)), 1.5)
    x = torch.bernoulli(torch.full((3, 1, 3, 3), 0.5), generator=torch.Generator().manual_seed(1))
    y = torch.tensor([2, 5, 8])
    grid = torch.linspace(-9, 9, 20001)
    exact = []
    with torch.no_grad():
        for i in range(3):
            log_px = model.log_likelihood(x[i].expand(len(grid), 1, 3, 3), grid[:, None],
                                          int(y[i]))
            log_joint = log_px + Normal(0.0, 1.0).log_prob(grid)
            exact.append(torch.logsumexp(log_joint, 0) + math.log(grid[1] - grid[0]))
    torch.manual_seed(3)
    w = model.log_weights(x, y, 20000).double()
    estimate = torch.logsumexp(w, 0) - math.log(len(w))
    torch.testing.assert_close(estimate.float(), torch.stack(exact), atol=0.02, rtol=0)
    assert bool((w.mean(0) < estimate).all())  # the ELBO lies below L_K


def test_label_cvae_refuses_bad_input_in_one_line():
    model = LabelCVAE(latent_dim=2, hidden_dim=8)
    x = torch.zeros(3, 1, 28, 28)
    cases = [
        lambda: model.encode(x, torch.tensor([0, 1, 10])),  # out of range
        lambda: model.encode(x, torch.tensor([0, -1, 1])),
        lambda: model.encode(x, torch.tensor([0, 1])),  # one label short
        lambda: model.encode(x, torch.tensor([0.5, 1, 2])),  # not whole
        lambda: model.encode(torch.zeros(3, 27, 28), 1),  # wrong image size
        lambda: model.decode(torch.zeros(3, 3), 1),  # wrong latent size
        lambda: model.split(torch.zeros(3, 784)),  # rows without their labels
        lambda: with_labels(x, torch.tensor([1, 2, 3, 4])),
        lambda: vae_lib.build_model({"kind": "cvae", "n_labels": 1}),
    ]
    for case in cases:
        with pytest.raises(ValueError) as err:
            case()
        assert "\n" not in str(err.value)


def test_label_cvae_is_built_from_its_spec_and_trains():
    model = vae_lib.build_model({"kind": "cvae", "latent_dim": 2, "hidden_dim": 32})
    assert isinstance(model, LabelCVAE)
    again = vae_lib.build_model(model.spec)
    again.load_state_dict(model.state_dict())
    rows = with_labels(torch.rand(256, 1, 28, 28), torch.arange(256) % 10)
    history = vae_lib.fit(model, rows, rows[:64], epochs=2, binarize=True, quiet=True)
    assert history[1].train_loss < history[0].train_loss


# -- the quadrants ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(28, 28), (5, 7), (2, 2)])
def test_quadrant_masks_partition_the_image(size):
    masks = quadrant_masks(*size)
    assert set(masks) == set(QUADRANTS)
    cover = sum(m.long() for m in masks.values())
    assert torch.equal(cover, torch.ones(size, dtype=torch.long))  # every pixel exactly once
    h, w = size
    assert masks["top_left"].sum() == (h // 2) * (w // 2)
    assert masks["top_left"][0, 0] and masks["bottom_right"][-1, -1]
    assert masks["top_right"][0, -1] and masks["bottom_left"][-1, 0]


def test_cut_and_paste_give_the_image_back():
    for observed in QUADRANTS:
        model = QuadrantBaseline(hidden_dim=8, observed=observed)
        x = torch.rand(3, 1, 28, 28)
        c, t = model.cut(x)
        assert c.shape == (3, 196) and t.shape == (3, 588)
        assert torch.equal(model.paste(c, t), x)
        mask = quadrant_masks()[observed]
        assert torch.equal(c, x[:, 0][:, mask])  # the observed pixels, in reading order


def test_quadrant_cvae_elbo_matches_torch_distributions():
    torch.manual_seed(0)
    model = QuadrantCVAE(latent_dim=4, hidden_dim=16).eval()
    x = _binary(5)
    torch.manual_seed(3)
    terms = model.objective(x)
    flat = x.flatten(1)
    mask = quadrant_masks()["bottom_left"].flatten()
    c, t = flat[:, mask], flat[:, ~mask]
    mu, logvar = model.recognition(flat).chunk(2, -1)
    mu_p, logvar_p = model.prior_net(c).chunk(2, -1)
    torch.manual_seed(3)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    logits = model.generation(torch.cat([c, z], 1))
    recon = Bernoulli(logits=logits).log_prob(t).sum(1)
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()),
                       Normal(mu_p, (0.5 * logvar_p).exp())).sum(1)
    torch.testing.assert_close(terms.recon, recon)
    torch.testing.assert_close(terms.kl, kl)
    torch.testing.assert_close(terms.total, recon - kl)


def test_quadrant_importance_sampling_matches_a_brute_force_integral():
    """log p(t | c) = log integral p(t | c, z) p(z | c) dz, on a grid of a 1-d code."""
    model = _scaled(QuadrantCVAE(latent_dim=1, hidden_dim=8, image_shape=(1, 4, 4)), 1.5)
    x = torch.bernoulli(torch.full((4, 1, 4, 4), 0.5), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        c, t = model.cut(x)
        mu_p, logvar_p = model.prior(c)
        exact = []
        for i in range(4):
            sd = (0.5 * logvar_p[i, 0]).exp()
            grid = torch.linspace(-10, 10, 20001) * sd + mu_p[i, 0]
            logits = model.target_logits(c[i : i + 1], grid[:, None])
            log_pt = Bernoulli(logits=logits).log_prob(t[i]).sum(-1)
            log_prior = Normal(mu_p[i, 0], sd).log_prob(grid)
            exact.append(torch.logsumexp(log_pt + log_prior, 0) + math.log(grid[1] - grid[0]))
    torch.manual_seed(4)
    w = model.log_weights(x, 20000).double()
    estimate = torch.logsumexp(w, 0) - math.log(len(w))
    torch.testing.assert_close(estimate.float(), torch.stack(exact), atol=0.02, rtol=0)
    assert bool((w.mean(0) < estimate).all())  # the ELBO lies below the estimate
    # too few draws are biased low on average (Jensen): L_2 under L_20000 for every image
    l2 = (torch.logsumexp(w.reshape(-1, 2, 4), 1) - math.log(2)).mean(0)
    assert bool((l2 < estimate).all())


def test_baseline_log_likelihood_is_exact():
    torch.manual_seed(0)
    model = QuadrantBaseline(hidden_dim=16, observed="top_right").eval()
    x = _binary(4)
    mask = quadrant_masks()["top_right"].flatten()
    c, t = x.flatten(1)[:, mask], x.flatten(1)[:, ~mask]
    expected = Bernoulli(logits=model.net(c)).log_prob(t).sum(1)
    torch.testing.assert_close(model.log_likelihood(x), expected)
    terms = model.objective(x)
    assert torch.equal(terms.kl, torch.zeros(4))
    done = model.complete(x)
    assert torch.equal(done.flatten(1)[:, mask], c)  # the observed quadrant is kept as it is


def test_completions_keep_the_observed_quadrant_and_vary():
    model = _scaled(QuadrantCVAE(latent_dim=3, hidden_dim=16), 2.0)
    x = _binary(2)
    done = model.complete(x, n=5, generator=torch.Generator().manual_seed(0))
    assert done.shape == (5, 2, 1, 28, 28)
    mask = quadrant_masks()["bottom_left"]
    assert torch.equal(done[:, :, 0][:, :, mask], x[:, 0][:, mask].expand(5, 2, -1))
    assert (done[0] - done[1]).abs().max() > 1e-3  # different z, different completions


def test_quadrant_models_refuse_bad_input_in_one_line():
    cases = [
        lambda: QuadrantCVAE(observed="middle"),
        lambda: QuadrantBaseline(image_shape=(3, 28, 28)),
        lambda: QuadrantCVAE(latent_dim=2, hidden_dim=8).objective(torch.zeros(2, 1, 28, 27)),
        lambda: QuadrantBaseline(hidden_dim=8).log_likelihood(torch.full((2, 784), 2.0)),
        lambda: QuadrantCVAE(latent_dim=2, hidden_dim=8).log_weights(torch.zeros(2, 784), 0),
        lambda: quadrant_masks(1, 28),
    ]
    for case in cases:
        with pytest.raises(ValueError) as err:
            case()
        assert "\n" not in str(err.value)


def test_quadrant_models_come_from_build_model():
    for kind, cls in (("quadrant_cvae", QuadrantCVAE), ("quadrant_baseline", QuadrantBaseline)):
        model = vae_lib.build_model({"kind": kind, "hidden_dim": 16})
        assert isinstance(model, cls) and model.spec["kind"] == kind
        again = vae_lib.build_model(model.spec)
        again.load_state_dict(model.state_dict())
        x = torch.rand(2, 1, 28, 28)
        torch.manual_seed(0)
        a = model.objective(x).recon
        torch.manual_seed(0)
        torch.testing.assert_close(a, again.objective(x).recon)
