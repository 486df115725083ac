"""The wake-sleep algorithm (Hinton et al. 1995), Kingma & Welling's Figure 2 baseline.

Same model as AEVB: the decoder is the generative model p(z) p(x|z), the encoder the
recognition model q(z|x). The wake phase trains the generative model on codes drawn from the
recognition model for real data; the sleep phase trains the recognition model on "fantasies"
(z, x) drawn from the generative model. The wake step is a one-sample gradient of the ELBO
with respect to the decoder's parameters θ (log p(x|z) at z ~ q(z|x)); the sleep step is not
a gradient of the ELBO with respect to φ: it minimises KL(p(z|x) ‖ q(z|x)) averaged over
fantasies, the KL in the other direction. Explained in `book/12_aevb.ipynb`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..objectives import diagonal_normal_log_prob

RECOGNITION = ("encoder", "to_mu", "to_logvar")  # q(z|x); everything else is p(x|z)


def recognition_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The encoder's parameters: those of q(z|x), the only ones the sleep phase trains."""
    return [p for name, p in model.named_parameters() if name.split(".")[0] in RECOGNITION]


def generative_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The decoder's parameters: those of p(x|z), the only ones the wake phase trains."""
    return [p for name, p in model.named_parameters() if name.split(".")[0] not in RECOGNITION]


@torch.no_grad()
def dream(model: nn.Module, n: int, fantasies: str = "binary") -> tuple[Tensor, Tensor]:
    """n fantasies (z, x): z from the prior N(0, I), x from p(x|z), Bernoulli or Gaussian.

    The sleep phase's training data: q(z|x) learns the model's posterior p(z|x) from them, which
    needs x drawn from p(x|z). A Bernoulli decoder's draws are binary images, unlike the grey
    MNIST images the wake phase sees; its means (`fantasies="means"`) look like the data but
    carry no noise, so z is a function of x, q's variance collapses and the bound falls (the side
    run kept in experiments/aevb/figure2-sleep-means/). A Gaussian decoder's fantasies are always
    draws.
    """
    z = torch.randn(n, model.latent_dim)
    mean = model.decode(z)
    if model.likelihood == "bernoulli":
        return z, mean if fantasies == "means" else torch.bernoulli(mean)
    std = (0.5 * model._decode_logvar(z)).exp()  # the Gaussian decoder's per-pixel variance
    return z, mean + std * torch.randn_like(mean)


class WakeSleep:
    """One Adagrad per phase, with the same step size and weight decay as AEVB (`AEVBStep`), so
    the two curves of a panel differ in the method only.

    `step(x)` does a wake update on the minibatch x and a sleep update on as many fantasies,
    and returns minus the wake objective (the generative model's loss), as a tensor: the
    training loop checks it once per evaluation point, not at every step.
    """

    def __init__(self, model: nn.Module, lr: float, weight_decay: float,
                 fantasies: str = "binary"):
        self.model, self.fantasies = model, fantasies
        self.wake = torch.optim.Adagrad(generative_parameters(model), lr=lr,
                                        weight_decay=weight_decay)
        self.sleep = torch.optim.Adagrad(recognition_parameters(model), lr=lr,
                                         weight_decay=weight_decay)

    def step(self, x: Tensor) -> Tensor:
        """A wake update on x, then a sleep update on x.shape[0] fantasies."""
        model = self.model
        with torch.no_grad():
            mu, logvar = model.encode(x)
            z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        wake_loss = -model.log_likelihood(x, z).mean()  # log p(z) has no parameters
        _update(self.wake, wake_loss)
        z, fantasies = dream(model, x.shape[0], self.fantasies)
        mu, logvar = model.encode(fantasies)
        _update(self.sleep, -diagonal_normal_log_prob(z, mu, logvar).mean())
        return wake_loss.detach()

    def state_dict(self) -> dict[str, Any]:
        """Both optimizers' states, for the resumable checkpoint: Adagrad's sums are state."""
        return {"wake": self.wake.state_dict(), "sleep": self.sleep.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore both optimizers from `state_dict()`, to resume a curve bit for bit."""
        self.wake.load_state_dict(state["wake"])
        self.sleep.load_state_dict(state["sleep"])


class AEVBStep:
    """The AEVB update: Adagrad on minus the one-sample ELBO of the minibatch, behind the same
    `step` / `state_dict` interface as `WakeSleep`, so one loop trains either."""

    def __init__(self, model: nn.Module, lr: float, weight_decay: float):
        from ..objectives import elbo

        self.model, self.elbo = model, elbo
        self.opt = torch.optim.Adagrad(model.parameters(), lr=lr, weight_decay=weight_decay)

    def step(self, x: Tensor) -> Tensor:
        """One update on the minibatch x; returns the loss, not read back (no wait per step)."""
        loss = -self.elbo(self.model, x).total.mean()
        _update(self.opt, loss)
        return loss.detach()

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state, for the resumable checkpoint: Adagrad's sums are state."""
        return self.opt.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the optimizer from `state_dict()`, to resume a curve bit for bit."""
        self.opt.load_state_dict(state)


def _update(opt: torch.optim.Optimizer, loss: Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()

