"""The VQ-VAE and its code prior (book/19_vq_vae.ipynb), each piece against a reference it did
not compute: a brute-force nearest neighbour, the chain rule on a constructed case, the moving
averages written out code by code, and the prior's probabilities summed over every grid."""

import itertools
import math

import pytest
import torch

from vae_lib.models import MODEL_KINDS, build_model
from vae_lib.models.code_prior import CodePrior, codes_as_image, image_as_codes
from vae_lib.models.vq import (
    VQVAE,
    ema_update,
    kmeans,
    nearest_code,
    perplexity,
    straight_through,
    vq_loss,
)


def test_nearest_code_matches_a_brute_force_loop():
    g = torch.Generator().manual_seed(0)
    vectors, codebook = torch.randn(200, 5, generator=g), torch.randn(17, 5, generator=g)
    expected = []
    for v in vectors:
        best, best_d = None, math.inf
        for k, e in enumerate(codebook):
            d = sum((float(a) - float(b)) ** 2 for a, b in zip(v, e, strict=True))
            if d < best_d:
                best, best_d = k, d
        expected.append(best)
    assert nearest_code(vectors, codebook).tolist() == expected


def test_quantize_puts_each_grid_vector_on_its_nearest_code():
    torch.manual_seed(0)
    model = VQVAE(codebook_size=5, code_dim=3)
    z_e = torch.randn(2, 3, 7, 7)
    z_q, codes = model.quantize(z_e)
    for n, i, j in itertools.product(range(2), range(7), range(7)):
        dist = ((model.codebook.detach() - z_e[n, :, i, j]) ** 2).sum(1)
        assert codes[n, i, j] == dist.argmin()
        assert torch.equal(z_q[n, :, i, j], model.codebook.detach()[codes[n, i, j]])


def test_straight_through_passes_the_decoders_gradient_to_the_encoder_unchanged():
    # f(v) = sum(w * v^2): the gradient at v = z_q is 2 w z_q, which the encoder must receive
    z_e = torch.tensor([0.3, -1.2, 2.0], requires_grad=True)
    z_q = torch.tensor([0.5, -1.0, 1.5])
    w = torch.tensor([1.0, 2.0, -3.0])
    out = straight_through(z_e, z_q)
    assert torch.equal(out, z_q)  # forward: the codebook vector
    (w * out.pow(2)).sum().backward()
    assert torch.allclose(z_e.grad, 2 * w * z_q)  # backward: dL/dz_q, not dL/dz_e = 2 w z_e
    assert not torch.allclose(z_e.grad, 2 * w * z_e.detach())


def test_the_encoder_gets_the_reconstruction_gradient_through_the_quantiser():
    torch.manual_seed(0)
    model = VQVAE(codebook_size=8, code_dim=4, commitment=0.0)
    x = torch.rand(3, 1, 28, 28).bernoulli()
    (-model.terms(x).recon.sum()).backward()
    assert model.encoder[0].weight.grad.abs().sum() > 0  # through straight-through
    assert model.codebook.grad is None or model.codebook.grad.abs().sum() == 0


def test_ema_update_follows_its_formula_written_out_code_by_code():
    g = torch.Generator().manual_seed(1)
    k, d, decay = 4, 3, 0.9
    count, total = torch.rand(k, generator=g) + 0.5, torch.randn(k, d, generator=g)
    vectors = torch.randn(10, d, generator=g)
    assigned = torch.tensor([0, 1, 1, 3, 3, 3, 0, 1, 3, 3])  # code 2 gets nothing
    new_count, new_total, codebook = ema_update(count, total, assigned, vectors, decay)
    for i in range(k):
        mine = [v for v, a in zip(vectors, assigned.tolist(), strict=True) if a == i]
        n_i = len(mine)
        s_i = sum(mine, torch.zeros(d))
        want_n = decay * count[i] + (1 - decay) * n_i
        want_m = decay * total[i] + (1 - decay) * s_i
        assert torch.allclose(new_count[i], want_n)
        assert torch.allclose(new_total[i], want_m)
        assert torch.allclose(codebook[i], want_m / want_n)
    # an unused code keeps its vector when m / N started at it
    assert torch.allclose(codebook[2], total[2] / count[2])


def test_ema_training_moves_the_codebook_and_gradient_training_does_not_need_it():
    torch.manual_seed(0)
    model = VQVAE(codebook_size=8, code_dim=4, update="ema", decay=0.5)
    before = model.codebook.detach().clone()
    model.train()
    vq_loss(model, torch.rand(4, 1, 28, 28).bernoulli(), 0).backward()
    assert not torch.equal(before, model.codebook.detach())
    assert model.codebook.grad is None


def test_kmeans_steps_move_each_centre_to_the_mean_of_its_vectors():
    g = torch.Generator().manual_seed(2)
    points = torch.randn(60, 2, generator=g)
    start = points[torch.randperm(60, generator=torch.Generator().manual_seed(0))[:4]]
    centres = start.clone()
    for _ in range(3):  # Lloyd's algorithm by hand, vector by vector
        groups = {i: [] for i in range(4)}
        for v in points:
            groups[min(range(4), key=lambda i: float(((v - centres[i]) ** 2).sum()))].append(v)
        centres = torch.stack([torch.stack(groups[i]).mean(0) if groups[i] else centres[i]
                               for i in range(4)])
    found = kmeans(points, 4, 3, torch.Generator().manual_seed(0))
    assert torch.allclose(found, centres, atol=1e-6)


