"""Warm-up, free bits and sum-vs-mean losses against hand-written closed forms."""

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

import vae_lib
from vae_lib.losses import (
    free_bits_loss,
    implicit_beta,
    kl_per_unit,
    mean_kl_per_unit,
    reduced_loss,
    warmup_loss,
)
from vae_lib.schedules import linear_warmup


def test_linear_warmup_values():
    assert [linear_warmup(s, 4) for s in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert linear_warmup(1, 2, start=0.2) == pytest.approx(0.6)
    assert linear_warmup(0, 0) == 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(step=-1, warmup_steps=3), "step must be >= 0"),
        (dict(step=0, warmup_steps=-3), "warmup_steps must be >= 0"),
        (dict(step=0, warmup_steps=3, start=2.0), "start <= end"),
    ],
)
def test_linear_warmup_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        linear_warmup(**kwargs)


def test_kl_per_unit_matches_torch_distributions():
    mu, logvar = torch.randn(4, 6), torch.randn(4, 6)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    torch.testing.assert_close(kl_per_unit(mu, logvar), expected)
    with pytest.raises(ValueError, match="share a"):
        kl_per_unit(torch.zeros(2, 3), torch.zeros(2, 4))


def _model():
    torch.manual_seed(1)
    return vae_lib.MLPVAE(latent_dim=5, hidden_dim=16)


def _pytorch_example_loss(model, x):
    """The classic example's buggy loss, written out: BCE averaged over pixels (and batch),
    KL summed over latent units and averaged over the batch."""
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    bce = F.binary_cross_entropy(model.decode(z), x, reduction="mean")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
    return bce + kld


def test_mean_sum_reduction_is_the_pytorch_example_loss():
    model, x = _model(), torch.rand(8, 1, 28, 28)
    torch.manual_seed(2)
    expected = _pytorch_example_loss(model, x)
    torch.manual_seed(2)
    got = reduced_loss("mean", "sum")(model, x, 0)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("recon, kl", [("sum", "sum"), ("mean", "sum"), ("mean", "mean")])
def test_reduction_is_a_scaled_beta_elbo_with_the_implicit_beta(recon, kl):
    model, x = _model(), torch.rand(8, 1, 28, 28)
    beta = implicit_beta(recon, kl, pixels=784, latent_dim=5)
    torch.manual_seed(3)
    got = reduced_loss(recon, kl)(model, x, 0)
    torch.manual_seed(3)
    terms = vae_lib.elbo(model, x, beta=beta)
    scale = 784 if recon == "mean" else 1
    torch.testing.assert_close(got, -terms.total.mean() / scale, rtol=1e-5, atol=1e-5)
    assert implicit_beta("mean", "sum", 784, 20) == 784
    assert implicit_beta("mean", "mean", 784, 20) == pytest.approx(39.2)


def test_reduction_rejects_unknown_names():
    with pytest.raises(ValueError, match="recon must be one of"):
        reduced_loss("average", "sum")
    with pytest.raises(ValueError, match="kl must be one of"):
        implicit_beta("sum", "max", 784, 20)


def test_warmup_loss_weights_the_kl_by_the_schedule():
    model, x = _model(), torch.rand(6, 1, 28, 28)
    for step, beta in [(0, 0.0), (5, 0.5), (10, 1.0), (50, 1.0)]:
        torch.manual_seed(4)
        got = warmup_loss(10)(model, x, step)
        torch.manual_seed(4)
        expected = -vae_lib.elbo(model, x, beta=beta).total.mean()
        torch.testing.assert_close(got, expected)


def test_free_bits_charges_at_least_lambda_per_unit():
    model, x = _model(), torch.rand(6, 1, 28, 28)
    mu, logvar = model.encode(x)
    per_unit = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean(0)
    for lam in (0.0, 0.05, 100.0):
        torch.manual_seed(5)
        got = free_bits_loss(lam)(model, x, 0)
        torch.manual_seed(5)
        recon = vae_lib.elbo(model, x).recon.mean()
        expected = -recon + torch.maximum(per_unit, torch.tensor(lam)).sum()
        torch.testing.assert_close(got, expected)
    with pytest.raises(ValueError, match="nats_per_unit must be a finite number >= 0"):
        free_bits_loss(-1.0)


def test_free_bits_gives_no_gradient_to_units_below_the_floor():
    model, x = _model(), torch.rand(6, 1, 28, 28)
    torch.manual_seed(6)
    free_bits_loss(1e6)(model, x, 0).backward()  # every unit under the floor
    with_floor = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    torch.manual_seed(6)
    (-vae_lib.elbo(model, x).recon.mean()).backward()  # reconstruction alone
    for got, expected in zip(with_floor, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(got, expected)


def test_fit_calls_loss_fn_with_global_steps():
    steps = []

    def loss_fn(model, x, step):
        steps.append(step)
        return -vae_lib.elbo(model, x).total.mean()

    x = torch.rand(10, 1, 28, 28)
    vae_lib.fit(_model(), x, x, epochs=2, batch_size=4, quiet=True, loss_fn=loss_fn)
    assert steps == list(range(6))


def test_mean_kl_per_unit_sums_to_the_evaluated_kl():
    model, x = _model(), torch.rand(30, 1, 28, 28)
    per_unit = mean_kl_per_unit(model, x, batch_size=7)
    assert per_unit.shape == (5,)
    torch.testing.assert_close(per_unit.sum().item(), vae_lib.evaluate(model, x)["kl"], rtol=1e-5,
                               atol=1e-5)
