"""vae_lib: the small PyTorch library every chapter of the vae-book imports.

objectives  gaussian_kl, bernoulli/gaussian log-likelihoods, elbo, iwae_bound
models      MLPVAE, ConvVAE, Autoencoder, build_model
data        load_dataset (mnist, fashion-mnist, frey, digits)
train       fit, evaluate
checkpoint  save_checkpoint, load_checkpoint (atomic writes)
plots       image grids, loss curves, reconstructions, manifolds, latent scatter
settings    quick (tests) vs full (book) settings, cached trained models
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import DataError, ImageData, load_dataset
from .device import pick_device
from .models import MLPVAE, Autoencoder, ConvVAE, build_model
from .objectives import (
    ELBO,
    bernoulli_log_likelihood,
    elbo,
    gaussian_kl,
    gaussian_log_likelihood,
    iwae_bound,
)
from .plots import (
    image_grid,
    latent_grid,
    plot_latent_means,
    plot_losses,
    plot_manifold,
    plot_reconstructions,
)
from .settings import cached_model, choose, is_quick
from .train import EpochRecord, History, evaluate, fit

__all__ = [
    "ELBO",
    "Autoencoder",
    "CheckpointError",
    "ConvVAE",
    "DataError",
    "EpochRecord",
    "History",
    "ImageData",
    "MLPVAE",
    "bernoulli_log_likelihood",
    "build_model",
    "cached_model",
    "choose",
    "elbo",
    "evaluate",
    "fit",
    "gaussian_kl",
    "gaussian_log_likelihood",
    "image_grid",
    "is_quick",
    "iwae_bound",
    "latent_grid",
    "load_checkpoint",
    "load_dataset",
    "pick_device",
    "plot_latent_means",
    "plot_losses",
    "plot_manifold",
    "plot_reconstructions",
    "save_checkpoint",
]
