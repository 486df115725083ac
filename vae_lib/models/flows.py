"""Richer posteriors: normalizing flows on top of the Gaussian encoder.

A flow pushes the encoder's sample z0 ~ N(mu, sigma^2) through K invertible steps z_k =
f_k(z_{k-1}). The change of variables keeps the density exact:

    log q(z_K | x) = log N(z0; mu, sigma^2) - sum_k log |det df_k / dz_{k-1}|

so the ELBO still needs only samples, and q can be far from Gaussian. Two steps whose
determinants are cheap: the planar flow (Rezende & Mohamed 2015) and the inverse
autoregressive flow (Kingma et al. 2016). Explained in book/16_flows.ipynb.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_beta, check_count
from ..device import model_device
from ..objectives import ELBO, MAX_SAMPLES, diagonal_normal_log_prob
from .made import MaskedLinear, made_masks
from .priors import PRIOR_KINDS, build_prior
from .vae import MLPVAE

FLOW_KINDS = ("planar", "iaf")
IAF_GATE_BIAS = 2.0  # sigmoid(2) = 0.88: each IAF step starts close to the identity


class PlanarFlow(nn.Module):
    """f(z) = z + u_hat tanh(w.z + b), one bend of the space along the direction w.

    The parameters are global, shared by every image (not amortised: Rezende & Mohamed let the
    encoder output u, w, b per image); the encoder's mu and sigma still make q depend on x.
    f is invertible when w.u_hat >= -1, so `u_hat` projects u onto that set, and the matrix
    determinant lemma gives det(I + u_hat psi^T) = 1 + psi.u_hat with psi = tanh'(w.z + b) w.
    Explained in book/16_flows.ipynb.
    """

    def __init__(self, dim: int):
        super().__init__()
        check_count("dim", dim)
        self.u = nn.Parameter(0.1 * torch.randn(dim))
        self.w = nn.Parameter(0.1 * torch.randn(dim))
        self.b = nn.Parameter(torch.zeros(()))

    def u_hat(self) -> Tensor:
        """u moved along w until w.u_hat = -1 + softplus(w.u) > -1: always invertible.

        Appendix A of Rezende & Mohamed (2015); explained in book/16_flows.ipynb.
        """
        wu = self.w @ self.u
        w_norm_sq = (self.w @ self.w).clamp_min(torch.finfo(self.w.dtype).tiny)  # w = 0: u_hat = u
        return self.u + (F.softplus(wu) - 1 - wu) * self.w / w_norm_sq

    def forward(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(f(z), log |det df/dz|) for z of shape (..., dim); context is ignored.

        With g = 1 + w.u_hat = softplus(w.u) (1 if w = 0) the determinant 1 + (1 - h^2)(g - 1)
        is written h^2 + (1 - h^2) g, a sum of terms >= 0: computing w.u_hat instead can round
        to just below -1 when w.u << 0, and then the log of a negative number is NaN.
        """
        h = torch.tanh(z @ self.w + self.b)
        wu, w_norm_sq = self.w @ self.u, self.w @ self.w
        g = torch.where(w_norm_sq > 0, F.softplus(wu), torch.ones_like(wu))
        log_det = torch.log(h.pow(2) + (1 - h.pow(2)) * g)
        return z + h.unsqueeze(-1) * self.u_hat(), log_det


