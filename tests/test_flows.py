"""Flow posteriors: log-determinants against autograd Jacobians, densities against quadrature,
importance weights against `log_weights`, and the sympy checks of chapter 16."""

import math
from functools import partial

import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from scipy import integrate
from torch.autograd.functional import jacobian

from vae_lib import derivation
from vae_lib.models import MLPVAE, build_model
from vae_lib.models.flows import (
    FlowVAE,
    IAFStep,
    PlanarFlow,
    build_flow,
    gaussian_posterior_sample,
)
from vae_lib.objectives import (
    diagonal_normal_log_prob,
    elbo,
    gaussian_kl,
    log_weights,
    standard_normal_log_prob,
)

SMALL = {"latent_dim": 3, "hidden_dim": 12, "image_shape": (1, 3, 3), "flow_hidden_dim": 10}


def images(n=4, seed=0):
    return torch.rand(n, 1, 3, 3, generator=torch.Generator().manual_seed(seed))


def spread(module, std=0.7):
    """Parameters far from their near-identity start, so the maps bend for real."""
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, std)
    return module


def logabsdet_of(fn, points):
    return torch.stack([torch.linalg.slogdet(jacobian(fn, p)).logabsdet for p in points])


def test_planar_log_det_matches_the_autograd_jacobian():
    flow = spread(PlanarFlow(3).double(), std=1.5)
    points = 2 * torch.randn(6, 3, dtype=torch.float64)
    _, log_det = flow(points)
    expected = logabsdet_of(lambda v: flow(v)[0], points)
    torch.testing.assert_close(log_det, expected, atol=1e-8, rtol=0)


@pytest.mark.parametrize("reverse", [False, True])
def test_iaf_step_log_det_and_triangular_jacobian(reverse):
    step = spread(IAFStep(4, hidden_dim=16, context_dim=3, reverse=reverse).double())
    context = torch.randn(3, dtype=torch.float64)
    for z in torch.randn(5, 4, dtype=torch.float64):
        jac = jacobian(lambda v: step(v, context)[0], z)
        zero, full = (jac.triu(1), jac.tril(-1)) if not reverse else (jac.tril(-1), jac.triu(1))
        assert (zero == 0).all()  # output i never sees z_j after i in this step's order
        below = torch.ones(4, 4, dtype=torch.bool).tril(-1)
        assert (full[below if not reverse else below.T] != 0).all()  # and sees every earlier one
        assert (jac.diagonal() > 0).all() and (jac.diagonal() < 1).all()  # sigma in (0, 1)
        log_det = step(z, context)[1]
        torch.testing.assert_close(log_det, jac.diagonal().log().sum(), atol=1e-8, rtol=0)


@pytest.mark.parametrize("kind", ["planar", "iaf"])
def test_a_stack_of_steps_adds_its_log_dets(kind):
    steps = spread(build_flow(kind, 3, dim=3, hidden_dim=8, context_dim=2).double())
    context = torch.randn(2, dtype=torch.float64)

    def push(z):
        total = torch.zeros(z.shape[:-1], dtype=z.dtype)
        for step in steps:
            z, log_det = step(z, context)
            total = total + log_det
        return z, total

    points = torch.randn(5, 3, dtype=torch.float64)
    expected = logabsdet_of(lambda v: push(v)[0], points)
    torch.testing.assert_close(push(points)[1], expected, atol=1e-8, rtol=0)
    if kind == "iaf":  # alternating orders: the composite Jacobian is no longer triangular
        jac = jacobian(lambda v: push(v)[0], points[0])
        assert (jac.triu(1) != 0).any() and (jac.tril(-1) != 0).any()


@pytest.mark.parametrize("scale", [1.0, 10.0, 1e3, 1e-4])
@torch.no_grad()
def test_u_hat_keeps_the_planar_flow_invertible_for_adversarial_u(scale):
    flow = PlanarFlow(2).double()
    w = torch.tensor([scale, -0.5 * scale], dtype=torch.float64)
    flow.w.copy_(w)
    flow.u.copy_(-3 * w / (w @ w))  # w.u = -3: the raw u would fold the space over at h = 0
    flow.b.zero_()
    assert float(w @ flow.u) < -1
    assert float(w @ flow.u_hat()) >= -1
    z = torch.zeros(1, 2, dtype=torch.float64)  # tanh' = 1 here, the worst point
    assert torch.isfinite(flow(z)[1]).all()
    along = torch.linspace(-5, 5, 2001, dtype=torch.float64)[:, None] * w / (w @ w)
    projected = flow(along)[0] @ w  # f restricted to the line along w
    assert (projected.diff() > 0).all()  # strictly increasing, so one-to-one


