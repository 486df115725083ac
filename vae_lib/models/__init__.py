"""The book's models and the one function that builds them from a spec.

vae          VAE (the shared interface), MLPVAE, ConvVAE
autoencoder  Autoencoder, the deterministic foil of chapter 2
likelihood   LikelihoodVAE: the MLP VAE with another decoder distribution (chapter 14)
made         MADEVAE: an autoregressive decoder strong enough to ignore z (chapter 15)
deep         DeepVAE, several hidden layers (Burda et al.'s 784-200-200-50, chapter 13)
hierarchy    TwoLayerVAE, two stochastic layers (Burda et al.'s 100 and 50 units, chapter 18)
flows        FlowVAE: planar or IAF flow posteriors, and the priors of `priors` (chapters 16-17)
vq           VQVAE: a grid of discrete codes, the nearest of K codebook vectors (chapter 19)
code_prior   CodePrior: an autoregressive prior over a VQVAE's grid of codes (chapter 19)
conditional  LabelCVAE: encoder and decoder given the digit's label (chapter 20)
quadrants    QuadrantCVAE and QuadrantBaseline: complete a digit from one quadrant (chapter 20)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .autoencoder import Autoencoder
from .code_prior import CodePrior
from .conditional import LabelCVAE
from .deep import DeepVAE
from .flows import FlowVAE
from .hierarchy import TwoLayerVAE
from .likelihood import LikelihoodVAE
from .made import MADEVAE
from .quadrants import QuadrantBaseline, QuadrantCVAE
from .vae import MLPVAE, VAE, ConvVAE
from .vq import VQVAE

__all__ = ["VAE", "MLPVAE", "ConvVAE", "DeepVAE", "Autoencoder", "LikelihoodVAE", "MADEVAE",
           "FlowVAE", "TwoLayerVAE", "LabelCVAE", "QuadrantCVAE", "QuadrantBaseline", "VQVAE",
           "CodePrior", "MODEL_KINDS", "build_model", "check_model_size"]

MODEL_KINDS = {"mlp": MLPVAE, "conv": ConvVAE, "deep": DeepVAE, "autoencoder": Autoencoder,
               "likelihood_mlp": LikelihoodVAE, "made": MADEVAE,
               "two_layer": TwoLayerVAE, "flow": FlowVAE, "vq": VQVAE, "code_prior": CodePrior,
               "cvae": LabelCVAE, "quadrant_cvae": QuadrantCVAE,
               "quadrant_baseline": QuadrantBaseline}


def build_model(spec: dict[str, Any]) -> nn.Module:
    """The one place models are built: from a spec dict such as checkpoints store.

    `VAEConfig.model_spec` and the paper's `AEVBConfig.model_spec` produce the spec; the model's
    `spec` attribute gives it back (a spec says what to build; a config, such as `VAEConfig`,
    says how to train it). So a checkpoint rebuilds its model without pickled code, and
    `book/17_priors.ipynb` builds its three priors' models from specs.
    """
    config = dict(spec)
    kind = config.pop("kind", None)
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {sorted(MODEL_KINDS)}")
    if "image_shape" in config:
        config["image_shape"] = tuple(config["image_shape"])
    return MODEL_KINDS[kind](**config)


MAX_PARAMETERS = 10**8  # 400 MB of weights, about 1.6 GB with Adam's moments and gradients


def check_model_size(spec: dict[str, Any]) -> int:
    """The number of parameters `spec` builds, counted on the meta device (nothing allocated);
    a ValueError in one line above MAX_PARAMETERS, before a typo of a size fills the memory."""
    with torch.device("meta"):
        count = sum(p.numel() for p in build_model(spec).parameters())
    if count > MAX_PARAMETERS:
        raise ValueError(f"this model has {count:,} parameters, more than {MAX_PARAMETERS:,}"
                         " (about 1.6 GB to train): use fewer latent or hidden units")
    return count