def test_perplexity_is_exp_entropy_of_code_frequencies():
    assert perplexity(torch.arange(8), 8) == pytest.approx(8.0)
    assert perplexity(torch.zeros(10, dtype=torch.long), 8) == pytest.approx(1.0)
    codes = torch.tensor([0, 0, 0, 1])
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert perplexity(codes, 5) == pytest.approx(math.exp(h))


def test_uniform_elbo_subtracts_grid_size_times_log_k():
    torch.manual_seed(0)
    model = VQVAE(codebook_size=16)
    x = torch.rand(2, 1, 28, 28).bernoulli()
    terms = model.objective(x)
    assert torch.allclose(terms.kl, torch.full((2,), 49 * math.log(16)))
    assert torch.allclose(terms.total, terms.recon - terms.kl)


def _tiny_prior(seed=0):
    torch.manual_seed(seed)
    prior = CodePrior(codebook_size=3, grid=(1, 3), hidden_dim=16)
    for p in prior.parameters():  # random, not the near-uniform start
        torch.nn.init.normal_(p, std=1.0)
    return prior


def test_code_prior_sums_to_one_over_every_grid():
    prior = _tiny_prior()
    grids = torch.tensor(list(itertools.product(range(3), repeat=3)))  # all 27
    with torch.no_grad():
        total = prior.log_prob(grids).double().exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-5)


def test_code_prior_is_causal():
    prior = CodePrior(codebook_size=3, grid=(2, 2), hidden_dim=12)
    onehot = torch.nn.functional.one_hot(torch.tensor([[2, 0, 1, 1]]), 3).float()
    onehot.requires_grad_(True)
    logits = prior.logits_of_onehot(onehot)
    for i in range(4):
        (grad,) = torch.autograd.grad(logits[0, i].sum(), onehot, retain_graph=True)
        assert grad[0, i:].abs().sum() == 0  # nothing from position i onwards
        if i > 0:
            assert grad[0, :i].abs().sum() > 0  # and something from before


def test_code_prior_samples_are_valid_grids():
    prior = _tiny_prior(2)
    grids = prior.sample(5, torch.Generator().manual_seed(0))
    assert grids.shape == (5, 1, 3) and 0 <= int(grids.min()) and int(grids.max()) < 3
    assert torch.allclose(prior.bits(grids), -prior.log_prob(grids) / math.log(2))


def test_codes_survive_the_trip_through_grey_levels():
    codes = torch.randint(64, (4, 7, 7), generator=torch.Generator().manual_seed(0))
    assert torch.equal(image_as_codes(codes_as_image(codes, 64), 64), codes)


@pytest.mark.parametrize("spec", [
    {"kind": "vq", "codebook_size": 12, "code_dim": 3, "update": "ema"},
    {"kind": "code_prior", "codebook_size": 5, "grid": [2, 3], "hidden_dim": 10},
])
def test_build_model_round_trip(spec):
    assert spec["kind"] in MODEL_KINDS
    torch.manual_seed(0)
    model = build_model(spec)
    again = build_model(model.spec)
    assert again.spec == model.spec
    again.load_state_dict(model.state_dict())
    x = torch.rand(2, 1, 28, 28).bernoulli() if spec["kind"] == "vq" else torch.zeros(2, 6).long()
    with torch.no_grad():
        first = model.objective(x).total if spec["kind"] == "vq" else model.log_prob(x)
        second = again.objective(x).total if spec["kind"] == "vq" else again.log_prob(x)
    assert torch.equal(first, second)


@pytest.mark.parametrize("make, call, message", [
    (lambda: VQVAE(), lambda m: m.codes(torch.rand(2, 1, 32, 32)), "expects images of shape"),
    (lambda: VQVAE(), lambda m: m.codes(255 * torch.rand(2, 1, 28, 28)), "divide by 255"),
    (lambda: VQVAE(), lambda m: m.decode_codes(torch.full((1, 7, 7), 64)), "codes must lie"),
    (lambda: VQVAE(update="average"), None, "update must be one of"),
    (lambda: VQVAE(image_shape=(1, 30, 30)), None, "divisible by 4"),
    (lambda: CodePrior(grid=(7, 7)), lambda m: m.log_prob(torch.zeros(2, 5, 5).long()),
     "grids of 7 x 7"),
    (lambda: CodePrior(codebook_size=4), lambda m: m.log_prob(torch.full((1, 49), 9)),
     "codes must lie"),
    (lambda: None, lambda m: nearest_code(torch.zeros(3, 2), torch.zeros(4, 5)), "nearest_code"),
])
def test_bad_input_is_one_line(make, call, message):
    with pytest.raises(ValueError, match=message) as err:
        model = make()
        call(model)
    assert "\n" not in str(err.value)