@torch.no_grad()
def test_u_hat_meets_the_condition_for_random_extreme_parameters():
    flow = PlanarFlow(3).double()
    for _ in range(300):
        flow.u.copy_(torch.randn(3, dtype=torch.float64) * 10 ** (6 * torch.rand(()) - 3))
        flow.w.copy_(torch.randn(3, dtype=torch.float64) * 10 ** (6 * torch.rand(()) - 3))
        u_hat = flow.u_hat()
        round_off = 1e-14 * float(flow.w.norm() * u_hat.norm())
        assert float(flow.w @ u_hat) >= -1 - round_off  # never below -1 but for round-off
        assert torch.isfinite(flow(torch.randn(4, 3, dtype=torch.float64))[1]).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@torch.no_grad()
def test_planar_log_det_stays_finite_at_the_edge_of_invertibility(dtype):
    flow = PlanarFlow(2).to(dtype)
    w = torch.tensor([3.0, 4.0], dtype=dtype)
    flow.w.copy_(w)
    flow.u.copy_(-40 * w / (w @ w))  # w.u = -40: w.u_hat = -1 + softplus(-40), a hair above -1
    flow.b.zero_()
    z = torch.tensor([[0.0, 0.0], [0.8, -0.6]], dtype=dtype)  # w.z = 0 (tanh' = 1), twice
    log_det = flow(z)[1]
    assert torch.isfinite(log_det).all()
    expected = F.softplus(torch.tensor(-40.0, dtype=torch.float64)).log()  # log(1 + w.u_hat)
    torch.testing.assert_close(log_det.double(), expected.expand(2), rtol=1e-5, atol=0)


def test_with_no_steps_log_q_is_the_gaussian_density():
    model = FlowVAE(**SMALL, n_flows=0)
    x = images()
    z, log_q = model.posterior_sample(x, 5)
    mu, logvar = model.encode(x)
    normal = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    torch.testing.assert_close(log_q, normal.log_prob(z).sum(-1))


def _mapped_areas(corners):
    """Areas of the quadrilaterals a map makes of a grid's cells (diagonals' cross product)."""
    d1 = corners[1:, 1:] - corners[:-1, :-1]
    d2 = corners[:-1, 1:] - corners[1:, :-1]
    return 0.5 * (d1[..., 0] * d2[..., 1] - d1[..., 1] * d2[..., 0]).abs()


@pytest.mark.parametrize("kind", ["planar", "iaf"])
@torch.no_grad()
def test_the_flow_posterior_integrates_to_one_over_a_grid(kind):
    model = FlowVAE(**{**SMALL, "latent_dim": 2}, flow=kind, n_flows=2).double()
    spread(model.flow, std=1.0)
    x = images(1).double()
    mu, logvar = model.encode(x)
    sigma = (0.5 * logvar).exp()[0]
    edges = torch.linspace(-8, 8, 801, dtype=torch.float64)  # error ~ 3e-4, O(h^2)
    corners = torch.stack(torch.meshgrid(edges, edges, indexing="ij"), dim=-1) * sigma + mu[0]
    centres = (corners[1:, 1:] + corners[:-1, :-1]) / 2
    mapped_corners = model.flow_from(x, corners.view(-1, 1, 2))[0].view(corners.shape)
    mapped_centres, log_q = model.flow_from(x, centres.reshape(-1, 1, 2))
    areas = _mapped_areas(mapped_corners).flatten()
    assert float((log_q.flatten().exp() * areas).sum()) == pytest.approx(1.0, abs=1e-3)
    base_only = diagonal_normal_log_prob(centres.reshape(-1, 2), mu, logvar).exp()
    assert abs(float((base_only * areas).sum()) - 1.0) > 0.05  # the Jacobian term matters here
    assert mapped_centres.shape == (800 * 800, 1, 2)


@pytest.mark.parametrize("kind", ["planar", "iaf"])
@pytest.mark.parametrize("prior", ["standard", "mixture", "vamp"])
def test_objective_is_finite_and_reaches_every_parameter(kind, prior):
    model = FlowVAE(**SMALL, flow=kind, n_flows=2, prior=prior, n_components=3)
    x = images(6)
    terms = model.objective(x, beta=0.5)
    assert terms.total.shape == terms.recon.shape == terms.kl.shape == (6,)
    assert all(torch.isfinite(t).all() for t in terms)
    torch.testing.assert_close(terms.total, terms.recon - 0.5 * terms.kl)
    (-terms.total.mean()).backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not silent


def test_gaussian_posterior_sample_reproduces_log_weights():
    model = MLPVAE(latent_dim=3, hidden_dim=12, image_shape=(1, 3, 3))
    flow_model = FlowVAE(**SMALL, n_flows=0)
    flow_model.load_state_dict(model.state_dict())  # K = 0, N(0, I): the same weights
    x = images(5)
    torch.manual_seed(7)
    expected = log_weights(model, x, 9)
    for sampler in (partial(gaussian_posterior_sample, model), flow_model.posterior_sample):
        torch.manual_seed(7)
        z, log_q = sampler(x, 9)
        assert z.shape == (9, 5, 3) and log_q.shape == (9, 5)
        x_rep = x.unsqueeze(0).expand(9, *x.shape).reshape(45, *x.shape[1:])
        log_px_z = model.log_likelihood(x_rep, z.reshape(45, 3)).view(9, 5)
        assert torch.equal(log_px_z + standard_normal_log_prob(z) - log_q, expected)


