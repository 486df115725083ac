"""The continuous Bernoulli log-likelihood against torch.distributions and integration."""

import math

import pytest
import torch
from torch.distributions import ContinuousBernoulli

from vae_lib.objectives import (
    continuous_bernoulli_log_likelihood,
    continuous_bernoulli_log_normalizer,
)


@pytest.mark.parametrize("scale", [0.3, 3.0, 10.0])
def test_log_likelihood_matches_torch_continuous_bernoulli(scale):
    # torch clamps probabilities to 1 - 2e-16, so compare where the logits are within +-20
    logits = (torch.randn(5, 1, 28, 28) * scale).clamp(-20, 20).double()
    x = torch.rand(5, 1, 28, 28).double()
    x[0, 0, 0, :3] = torch.tensor([0.0, 1.0, 0.5])
    expected = ContinuousBernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(continuous_bernoulli_log_likelihood(logits, x), expected)


def test_normalizer_integrates_the_bernoulli_formula_to_one():
    lam = torch.tensor([0.02, 0.3, 0.5, 0.7, 0.97], dtype=torch.float64)
    grid = torch.linspace(0, 1, 200_001, dtype=torch.float64)
    integral = torch.trapezoid(lam[:, None] ** grid * (1 - lam[:, None]) ** (1 - grid), grid)
    log_c = continuous_bernoulli_log_normalizer(torch.logit(lam))
    torch.testing.assert_close(log_c, -integral.log(), rtol=1e-7, atol=1e-7)


def test_normalizer_near_half_is_smooth_and_has_finite_gradients():
    logits = torch.tensor([-2e-3, -1e-3, -1e-6, 0.0, 1e-6, 1e-3, 2e-3], requires_grad=True)
    value = continuous_bernoulli_log_normalizer(logits)
    value.sum().backward()
    assert torch.isfinite(logits.grad).all()
    # log C(l) = log 2 + l^2 / 12 + O(l^4), from the series 2 + l^2/6 - l^4/360
    expected = math.log(2) + logits.detach().pow(2) / 12
    torch.testing.assert_close(value.detach(), expected, rtol=0, atol=1e-7)


def test_normalizer_grows_like_log_abs_logit():
    logits = torch.tensor([-80.0, 80.0])
    torch.testing.assert_close(continuous_bernoulli_log_normalizer(logits), logits.abs().log())


def test_bad_arguments_raise_one_line_errors():
    with pytest.raises(ValueError, match="shapes differ"):
        continuous_bernoulli_log_likelihood(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"pixels must lie in \[0, 1\]"):
        continuous_bernoulli_log_likelihood(torch.zeros(1, 2), torch.tensor([[0.5, 1.5]]))
    with pytest.raises(ValueError, match="small must be > 0"):
        continuous_bernoulli_log_normalizer(torch.zeros(3), small=0.0)
