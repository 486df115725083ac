"""One MLP VAE, four choices of p(x | z) for grey-valued pixels.

`LikelihoodVAE` is `MLPVAE` with the likelihood as a setting: a Bernoulli on grey values (the
classic example), the continuous Bernoulli, a Gaussian with a fixed sigma ("MSE"), or a
Gaussian whose single, shared sigma is learned. It exists for
`book/14_loss_scale_and_likelihood.ipynb`, which trains one of each and compares them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, distributions

from ..objectives import (
    bernoulli_log_likelihood,
    continuous_bernoulli_log_likelihood,
    gaussian_log_likelihood,
)
from .vae import MLPVAE

PIXEL_LIKELIHOODS = ("bernoulli", "continuous_bernoulli", "gaussian")


def continuous_bernoulli_mean(logits: Tensor, small: float = 1e-2) -> Tensor:
    """E[x] of a continuous Bernoulli with logits l: 1 / (1 - e^(-l)) - 1 / l.

    It is not lambda = sigmoid(l): the mean is pulled toward 1/2 (at lambda = 0.9 it is about
    0.72). Near l = 0 the two terms cancel, so there we use the series 1/2 + l/12 - l^3/720.
    It is what `LikelihoodVAE.decode` returns for the continuous Bernoulli.
    """
    if not small > 0:
        raise ValueError(f"continuous_bernoulli_mean: small must be > 0, got {small}")
    near = logits.abs() < small
    safe = torch.where(near, torch.ones_like(logits), logits)
    far_value = -1 / torch.expm1(-safe) - 1 / safe
    near_value = 0.5 + logits / 12 - logits.pow(3) / 720
    return torch.where(near, near_value, far_value)


class LikelihoodVAE(MLPVAE):
    """A 784-H-J MLP VAE whose decoder distribution p(x | z) is chosen at construction.

    likelihood  'bernoulli', 'continuous_bernoulli' or 'gaussian'
    sigma       for 'gaussian' only: a fixed standard deviation, or None to learn one sigma
                shared by all pixels. The learned sigma follows its maximum-likelihood value
                in closed form (Rybkin et al. 2021): on each training minibatch sigma^2 is the
                mean squared error per pixel, and a running average of it is the sigma used
                in evaluation mode.

    The decoder network outputs logits l; lambda = sigmoid(l) is the Bernoulli parameter or the
    Gaussian mean. `decode(z)` returns the mean E[x | z] of p(x | z) (for the continuous
    Bernoulli that is not lambda) and `sample_pixels(z)` draws x ~ p(x | z).
    Explained in book/14_loss_scale_and_likelihood.ipynb.
    """

    def __init__(
        self,
        likelihood: str = "bernoulli",
        sigma: float | None = None,
        latent_dim: int = 20,
        hidden_dim: int = 400,
        momentum: float = 0.05,
    ):
        if likelihood not in PIXEL_LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {PIXEL_LIKELIHOODS}, got {likelihood!r}")
        if likelihood != "gaussian" and sigma is not None:
            raise ValueError(f"sigma is only for the gaussian likelihood, got sigma={sigma}")
        if sigma is not None and not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        if not 0 < momentum <= 1:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        super().__init__(latent_dim=latent_dim, hidden_dim=hidden_dim)
        self.likelihood = likelihood
        self.fixed_sigma = sigma
        self.momentum = momentum
        self.register_buffer("running_sigma", torch.tensor(float("nan")))  # set by the 1st batch
        self.spec = {
            "kind": "likelihood_mlp",
            "likelihood": likelihood,
            "sigma": sigma,
            "latent_dim": latent_dim,
            "hidden_dim": hidden_dim,
        }

    @property
    def learns_sigma(self) -> bool:
        return self.likelihood == "gaussian" and self.fixed_sigma is None

    @property
    def sigma(self) -> float:
        """The Gaussian decoder's standard deviation now (fixed, or the running estimate)."""
        if self.likelihood != "gaussian":
            raise ValueError(f"a {self.likelihood} decoder has no sigma")
        if self.fixed_sigma is not None:
            return self.fixed_sigma
        if torch.isnan(self.running_sigma):
            raise ValueError("the learned sigma is set by training: train the model first")
        return float(self.running_sigma)

    def _logits(self, z: Tensor) -> Tensor:
        return self._decode_output(self._check_latent(z))

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x | z) per example, in nats, for the likelihood this model was built with."""
        x = self._check_images(x)
        logits = self._logits(z)
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(logits, x)
        if self.likelihood == "continuous_bernoulli":
            return continuous_bernoulli_log_likelihood(logits, x)
        mean = torch.sigmoid(logits)
        if not self.learns_sigma:
            return gaussian_log_likelihood(mean, x, self.fixed_sigma)
        if self.training:
            mse = (x - mean).detach().pow(2).mean().clamp_min(1e-6)
            with torch.no_grad():
                old, new = self.running_sigma, mse.sqrt()
                fresh = torch.isnan(old)
                self.running_sigma.copy_(new if fresh else old + self.momentum * (new - old))
            logvar = mse.log()
        else:
            logvar = torch.tensor(2 * math.log(self.sigma), device=x.device)
        return gaussian_log_likelihood(mean, x, logvar.expand_as(mean))

    def pixel_distribution(self, z: Tensor) -> distributions.Distribution:
        """p(x | z) as a torch distribution over images (for sampling and its mean)."""
        logits = self._logits(z)
        if self.likelihood == "bernoulli":
            return distributions.Bernoulli(logits=logits)
        if self.likelihood == "continuous_bernoulli":
            return distributions.ContinuousBernoulli(logits=logits)
        return distributions.Normal(torch.sigmoid(logits), self.sigma)

    def decode(self, z: Tensor) -> Tensor:
        """E[x | z]: the mean image of p(x | z), what the book usually plots."""
        if self.likelihood == "continuous_bernoulli":
            return continuous_bernoulli_mean(self._logits(z))
        return torch.sigmoid(self._logits(z))

    @torch.no_grad()
    def sample_pixels(self, z: Tensor) -> Tensor:
        """One draw x ~ p(x | z) per code: the mean plus the decoder's own pixel noise."""
        return self.pixel_distribution(z).sample()