def test_with_no_steps_recon_is_the_elbo_recon_for_the_same_seed():
    model = FlowVAE(**SMALL, n_flows=0)
    x = images()
    torch.manual_seed(3)
    ours = model.objective(x)
    torch.manual_seed(3)
    reference = elbo(model, x)
    assert torch.equal(ours.recon, reference.recon)
    assert not torch.equal(ours.kl, reference.kl)  # sampled, not the closed form
    seeded = [model.objective(x, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert torch.equal(seeded[0].total, seeded[1].total)
    reference = elbo(model, x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(seeded[0].recon, reference.recon)


def test_the_sampled_kl_averages_to_the_closed_form():
    model = FlowVAE(**SMALL, n_flows=0)
    with torch.no_grad():
        model.to_logvar.bias.fill_(-1.0)
        model.to_mu.bias.copy_(torch.tensor([0.8, -0.4, 0.2]))
    x, draws = images(3), 20000
    with torch.no_grad():
        kl = model.objective(x.repeat(draws, 1, 1, 1)).kl.view(draws, 3)
        closed = gaussian_kl(*model.encode(x))
    se = kl.std(dim=0) / math.sqrt(draws)
    assert ((kl.mean(dim=0) - closed).abs() < 4 * se).all()
    assert (se < 0.05 * closed).all()  # precise enough to tell a wrong mean


@pytest.mark.parametrize(
    "kind, prior", [("planar", "vamp"), ("iaf", "mixture"), ("iaf", "standard")]
)
def test_build_model_round_trip_gives_the_same_outputs(kind, prior):
    model = FlowVAE(**SMALL, flow=kind, n_flows=3, prior=prior, n_components=4)
    spread(model.flow)
    clone = build_model(model.spec)
    assert type(clone) is FlowVAE and clone.spec == model.spec
    clone.load_state_dict(model.state_dict())
    x = images()
    outputs = []
    for m in (model, clone):
        torch.manual_seed(11)
        outputs.append((*m.objective(x), *m.posterior_sample(x, 4), m.sample(3)))
    for a, b in zip(*outputs, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"flow": "radial"}, "flow must be one of"),
        ({"n_flows": -1}, "n_flows must be"),
        ({"prior": "laplace"}, "prior must be one of"),
        ({"flow": "iaf", "latent_dim": 1}, "at least 2 latent dimensions"),
        ({"n_components": 0}, "n_components must be >= 1"),
    ],
)
def test_bad_settings_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FlowVAE(**{**SMALL, **kwargs})


def test_determinant_lemma_holds_and_a_wrong_version_does_not():
    assert derivation.determinant_lemma_check(2).holds
    assert derivation.determinant_lemma_check(3).holds
    u, psi = sp.Matrix(sp.symbols("a1:4")), sp.Matrix(sp.symbols("c1:4"))
    assert not derivation.check_step((sp.eye(3) + u * psi.T).det(), 1 + (psi.T * u)[0] ** 2).holds


def test_sympy_planar_jacobian_agrees_with_the_planar_flow():
    check, det = derivation.planar_jacobian_check(2)
    assert check.holds
    flow = spread(PlanarFlow(2).double(), std=1.2)
    z = torch.tensor([0.3, -0.8], dtype=torch.float64)
    u_hat, w, b = (t.detach() for t in (flow.u_hat(), flow.w, flow.b))
    values = {"z1": z[0], "z2": z[1], "u1": u_hat[0], "u2": u_hat[1], "w1": w[0], "w2": w[1]}
    values["b"] = b
    numeric = float(det.subs({sp.Symbol(k, real=True): float(v) for k, v in values.items()}))
    assert math.log(abs(numeric)) == pytest.approx(float(flow(z)[1].detach()), abs=1e-10)


def test_the_change_of_variables_gives_a_density_and_dropping_the_jacobian_does_not():
    check, density, mass = derivation.tanh_flow_density_check()
    assert check.holds and mass == 1
    numeric = sp.lambdify(
        sp.Symbol("t", real=True),
        density.subs({sp.Symbol("a", positive=True): 1.7, sp.Symbol("b", real=True): 0.4}),
    )
    assert integrate.quad(numeric, -1, 1, limit=200)[0] == pytest.approx(1.0, abs=1e-8)
    wrong, _, _ = derivation.tanh_flow_density_check(with_jacobian=False)
    assert not wrong.holds