class IAFStep(nn.Module):
    """One inverse autoregressive flow step: z' = sigma * z + (1 - sigma) * m, sigma = sigmoid(s).

    (m, s) come from a MADE over z (`MaskedLinear` and `made_masks`, as in `MADEVAE`),
    so m_i and s_i see only the z_j before i in this step's order, and optionally a context
    vector from the encoder. The Jacobian is then triangular with sigma on its diagonal, and
    log |det| = sum_i log sigma_i. `reverse=True` uses the order d, ..., 1: alternating it
    between steps lets every variable depend on every other. Explained in book/16_flows.ipynb.
    """

    def __init__(self, dim: int, hidden_dim: int, context_dim: int = 0, reverse: bool = False):
        super().__init__()
        if check_count("dim", dim) < 2:
            raise ValueError(f"IAFStep needs at least 2 latent dimensions, got {dim}")
        to_hidden, to_output, direct = made_masks(dim, hidden_dim)
        if reverse:  # the same masks with the variables numbered backwards
            to_hidden, to_output, direct = to_hidden.flip(1), to_output.flip(0), direct.flip(0, 1)
        self.reverse = reverse
        self.z_to_hidden = MaskedLinear(to_hidden)
        self.context_to_hidden = nn.Linear(context_dim, hidden_dim) if context_dim else None
        self.to_m = MaskedLinear(to_output)
        self.to_s = MaskedLinear(to_output)
        self.z_to_m = MaskedLinear(direct, bias=False)
        self.z_to_s = MaskedLinear(direct, bias=False)
        nn.init.constant_(self.to_s.bias, IAF_GATE_BIAS)

    def forward(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(z', sum_i log sigma_i) for z of shape (..., dim) and context (..., context_dim)."""
        pre = self.z_to_hidden(z)
        if self.context_to_hidden is not None:
            if context is None:
                raise ValueError("this IAFStep was built with a context; pass one")
            pre = pre + self.context_to_hidden(context)
        h = F.elu(pre)
        m = self.to_m(h) + self.z_to_m(z)
        s = self.to_s(h) + self.z_to_s(z)
        sigma = torch.sigmoid(s)
        return sigma * z + (1 - sigma) * m, F.logsigmoid(s).sum(dim=-1)


def build_flow(
    kind: str, n_steps: int, dim: int, hidden_dim: int = 0, context_dim: int = 0
) -> nn.ModuleList:
    """n_steps planar or IAF steps; IAF steps alternate their variable order (book/16_flows)."""
    if kind not in FLOW_KINDS:
        raise ValueError(f"flow must be one of {FLOW_KINDS}, got {kind!r}")
    check_count("n_flows", n_steps, low=0)
    if kind == "planar":
        return nn.ModuleList(PlanarFlow(dim) for _ in range(n_steps))
    return nn.ModuleList(
        IAFStep(dim, hidden_dim, context_dim, reverse=k % 2 == 1) for k in range(n_steps)
    )


def gaussian_posterior_sample(model: nn.Module, x: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """n draws z ~ q(z|x) = N(mu, sigma^2) per image and log q(z|x): shapes (n, b, d), (n, b).

    The noise is drawn exactly as `objectives.log_weights` draws it, so importance weights
    computed from this function match it draw for draw. Explained in book/16_flows.ipynb.
    """
    check_count("n", n, high=MAX_SAMPLES)
    mu, logvar = model.encode(x)
    eps = torch.randn((n, *mu.shape), device=mu.device, dtype=mu.dtype)
    z = mu + (0.5 * logvar).exp() * eps
    return z, diagonal_normal_log_prob(z, mu, logvar)


class FlowVAE(MLPVAE):
    """The MLP VAE with a flow posterior q(z_K|x) and a choice of prior p(z).

    flow, n_flows    'planar' or 'iaf' steps, K = n_flows of them (0: the Gaussian posterior)
    flow_hidden_dim  hidden units of each IAF step's MADE (IAF only); IAF steps also read the
                     encoder's hidden layer as context, as in Kingma et al. (2016)
    prior            'standard' N(0, I), 'mixture' or 'vamp' (`book/17_priors.ipynb`)
    n_components     mixture components or pseudo-inputs (mixture and vamp only)

    One class serves both chapters because both need the same change: the KL term is no
    longer KL(Gaussian || N(0, I)), which has a closed form, but log q(z_K|x) - log p(z_K) at
    the sampled z_K. Neither a flow posterior nor a mixture prior (KL between a Gaussian and a
    mixture has no closed form) allows anything else. With K = 0 and the standard prior this is
    the plain VAE with a sampled KL. Explained in book/16_flows.ipynb.
    """

    def __init__(
        self,
        latent_dim: int = 20,
        hidden_dim: int = 400,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        activation: str = "relu",
        likelihood: str = "bernoulli",
        flow: str = "planar",
        n_flows: int = 4,
        flow_hidden_dim: int = 200,
        prior: str = "standard",
        n_components: int = 10,
    ):
        super().__init__(latent_dim, hidden_dim, image_shape, activation, likelihood)
        check_count("flow_hidden_dim", flow_hidden_dim)
        if prior not in PRIOR_KINDS:
            raise ValueError(f"prior must be one of {PRIOR_KINDS}, got {prior!r}")
        check_count("n_components", n_components)
        self.spec: dict[str, Any] = {
            **self.spec,
            "kind": "flow",
            "flow": flow,
            "n_flows": n_flows,
            "flow_hidden_dim": flow_hidden_dim,
            "prior": prior,
            "n_components": n_components,
        }
        self.flow = build_flow(flow, n_flows, latent_dim, flow_hidden_dim, hidden_dim)
        self.prior = build_prior(
            prior, latent_dim, n_components, self.image_shape, self._encode_features
        )

    def _encode_with_context(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        h = self.encoder(self._check_images(x))
        return self.to_mu(h), self.to_logvar(h), h

    def _push(self, z0: Tensor, mu: Tensor, logvar: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        z, log_q = z0, diagonal_normal_log_prob(z0, mu, logvar)
        for step in self.flow:
            z, log_det = step(z, h)
            log_q = log_q - log_det
        return z, log_q

    def flow_from(self, x: Tensor, z0: Tensor) -> tuple[Tensor, Tensor]:
        """(z_K, log q(z_K|x)) for base points z0 of shape (..., batch, latent) of images x.

        Any z0 will do, not only samples: a grid of them draws the density q(z_K|x) of the
        flow posterior, as book/16_flows.ipynb does.
        """
        mu, logvar, h = self._encode_with_context(x)
        return self._push(z0, mu, logvar, h)

    def posterior_sample(self, x: Tensor, n: int) -> tuple[Tensor, Tensor]:
        """n draws z_K ~ q(z_K|x) per image and log q: shapes (n, batch, latent), (n, batch).

        log p(x, z) - log q are then the importance weights of this posterior
        (`objectives.posterior_log_weights`). The noise is drawn as `gaussian_posterior_sample`
        draws it.
        """
        check_count("n", n, high=MAX_SAMPLES)
        mu, logvar, h = self._encode_with_context(x)
        eps = torch.randn((n, *mu.shape), device=mu.device, dtype=mu.dtype)
        return self._push(mu + (0.5 * logvar).exp() * eps, mu, logvar, h)

    def objective(
        self, x: Tensor, beta: float = 1.0, generator: torch.Generator | None = None
    ) -> ELBO:
        """One-sample ELBO: recon = log p(x|z_K), kl = log q(z_K|x) - log p(z_K) (sampled).

        Without a generator the noise is `reparameterize`'s, so with K = 0 recon is the same
        number `objectives.elbo` gives for the same seed; a CPU `generator` fixes it, as in
        `elbo`. Explained in book/16_flows.ipynb.
        """
        beta = check_beta(beta)
        mu, logvar, h = self._encode_with_context(x)
        if generator is None:
            z0 = self.reparameterize(mu, logvar)
        else:
            eps = torch.randn(mu.shape, generator=generator).to(mu.device, mu.dtype)
            z0 = mu + torch.exp(0.5 * logvar) * eps
        z, log_q = self._push(z0, mu, logvar, h)
        recon = self.log_likelihood(x, z)
        kl = log_q - self.prior.log_prob(z)
        return ELBO(recon - beta * kl, recon, kl)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruct x through one flowed code z_K: (mean image, mu, logvar) of the base q0."""
        mu, logvar, h = self._encode_with_context(x)
        z, _ = self._push(self.reparameterize(mu, logvar), mu, logvar, h)
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Decode n codes drawn from the model's prior (book/17_priors.ipynb)."""
        return self.decode(self.prior.sample(n, generator).to(model_device(self)))
