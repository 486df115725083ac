"""The MADE decoder is autoregressive: output i never depends on pixels i, i+1, ..."""

import pytest
import torch
from torch.distributions import Bernoulli

from vae_lib.models.made import MADEVAE, made_masks


def test_masks_make_each_output_depend_only_on_earlier_pixels():
    to_hidden, to_output, direct = made_masks(pixels=6, hidden_dim=9)
    reach = (to_output @ to_hidden + direct) > 0  # output i reaches input j
    assert torch.equal(reach, torch.ones(6, 6).tril(-1).bool())


def test_jacobian_of_logits_is_strictly_lower_triangular():
    torch.manual_seed(0)
    model = MADEVAE(latent_dim=2, hidden_dim=8, decoder_hidden=30, image_shape=(1, 3, 4))
    z = torch.randn(1, 2)
    x = torch.rand(1, 1, 3, 4)
    jac = torch.autograd.functional.jacobian(lambda v: model.logits(v.view(1, 1, 3, 4), z), x)
    jac = jac.reshape(12, 12)
    assert (jac.triu() == 0).all()
    assert (jac.tril(-1).abs() > 0).any()


def test_log_likelihood_matches_the_chain_rule_with_torch_bernoulli():
    torch.manual_seed(0)
    model = MADEVAE(latent_dim=2, hidden_dim=8, decoder_hidden=20, image_shape=(1, 2, 3))
    x, z = torch.bernoulli(torch.full((5, 1, 2, 3), 0.5)), torch.randn(5, 2)
    total = torch.zeros(5)
    for i in range(6):  # p(x_i | x_<i, z): the logits from a copy with the later pixels zeroed
        prefix = x.flatten(1).clone()
        prefix[:, i:] = 0
        logit = model.logits(prefix.view(5, 1, 2, 3), z).flatten(1)[:, i]
        total += Bernoulli(logits=logit).log_prob(x.flatten(1)[:, i])
    torch.testing.assert_close(model.log_likelihood(x, z), total)


def test_decode_draws_binary_paths_and_returns_probabilities():
    torch.manual_seed(0)
    model = MADEVAE(latent_dim=2, hidden_dim=8, decoder_hidden=20, image_shape=(1, 2, 3))
    probs = model.decode(torch.randn(4, 2), generator=torch.Generator().manual_seed(0))
    assert probs.shape == (4, 1, 2, 3)
    assert ((probs > 0) & (probs < 1)).all()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="at least 2 pixels"):
        made_masks(1, 4)
    with pytest.raises(ValueError, match="hidden_dim must be >= 1"):
        made_masks(4, 0)
