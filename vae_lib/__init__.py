"""vae_lib: the small PyTorch library every chapter of the vae-book imports.

objectives  gaussian_kl, bernoulli/gaussian log-likelihoods, elbo, iwae_bound
models      MLPVAE, ConvVAE, Autoencoder, build_model
data        load_dataset (mnist, fashion-mnist, frey, digits)
train       fit, evaluate, fit_autoencoder
derivation  sympy-checked derivation steps (assert_step, normal_expectation)
checkpoint  save_checkpoint, load_checkpoint (atomic writes)
plots       image grids, loss curves, reconstructions, manifolds, latent scatter
settings    quick (tests) vs full (book) settings, cached trained models
explore     interpolation (lerp, slerp), traversals, active units, inline GIFs
recipes     train_vae / cached_vae: the runs the experiment chapters share
widgets     latent explorers, live (ipywidgets) and static (HTML); import vae_lib.widgets
aevb        Kingma & Welling's experiments (Figure 2 curves, `python -m vae_lib aevb`);
            import vae_lib.aevb
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import DataError, ImageData, load_dataset
from .derivation import (
    DerivationError,
    StepCheck,
    assert_chain,
    assert_step,
    check_step,
    normal_expectation,
    normal_pdf,
)
from .device import pick_device
from .explore import (
    active_units,
    gif_bytes,
    gif_html,
    interpolate,
    latent_activity,
    latent_traversal,
    lerp,
    posterior_means,
    slerp,
)
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
from .recipes import TrainedVAE, cached_vae, train_vae
from .settings import cached_model, choose, is_quick
from .train import EpochRecord, History, evaluate, fit, fit_autoencoder

__all__ = [
    "ELBO",
    "TrainedVAE",
    "Autoencoder",
    "CheckpointError",
    "ConvVAE",
    "DataError",
    "DerivationError",
    "EpochRecord",
    "History",
    "ImageData",
    "MLPVAE",
    "StepCheck",
    "assert_chain",
    "assert_step",
    "check_step",
    "fit_autoencoder",
    "normal_expectation",
    "normal_pdf",
    "bernoulli_log_likelihood",
    "active_units",
    "build_model",
    "cached_model",
    "cached_vae",
    "choose",
    "elbo",
    "evaluate",
    "fit",
    "gaussian_kl",
    "gaussian_log_likelihood",
    "gif_bytes",
    "gif_html",
    "image_grid",
    "interpolate",
    "is_quick",
    "iwae_bound",
    "latent_activity",
    "latent_grid",
    "latent_traversal",
    "lerp",
    "load_checkpoint",
    "load_dataset",
    "pick_device",
    "plot_latent_means",
    "plot_losses",
    "plot_manifold",
    "plot_reconstructions",
    "posterior_means",
    "save_checkpoint",
    "slerp",
    "train_vae",
]
