"""vae_lib: the small PyTorch library every chapter of the vae-book imports.

config       VAEConfig: one chapter run's settings; everything else derives from it
models       VAE, MLPVAE, ConvVAE, Autoencoder and build_model, the one model builder
objectives   gaussian_kl, likelihoods, elbo, log_weights, iwae_bound
data         load_dataset (mnist, fashion-mnist, frey, digits)
baselines    no-latent yardsticks with exact log-likelihoods: per-pixel Gaussian, PPCA
device       pick_device, model_device, torch_threads: where tensors live, how many threads
train        fit (any model with an objective), evaluate
runs         choose / is_quick (quick vs full), cached_model, cached_vae: the runs chapters share
checkpoint   save_checkpoint, load_checkpoint (atomic writes, weights only)
explore      latent maths: interpolation, grids, traversals, posterior means, active units
plots        figures (loads matplotlib)           derivation  sympy-checked steps (loads sympy)
display      HTML tables, inline GIFs, the static explorer    widgets  the live ipywidgets explorer
aevb         Kingma & Welling's Figure 2 experiment (`python -m vae_lib aevb`)
iwae         Burda et al.'s Table 1 recipe, one stochastic layer (`python -m vae_lib iwae`)
cli          `python -m vae_lib train | aevb | iwae`

`import vae_lib` loads torch only: each name below is imported from its module on first use, so
plotting, sympy and ipywidgets load when a chapter first needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "checkpoint": ["CheckpointError", "load_checkpoint", "save_checkpoint"],
    "config": ["VAEConfig"],
    "data": ["DataError", "ImageData", "load_dataset"],
    "derivation": ["DerivationError", "StepCheck", "assert_chain", "assert_step", "check_step",
                   "normal_expectation", "normal_pdf"],
    "device": ["model_device", "pick_device", "torch_threads"],
    "display": ["gif_html", "static_explorer_html", "table_html"],
    "explore": ["active_units", "axis_values", "interpolate", "latent_activity", "latent_grid",
                "latent_traversal", "lerp", "posterior_means", "slerp"],
    "models": ["MLPVAE", "Autoencoder", "ConvVAE", "DeepVAE", "build_model"],
    "objectives": ["ELBO", "bernoulli_log_likelihood", "elbo", "gaussian_kl",
                   "gaussian_log_likelihood", "iwae_bound", "log_weights"],
    "plots": ["image_grid", "plot_latent_means", "plot_losses", "plot_manifold",
              "plot_reconstructions"],
    "runs": ["TrainedVAE", "cached_model", "cached_vae", "choose", "committed_results", "is_quick",
             "train_vae"],
    "train": ["EpochRecord", "History", "evaluate", "fit"],
    "widgets": ["LatentExplorer"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
_SUBMODULES = {"aevb", "baselines", "checkpoint", "cli", "config", "data", "derivation", "device",
               "display", "explore", "iwae", "models", "objectives", "plots", "runs", "train",
               "widgets"}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """Import a name's module on first use (PEP 562) and remember the name."""
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'vae_lib' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
